// The directory panel (admins): upload the county's files, checked and imported like `grid import`.
"use strict";

document.addEventListener("console:enter", (ev) => {
  $("#tab-directory").hidden = ev.detail.role !== "admin";
});
document.addEventListener("console:tab", (ev) => { if (ev.detail === "directory") loadLastImport(); });
document.addEventListener("DOMContentLoaded", () => {
  $("#import-form").addEventListener("submit", (ev) => { ev.preventDefault(); uploadDirectory(); });
});

async function uploadDirectory() {
  const files = $("#import-files").files;
  if (!files.length) return text($("#import-status"), "请选择文件 Choose the files first");
  const form = new FormData();
  for (const f of files) form.append("files", f, f.name);
  if ($("#import-crs").value) form.append("crs", $("#import-crs").value);
  form.append("skip_bad_rows", $("#import-skip").checked ? "true" : "false");
  text($("#import-status"), "检查中… Checking…");
  $("#import-lines").replaceChildren(); $("#import-errors").replaceChildren();
  $("#import-btn").disabled = true;
  try {
    const r = await fetch("/api/v1/directory/import", { method: "POST", body: form, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": state.csrf } });
    const out = await r.json().catch(() => null);
    if (!r.ok) throw new Error(((out && out.error) || { message: r.statusText }).message);
    showImport(out);
    loadLastImport();
  } catch (e) {
    text($("#import-status"), "上传失败 Upload failed: " + e.message);
  } finally {
    $("#import-btn").disabled = false;
  }
}

function showImport(out) {
  if (out.imported) {
    const s = out.summary;
    text($("#import-status"), `已导入 Imported: 新增 added ${s.added}, 修改 changed ${s.changed}, 未变 unchanged ${s.unchanged}` +
      (s.skipped ? `, 跳过 skipped ${s.skipped}` : ""));
  } else {
    text($("#import-status"), `有 ${out.problems} 个问题，未导入任何数据 / ${out.problems} problem(s): nothing imported`);
  }
  $("#import-lines").replaceChildren(...out.lines.map((l) => el("li", {}, l)),
    ...out.first_problems.map((p) => el("li", { class: "error" }, `${p.file}:${p.line} ${p.column} ${p.message}`)));
  if (out.errors_url) {
    const a = el("a", { href: out.errors_url }, "下载完整问题列表 Download the full list (xlsx)");
    $("#import-errors").replaceChildren(a);
  }
}

async function loadLastImport() {
  try {
    const last = await api("GET", "/api/v1/directory/imports/last");
    if (last.at === null) return text($("#last-import"), "尚无导入 No import yet");
    const when = last.at_local;
    const d = last.detail;
    const changed = d.changes ? Object.entries(d.changes).filter(([, n]) => n.added || n.changed)
      .map(([t, n]) => `${t} +${n.added} ~${n.changed}`).join(", ") : "";
    text($("#last-import"), `${when} · ${last.actor} · 户 households ${d.households ?? "—"} · 人 people ${d.people ?? "—"}` +
      (changed ? ` · ${changed}` : "") + (d.skipped ? ` · 跳过 skipped ${d.skipped}` : ""));
  } catch (e) { text($("#last-import"), e.message); }
}
