// warnengine dispatcher console: plain JS, no libraries, nothing loaded from the internet.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const SVG = "http://www.w3.org/2000/svg";
const state = { me: null, csrf: null, grid: null, selected: new Set(), townships: new Set(), polygons: [],
  drawing: null, live: null, source: null, view: null };

// -- the API ----------------------------------------------------------------------------------------------
async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
  const r = await fetch(path, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body) });
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) {
    const e = (data && data.error) || { code: "http_" + r.status, message: r.statusText };
    const err = new Error(e.message + (e.field ? " [" + e.field + "]" : ""));
    err.code = e.code; err.status = r.status; throw err;
  }
  return data;
}

function text(el, s) { el.textContent = s; }
function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) (k === "class" ? (e.className = v) : e.setAttribute(k, v));
  for (const k of kids) e.append(k);
  return e;
}

// -- log in / out -------------------------------------------------------------------------------------------
async function start() {
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    text($("#login-error"), "");
    try {
      const me = await api("POST", "/api/v1/login", { username: $("#username").value, password: $("#password").value });
      await enter(me);
    } catch (e) { text($("#login-error"), e.message); }
  });
  $("#change-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    text($("#change-error"), "");
    if ($("#new-password").value !== $("#new-password2").value) return text($("#change-error"), "两次输入的新密码不同 The new passwords differ");
    try {
      await enter(await api("POST", "/api/v1/me/password", { old_password: $("#old-password").value, new_password: $("#new-password").value }));
    } catch (e) { text($("#change-error"), e.message); }
  });
  $("#logout-btn").addEventListener("click", async () => {
    try { await api("POST", "/api/v1/logout"); } catch (e) { /* already gone */ }
    location.reload();
  });
  $$("nav button").forEach((b) => b.addEventListener("click", () => show(b.dataset.tab)));
  $("#links-refresh-btn").addEventListener("click", () => loadLinks());
  $("#duty-refresh-btn").addEventListener("click", loadDuty);
  $("#roster-load-btn").addEventListener("click", loadRoster);
  $("#roster-add-btn").addEventListener("click", () => addShift({ role: "dispatcher", post: "A", person_id: "", start: "", end: "" }));
  $("#roster-save-btn").addEventListener("click", saveRoster);
  $("#calls-load-btn").addEventListener("click", async () => {
    text($("#calls-status"), "");
    try { await loadCalls($("#calls-warning").value.trim()); } catch (e) { text($("#calls-status"), e.message); }
  });
  try { await enter(await api("GET", "/api/v1/me")); } catch (e) { /* not logged in */ }
}

async function enter(me) {
  state.me = me; state.csrf = me.csrf_token;
  text($("#me"), `${me.display_name} (${me.username}, ${me.role})`);
  $("#login").hidden = true; $("#whoami").hidden = false;
  $("#change").hidden = !me.must_change_password; // a one-time password: nothing else until it is changed
  if (me.must_change_password) return $("#old-password").focus();
  $("#app").hidden = false;
  await showProviders();
  state.grid = await api("GET", "/api/v1/directory/grid");
  setupCompose();
  const canCompose = me.role === "dispatcher" || me.role === "admin";
  $("#tab-compose").hidden = !canCompose;
  document.dispatchEvent(new CustomEvent("console:enter", { detail: me }));
  show(canCompose ? "compose" : "warnings");
}

// Real or simulated providers, on every page: a simulated population's answers must never pass for people's.
async function showProviders() {
  const p = await api("GET", "/api/v1/providers");
  const box = $("#providers");
  const names = Object.entries(p.channels).map(([c, ns]) => `${c}: ${ns.join(", ")}`).join(" · ");
  // A provider whose credentials are not set is off alone; the rest of its channel works (issue 18).
  const off = p.mode === "real" ? Object.keys(p.disabled || {}).join(", ") : "";
  text(box, (names ? `${p.label} — ${names}` : p.label) + (off ? ` · 停用 / off: ${off}` : ""));
  box.title = Object.entries(p.disabled || {}).map(([k, why]) => `${k}: ${why}`).join("\n");
  box.setAttribute("class", "providers " + p.mode);
  box.dataset.mode = p.mode;
  box.hidden = false;
}

function show(tab) {
  $$(".tab").forEach((s) => (s.hidden = s.id !== tab));
  $$("nav button").forEach((b) => b.classList.toggle("active", b.dataset.tab === tab));
  if (tab === "warnings") loadWarnings();
  document.dispatchEvent(new CustomEvent("console:tab", { detail: tab })); // other panels' scripts
  if (tab === "links") loadLinks();
  if (tab === "duty") loadDuty();
}

