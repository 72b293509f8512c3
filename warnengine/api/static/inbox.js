// The field-report inbox (灾情报送 / 求助, issue 17): open reports on top by deadline, live from Server-Sent
// Events like the live status page; take (认领) once, then close as handled (处置) or forwarded (转报).
"use strict";

const inbox = { source: null };
const KINDS = { needs_help: "求助 needs help", refused: "拒绝转移 refused", whereabouts_unknown: "下落不明 whereabouts unknown",
  disaster: "灾情 disaster", reply: "群众回复 reply", other: "其他 other" };
const STATES = { open: "待认领 open", taken: "已认领 taken", handled: "已处置 handled", forwarded: "已转报 forwarded" };

function localTime(t) {
  return new Date(t * 1000).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
}

function watchInbox() {
  if (inbox.source) return;
  const src = new EventSource("/api/v1/field-reports/events");
  inbox.source = src;
  src.addEventListener("inbox", (ev) => paintInbox(JSON.parse(ev.data)));
  src.onerror = () => text($("#inbox-state"), "重连中 reconnecting…");
}

async function act(report, path, body) {
  try {
    await api("POST", `/api/v1/field-reports/${report.report_id}/${path}`, body);
    text($("#inbox-state"), "");
  } catch (e) { text($("#inbox-state"), e.message); }
}

function actions(r) {
  const td = el("td");
  if (r.state === "open") {
    const b = el("button", { type: "button", class: "act-take" }, "认领 Take");
    b.addEventListener("click", () => act(r, "take"));
    td.append(b);
  } else if (r.state === "taken") {
    const note = el("input", { class: "close-note", maxlength: "1000", placeholder: "处置情况 / 转报给谁 note" });
    const handled = el("button", { type: "button", class: "act-handled" }, "已处置 Handled");
    const fwd = el("button", { type: "button", class: "act-forward" }, "转报 Forward");
    handled.addEventListener("click", () => act(r, "close", { outcome: "handled", note: note.value || null }));
    fwd.addEventListener("click", () => act(r, "close", { outcome: "forwarded", note: note.value }));
    td.append(note, handled, fwd);
  } else {
    td.append(`${r.closed_by || ""} ${r.outcome_note || ""}`);
  }
  return td;
}

function paintInbox(list) {
  text($("#inbox-open"), String(list.open));
  text($("#inbox-overdue"), String(list.overdue));
  $("#tab-inbox").textContent = list.open ? `灾情 Inbox (${list.open})` : "灾情 Inbox";
  const body = $("#inbox-table tbody");
  body.replaceChildren(...list.reports.map((r) => {
    const where = [r.village_code, r.household_id].filter(Boolean).join(" · ");
    const photos = r.photos.map((sha, i) => el("a", { href: `/api/v1/field-reports/photos/${sha}`, target: "_blank" }, ` 照片${i + 1}`));
    const due = r.state === "open" ? `时限 due ${localTime(r.due_at)}` : `${r.taken_by || ""} ${r.taken_at ? localTime(r.taken_at) : ""}`;
    return el("tr", { "data-report": r.report_id, class: "report-" + r.state + (r.overdue ? " overdue" : "") },
      el("td", {}, STATES[r.state] || r.state, r.overdue ? el("div", { class: "overdue-flag" }, `超时 overdue · 叫应 ${r.calls}`) : ""),
      el("td", {}, KINDS[r.kind] || r.kind, el("div", { class: "area" }, `${r.source} · ${localTime(r.created_at)}`)),
      el("td", {}, r.text, ...photos, el("div", { class: "area" }, where)),
      el("td", {}, due), actions(r));
  }));
}

document.addEventListener("DOMContentLoaded", () => {
  $("#tab-inbox").addEventListener("click", watchInbox);
});
