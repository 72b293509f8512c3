// Evacuation (转移, issue 17) on the live page: threatened / evacuated / checked in per village and per
// shelter, over capacity flagged. Read every few seconds while a warning is watched (the live status page's
// stream carries reach; these counts change at the pace of visitors and shelter keepers).
"use strict";

const EVAC_POLL_MS = 5000;

async function paintEvacuation() {
  const box = $("#evacuation");
  if (!state.live || $("#live").hidden) return;
  let s;
  try { s = await api("GET", `/api/v1/warnings/${state.live.id}/evacuation`); } catch (e) { return; }
  box.hidden = !s.threatened_households;
  text($("#evac-totals"), `受威胁 threatened ${s.threatened_households} 户 / ${s.threatened_persons} 人 · ` +
    `已转移 evacuated ${s.evacuated_persons} 人 (投亲靠友 relatives ${s.to_relatives_persons}) · ` +
    `入住 checked in ${s.checked_in} · 拒绝 refused ${s.refused} · 求助 needs help ${s.needs_help} · ` +
    `外出 away ${s.away} · 未记录 unrecorded ${s.unrecorded}`);
  $("#evac-villages").replaceChildren(...s.villages.map((v) => el("li", { "data-village": v.code },
    `${v.code}: ${v.evacuated_persons + v.to_relatives_persons}/${v.threatened_persons} 人 · 入住 ${v.checked_in}`)));
  $("#evac-shelters").replaceChildren(...s.shelters.map((x) => el("li",
    { "data-shelter": x.shelter_id, class: x.over_capacity ? "over" : "" },
    `${x.name}: 入住 ${x.checked_in}/${x.capacity} · 分配 assigned ${x.assigned_persons}` +
    (x.over_capacity ? " · 超员 OVER CAPACITY" : ""))));
}

document.addEventListener("DOMContentLoaded", () => setInterval(paintEvacuation, EVAC_POLL_MS));