// -- link tests (issue 18): terminals that did not answer their silent test, providers whose canary failed --
async function loadLinks() {
  const body = $("#links-table tbody");
  const list = (await api("GET", "/api/v1/links?stale=true")).links;
  body.replaceChildren();
  for (const l of list) {
    body.append(el("tr", { "data-link": l.link },
      el("td", {}, l.link),
      el("td", {}, l.last_success_local || "从未 never"),
      el("td", {}, l.last_error || "超时未通过 no pass for too long"),
      el("td", {}, String(l.failures))));
  }
  text($("#links-status"), list.length ? `${list.length} 条失效 stale` : "全部正常 all links passed");
}

// -- the map: the county's grid as SVG, from the directory's GeoJSON --------------------------------------------
function projection(features) {
  let minX = 180, minY = 90, maxX = -180, maxY = -90;
  for (const f of features) for (const ring of rings(f.geometry)) for (const [x, y] of ring) {
    minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  }
  const k = Math.cos(((minY + maxY) / 2) * Math.PI / 180); // equirectangular, true to scale at mid-latitude
  const w = (maxX - minX) * k || 1, h = maxY - minY || 1, scale = 1000 / Math.max(w, h);
  return {
    width: w * scale, height: h * scale,
    fwd: ([x, y]) => [(x - minX) * k * scale, (maxY - y) * scale],
    inv: ([px, py]) => [minX + px / (k * scale), maxY - py / scale],
  };
}
function rings(g) {
  if (g.type === "Polygon") return g.coordinates;
  if (g.type === "MultiPolygon") return g.coordinates.flat();
  return [];
}
function pathOf(g, proj) {
  return rings(g).map((r) => "M" + r.map((p) => proj.fwd(p).map((v) => v.toFixed(1)).join(",")).join("L") + "Z").join("");
}
function drawGrid(svg, onVillage) {
  svg.replaceChildren();
  const feats = state.grid.features;
  const proj = state.view || (state.view = projection(feats));
  svg.setAttribute("viewBox", `-5 -5 ${proj.width + 10} ${proj.height + 10}`);
  const paths = {};
  for (const f of feats.filter((f) => f.properties.level === "village")) {
    const p = document.createElementNS(SVG, "path");
    p.setAttribute("d", pathOf(f.geometry, proj));
    p.setAttribute("class", "village");
    p.dataset.code = f.properties.code;
    const t = document.createElementNS(SVG, "title");
    t.textContent = `${f.properties.name} ${f.properties.code}`;
    p.append(t);
    if (onVillage) p.addEventListener("click", (ev) => onVillage(f.properties.code, ev));
    svg.append(p);
    paths[f.properties.code] = p;
  }
  for (const f of feats.filter((f) => f.properties.level === "township")) {
    const p = document.createElementNS(SVG, "path");
    p.setAttribute("d", pathOf(f.geometry, proj));
    p.setAttribute("class", "township");
    svg.append(p);
  }
  return paths;
}
function svgPoint(svg, ev) {
  const pt = svg.createSVGPoint(); pt.x = ev.clientX; pt.y = ev.clientY;
  const p = pt.matrixTransform(svg.getScreenCTM().inverse());
  return [p.x, p.y];
}

