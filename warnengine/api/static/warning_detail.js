// A warning opened from the list: its area on the map, its full text, the reach preview, its revision —
// what an approver approves (approve and release act on exactly this revision).
"use strict";

// Every village a code covers: a county (6 digits or …000000), a township (…000), a village, a group (14–15).
function coveredBy(code, village) {
  if (code.length >= 14) return village === code.slice(0, 12);
  const c = code.length === 6 ? code + "000000" : code;
  for (const n of [2, 4, 6, 9, 12]) if (/^0*$/.test(c.slice(n))) return village.startsWith(c.slice(0, n));
  return village === c;
}

function showWarning(w) {
  const c = w.content, sm = w.summary || {};
  $("#warning-detail").hidden = false;
  text($("#detail-headline"), `${c.headline} · ${w.warning_id}`);
  text($("#detail-meta"), `${sm.kind || ""} · ${sm.hazard_zh || `${w.hazard}/${w.severity}`} · ${c.event || ""}` +
    ` · ${w.created_by} · ${sm.created_local || ""} · ${w.state}`);
  text($("#detail-reach"), `范围 Area: ${sm.area || "—"}` + (sm.households == null ? "" :
    ` · 预计 ${sm.villages} 村 villages · ${sm.households} 户 households · ${sm.people} 人 people`));
  text($("#detail-description"), c.description || "—");
  text($("#detail-instruction"), c.instruction || "—");
  text($("#detail-revision"), String(w.revision));
  const svg = $("#detail-map");
  const paths = drawGrid(svg);
  const codes = (c.areas || []).flatMap((a) => a.codes || []);
  for (const [village, p] of Object.entries(paths)) {
    if (codes.some((code) => coveredBy(code, village))) p.classList.add("selected");
  }
  const proj = state.view;
  for (const a of c.areas || []) {
    for (const ring of a.polygons || []) {
      const shape = document.createElementNS(SVG, "path");
      shape.setAttribute("d", pathOf({ type: "Polygon", coordinates: [ring] }, proj));
      shape.setAttribute("class", "drawn");
      svg.append(shape);
    }
  }
  $("#warning-detail").scrollIntoView();
}