// -- compose ------------------------------------------------------------------------------------------------
let composeReady = false;
async function setupCompose() {
  if (composeReady) return;
  composeReady = true;
  const svg = $("#map");
  state.paths = drawGrid(svg, (code, ev) => {
    if (state.drawing) return;
    state.selected.has(code) ? state.selected.delete(code) : state.selected.add(code);
    refreshSelection();
  });
  svg.addEventListener("click", (ev) => {
    if (!state.drawing) return;
    state.drawing.push(state.view.inv(svgPoint(svg, ev)));
    drawShapes();
  });
  const box = $("#townships");
  for (const f of state.grid.features.filter((f) => f.properties.level === "township")) {
    const cb = el("input", { type: "checkbox", value: f.properties.code });
    cb.addEventListener("change", () => { cb.checked ? state.townships.add(cb.value) : state.townships.delete(cb.value); refreshSelection(); });
    box.append(el("label", {}, cb, " " + f.properties.name));
  }
  $("#draw-btn").addEventListener("click", () => { state.drawing = []; $("#finish-btn").disabled = false; drawShapes(); });
  $("#finish-btn").addEventListener("click", () => {
    if (state.drawing && state.drawing.length >= 3) state.polygons.push(state.drawing);
    state.drawing = null; $("#finish-btn").disabled = true; drawShapes(); refreshSelection();
  });
  $("#clear-btn").addEventListener("click", () => {
    state.selected.clear(); state.townships.clear(); state.polygons = []; state.drawing = null;
    $$("#townships input").forEach((c) => (c.checked = false)); drawShapes(); refreshSelection();
  });
  $("#upload").addEventListener("change", async (ev) => {
    const file = ev.target.files[0];
    if (!file) return;
    try {
      const doc = JSON.parse(await file.text());
      const feats = doc.type === "FeatureCollection" ? doc.features : doc.type === "Feature" ? [doc] : [{ geometry: doc }];
      for (const f of feats) for (const r of rings(f.geometry)) state.polygons.push(r);
      drawShapes(); refreshSelection();
    } catch (e) { text($("#compose-status"), "GeoJSON: " + e.message); }
  });
  const templates = (await api("GET", "/api/v1/templates")).templates;
  for (const t of templates) $("#template").append(el("option", { value: t.name }, t.name));
  $("#template").addEventListener("change", () => {
    const t = templates.find((x) => x.name === $("#template").value);
    if (!t) return;
    for (const k of ["hazard", "severity", "event", "headline", "description", "instruction"]) $("#" + k).value = t[k];
    $("#expires").value = t.expires_min;
  });
  $("#preview-btn").addEventListener("click", preview);
  $("#submit-btn").addEventListener("click", submitDraft);
}

function drawShapes() {
  const svg = $("#map");
  $$(".drawn, .draw", svg).forEach((n) => n.remove());
  const pts = (ring) => ring.map((p) => state.view.fwd(p).join(",")).join(" ");
  for (const ring of state.polygons) {
    const p = document.createElementNS(SVG, "polygon");
    p.setAttribute("points", pts(ring)); p.setAttribute("class", "drawn"); svg.append(p);
  }
  if (state.drawing && state.drawing.length) {
    const p = document.createElementNS(SVG, "polyline");
    p.setAttribute("points", pts(state.drawing)); p.setAttribute("class", "draw"); svg.append(p);
  }
}

function areas() {
  const codes = [...state.townships, ...[...state.selected].filter((v) => !state.townships.has(v.slice(0, 9) + "000"))];
  const out = [];
  if (codes.length) out.push({ description: "", codes });
  if (state.polygons.length) out.push({ description: "", polygons: state.polygons });
  return out;
}

function refreshSelection() {
  for (const [code, p] of Object.entries(state.paths)) {
    p.classList.toggle("selected", state.selected.has(code) || state.townships.has(code.slice(0, 9) + "000"));
  }
  const n = state.selected.size, t = state.townships.size, g = state.polygons.length;
  text($("#selection"), n + t + g ? `${t} 乡镇, ${n} 村, ${g} 多边形` : "—");
}

function composed() {
  return {
    hazard: $("#hazard").value, severity: $("#severity").value, event: $("#event").value.trim(),
    headline: $("#headline").value.trim(), description: $("#description").value.trim(),
    instruction: $("#instruction").value.trim(), expires_min: Number($("#expires").value) || 60,
    drill: $("#drill").checked, areas: areas(),
  };
}

async function preview() {
  const c = composed();
  const box = $("#preview");
  box.replaceChildren("…");
  try {
    const p = await api("POST", "/api/v1/preview", { areas: c.areas, hazard: c.hazard, severity: c.severity, drill: c.drill });
    const rows = [["乡镇 townships", p.townships], ["村 villages", p.villages], ["组 groups", p.groups],
      ["户 households", p.households], ["人 people", p.people], ["重点户 vulnerable", p.vulnerable],
      ["终端 terminals", p.devices], ...Object.entries(p.by_channel || {}).map(([k, v]) => ["→ " + k, v])];
    const table = el("table", { id: "preview-table" });
    for (const [k, v] of rows) table.append(el("tr", {}, el("td", {}, k), el("td", { "data-key": k.split(" ").pop() }, String(v))));
    box.replaceChildren(table);
    if (p.flagged) box.append(el("p", { class: "error" }, "此范围无人可达 This area reaches nobody"));
    for (const pr of p.problems || []) box.append(el("p", { class: "error" }, pr));
    if (p.unreachable_count) {  // pre-flight: responsible persons no call can reach
      const list = el("ul", { id: "preview-unreachable" });
      for (const u of p.unreachable || []) {
        list.append(el("li", {}, `${u.cell_name} ${u.person_id} (${u.role}): ${u.reason}`));
      }
      box.append(el("p", { class: "error" }, `${p.unreachable_count} 名责任人无法电话叫应 / responsible persons without a phone`), list);
    }
  } catch (e) { box.replaceChildren(el("p", { class: "error" }, e.message)); }
}

async function submitDraft() {
  const status = $("#compose-status");
  status.className = "";
  try {
    const w = await api("POST", "/api/v1/warnings", composed());
    const s = await api("POST", `/api/v1/warnings/${w.warning_id}/submit`, { revision: w.revision });
    status.className = "ok";
    text(status, `已提交审核 Submitted: ${s.warning_id} (rev ${s.revision})`);
    status.dataset.warningId = s.warning_id;
  } catch (e) { status.className = "error"; text(status, e.message); }
}

// -- warnings: approve, reject, release, cancel ------------------------------------------------------------
async function loadWarnings() {
  const body = $("#warnings-table tbody");
  const list = (await api("GET", "/api/v1/warnings")).warnings;
  body.replaceChildren();
  const role = state.me.role;
  const issuer = role === "dispatcher" || role === "admin";
  const approver = role === "approver" || role === "admin";
  for (const w of list) {
    const tr = el("tr", { "data-id": w.warning_id, "data-state": w.state });
    const badges = el("span");
    if (w.drill) badges.append(el("span", { class: "badge drill" }, "演练 DRILL"), " ");
    if (w.fast_path) badges.append(el("span", { class: "badge fast" }, "快速通道 fast path"), " ");
    const actions = el("td");
    const act = (name, label, body) => {
      const b = el("button", { type: "button", class: "act-" + name }, label);
      b.addEventListener("click", async () => {
        const extra = body ? body() : {};
        if (extra === null) return;
        try {
          await api("POST", `/api/v1/warnings/${w.warning_id}/${name}`, { revision: w.revision, ...extra });
          text($("#warnings-status"), `${name}: ${w.warning_id}`);
          if (name === "release") return watch(w.warning_id);
        } catch (e) { text($("#warnings-status"), e.message); }
        loadWarnings();
      });
      actions.append(b);
    };
    if (w.state === "draft" && issuer) act("submit", "提交 Submit");
    if (w.state === "submitted" && approver) {
      act("approve", "批准 Approve");
      act("reject", "驳回 Reject", () => { const r = prompt("驳回原因 Reason"); return r ? { reason: r } : null; });
    }
    if (w.state === "approved" || (w.state === "submitted" && w.hazard === "earthquake")) act("release", "发布 Release");
    if (["draft", "submitted", "approved", "rejected", "released"].includes(w.state) && (issuer || approver)) {
      act("cancel", "撤销 Cancel", () => { const r = prompt("撤销原因 Reason"); return r ? { reason: r } : null; });
    }
    const viewBtn = el("button", { type: "button", class: "act-view" }, "查看 View");
    viewBtn.addEventListener("click", () => showWarning(w)); // warning_detail.js
    actions.append(viewBtn);
    const liveBtn = el("button", { type: "button", class: "act-live" }, "实况 Live");
    liveBtn.addEventListener("click", () => watch(w.warning_id));
    actions.append(liveBtn);
    if (w.live || w.state === "cancelled") {
      actions.append(el("a", { href: `/api/v1/warnings/${w.warning_id}/report.html`, target: "_blank", class: "act-report" }, "报告 Report"));
      actions.append(" ", el("a", { href: `/api/v1/warnings/${w.warning_id}/report.xlsx`, class: "act-xlsx" }, "xlsx"));
      const callsBtn = el("button", { type: "button", class: "act-calls" }, "叫应 Calls");
      callsBtn.addEventListener("click", async () => {
        show("duty");
        $("#calls-warning").value = w.warning_id;
        try { await loadCalls(w.warning_id); } catch (e) { text($("#warnings-status"), e.message); }
      });
      actions.append(callsBtn);
    }
    const sm = w.summary || {};
    const reach = sm.households == null ? "" : ` · 预计 ${sm.villages} 村 villages · ${sm.households} 户 households · ${sm.people} 人 people`;
    tr.append(el("td", { class: "state-" + w.state }, w.state),
      el("td", {}, badges, w.content.headline, el("div", { class: "area" }, `${sm.kind || ""} · ${sm.area || ""}${reach}`)),
      el("td", {}, sm.hazard_zh ? `${sm.hazard_zh} (${w.hazard}/${w.severity})` : `${w.hazard} / ${w.severity}`),
      el("td", {}, `${w.created_by} · ${sm.created_local || ""}`), el("td", {}, String(w.revision)), actions);
    body.append(tr);
  }
}

// -- live: villages coloured by reach, from Server-Sent Events --------------------------------------------------
function watch(warningId) {
  show("live");
  if (state.source) state.source.close();
  text($("#live-title"), warningId);
  $("#live-report").href = `/api/v1/warnings/${warningId}/report.html`;
  const paths = drawGrid($("#live-map"));
  Object.values(paths).forEach((p) => p.classList.add("untargeted"));
  state.live = { id: warningId, paths };
  $("#live-layer-terminals").onchange = () => state.live.last && paint(state.live.last);
  const src = new EventSource(`/api/v1/warnings/${warningId}/events`);
  state.source = src;
  src.addEventListener("status", (ev) => paint(JSON.parse(ev.data)));
  src.onerror = () => text($("#live-state"), "重连中 reconnecting…");
}

function paint(s) {
  state.live.last = s;
  const { paths } = state.live;
  const speakers = $("#live-layer-terminals").checked;
  for (const p of Object.values(paths)) p.setAttribute("class", "village untargeted");
  if (s.headline) text($("#live-title"), `${s.headline} · ${s.warning_id}`);
  const names = {};
  for (const v of s.villages) {
    names[v.code] = v.name;
    const p = paths[v.code];
    const pct = speakers ? v.terminals_percent : v.percent;
    // Households: green only when the loop is closed here (every household reached or named unreachable).
    const green = speakers ? pct >= 100 : v.closed;
    if (p) p.setAttribute("class", "village " + (green ? "r100" : pct > 0 ? "r50" : "r0"));
    if (p) p.querySelector("title").textContent = speakers
      ? `${v.name} 喇叭 ${v.terminals_played}/${v.terminals}`
      : `${v.name} 到户 ${v.households_reached}/${v.households} (${v.percent}%)`;
  }
  const kind = $("#live-kind");
  text(kind, s.drill ? "演练 DRILL" : "真实预警 REAL");
  kind.setAttribute("class", "kind " + (s.drill ? "drill" : "real"));
  text($("#live-percent"), s.villages_total ? `${s.percent}%` : "—");
  text($("#live-villages"), `${s.villages_reached}/${s.villages_total}`);
  text($("#live-deliveries"), `${s.terminals_played}/${s.terminals}` + (s.failed ? ` (失败 failed ${s.failed})` : ""));
  text($("#live-messages"), `${s.messages_reached}/${s.messages}`);
  text($("#live-households"), s.households ? `${s.households_reached}/${s.households}` : "—");
  // 到人: persons accounted for, and those not with why (the reasons as the API names them).
  const missing = Object.entries(s.persons_unaccounted || {}).map(([k, n]) => `${k} ${n}`).join(", ");
  text($("#live-persons"), s.persons ? `${s.persons_accounted}/${s.persons}` + (missing ? ` (未到人 ${missing})` : "") : "—");
  // Households and orgs (单位) neither reached nor named unreachable both hold the warning open.
  const orgsOpen = (s.orgs && s.orgs.open_count) || 0;
  const open = [s.households_open ? `${s.households_open} 户` : "", orgsOpen ? `${orgsOpen} 单位` : ""];
  const done = s.done ? "已完成 done" : open.some(Boolean) ? `未完成 open: ${open.filter(Boolean).join(" ")}` : "";
  text($("#live-state"), [s.state || "", s.pipeline_state || "", done].filter(Boolean).join(" · "));
  const ul = $("#unreached");
  ul.replaceChildren(...s.unreached.map((c) => el("li", { "data-code": c }, `${names[c] || c} ${c}`)));
  text($("#unreached-count"), `(${s.unreached.length})`);
  const oh = $("#open-households");
  oh.replaceChildren(...s.open_households.map((h) => el("li", { "data-household": h.household_id, "data-village": h.village_code, class: h.vulnerable ? "vulnerable" : "" },
    `${h.vulnerable ? "重点户 vulnerable · " : ""}${h.village} · ${h.household_id} — ${h.why}`)));
  text($("#open-count"), `(${s.households_open})`);
}

// -- duty room: who is on duty, the roster, the pre-flight list, a warning's 叫应 calls --------------------------
async function loadDuty() {
  const now = await api("GET", "/api/v1/duty");
  text($("#duty-at"), `截至 at ${now.at}`);
  text($("#duty-gaps"), now.gaps.length ? `无人值班 nobody on duty: ${now.gaps.join(", ")}` : "");
  const body = $("#duty-now tbody");
  body.replaceChildren();
  for (const [cell, posts] of Object.entries(now.cells)) {
    for (const [post, holders] of Object.entries(posts)) {
      for (const h of holders) {
        body.append(el("tr", { "data-cell": cell, "data-post": post, "data-person": h.person_id },
          el("td", {}, cell), el("td", {}, post), el("td", {}, h.person_id), el("td", {}, h.role), el("td", {}, h.until)));
      }
    }
  }
  const pf = await api("GET", "/api/v1/duty/preflight");
  text($("#preflight-count"), `(${pf.unreachable_count})`);
  $("#preflight").replaceChildren(...pf.unreachable.map((u) => el("li", { "data-person": u.person_id },
    `${u.cell_name} ${u.cell_code} · ${u.person_id} (${u.role}): ${u.reason}` + (u.other_channels.length ? ` · ${u.other_channels.join("/")}` : ""))));
}

function addShift(s) {
  const cell = (name, value) => el("td", {}, Object.assign(el("input", { "data-field": name }), { value }));
  const drop = el("button", { type: "button", class: "roster-drop" }, "删除 Remove");
  const tr = el("tr", { class: "shift" }, cell("role", s.role), cell("post", s.post), cell("person_id", s.person_id),
    cell("start", s.start), cell("end", s.end), el("td", {}, drop));
  drop.addEventListener("click", () => tr.remove());
  $("#roster tbody").append(tr);
}

async function loadRoster() {
  const status = $("#roster-status");
  status.className = ""; text(status, "");
  $("#roster tbody").replaceChildren();
  try {
    const r = await api("GET", `/api/v1/duty/cells/${encodeURIComponent($("#roster-cell").value.trim())}`);
    r.shifts.forEach(addShift);
    text(status, `${r.shifts.length} 班次 shifts`);
  } catch (e) { status.className = "error"; text(status, e.message); }
}

async function saveRoster() {
  const status = $("#roster-status");
  const shifts = $$("#roster tbody tr.shift").map((tr) =>
    Object.fromEntries($$("input", tr).map((i) => [i.dataset.field, i.value.trim()])));
  try {
    const r = await api("PUT", `/api/v1/duty/cells/${encodeURIComponent($("#roster-cell").value.trim())}`, { shifts });
    status.className = "ok"; text(status, `已保存 Saved: ${r.shifts.length} 班次 shifts`);
    await loadDuty();
  } catch (e) { status.className = "error"; text(status, e.message); }
}

async function loadCalls(warningId) {
  const log = await api("GET", `/api/v1/warnings/${encodeURIComponent(warningId)}/calls`);
  const xlsx = $("#calls-xlsx");
  xlsx.href = `/api/v1/warnings/${encodeURIComponent(warningId)}/report.xlsx`; xlsx.hidden = false;
  $("#calls tbody").replaceChildren(...log.calls.map((c) => el("tr", { "data-target": c.target_id, class: c.answered ? "answered" : "silent" },
    el("td", {}, c.person_id), el("td", {}, c.target_id), el("td", {}, `${c.cell_code} ${c.post || "名录 directory"}`),
    el("td", {}, String(c.tries)), el("td", {}, c.called_at), el("td", {}, c.answered ? "已应答 answered" : "未应答 no answer"))));
  $("#call-attempts tbody").replaceChildren(...log.attempts.map((a) => el("tr", { "data-channel": a.channel, "data-state": a.state },
    el("td", {}, a.person_id || ""), el("td", {}, a.kind), el("td", {}, a.channel),
    el("td", {}, a.state + (a.reason ? ` (${a.reason})` : "") + (a.acked_at ? ` · 确认 ${a.acked_at}` : "")), el("td", {}, a.at))));
  $("#upward").replaceChildren(...log.reports.map((r) => el("li", { "data-cell": r.cell_code }, `${r.sent_at} → ${r.cell_code} (${r.persons} 人): ${r.text}`)));
}

document.addEventListener("DOMContentLoaded", start);
