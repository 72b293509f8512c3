"""The closure report of one warning chain, as JSON (for the API and `warnengine report`) and as a
printable HTML page. Times count from the first version's resolution (when the engine knew whom to
reach); the same report serves drills, labelled as such."""

from __future__ import annotations

import html
import statistics
from typing import Any

from warnengine.model import HazardWarning
from warnengine.report.orgs import org_html, org_summary
from warnengine.report.store import ReportStore

MINUTE_MARKS = (5, 15, 30, 60, 120, 240)


async def closure_report(store: ReportStore, warning_id: str) -> dict[str, Any] | None:
    rows = await store.closure_rows(warning_id)
    if rows is None:
        return None
    versions = rows["versions"]
    first = HazardWarning.model_validate_json(versions[0]["body"])
    last = HazardWarning.model_validate_json(versions[-1]["body"])
    zero = min((v["resolved_at"] for v in versions if v["resolved_at"] is not None), default=None)
    homes = rows["households"]
    reached = [h for h in homes if h["state"] == "reached"]
    delays = sorted(max(0.0, h["reached_at"] - zero) for h in reached if zero is not None and h["reached_at"])
    villages: dict[str, dict[str, Any]] = {}
    for h in homes:
        v = villages.setdefault(
            h["village_code"],
            {
                "village": h["village_code"],
                "name": rows["village_names"].get(h["village_code"], ""),
                "township": _township(rows, h["village_code"])[0],
                "households": 0,
                "reached": 0,
                "vulnerable": 0,
                "vulnerable_reached": 0,
                "by_channel": {},
            },
        )
        v["households"] += 1
        v["vulnerable"] += bool(h["vulnerable"])
        if h["state"] == "reached":
            v["reached"] += 1
            v["vulnerable_reached"] += bool(h["vulnerable"])
            v["by_channel"][h["reached_by"]] = v["by_channel"].get(h["reached_by"], 0) + 1
    by_channel: dict[str, int] = {}
    for h in reached:
        by_channel[h["reached_by"] or "unknown"] = by_channel.get(h["reached_by"] or "unknown", 0) + 1
    deliveries: dict[str, dict[str, int]] = {}
    for r in rows["deliveries"]:
        deliveries.setdefault(r["channel"], {})[r["state"]] = r["n"]
    vulnerable = [h for h in homes if h["vulnerable"]]
    return {
        "warning_id": warning_id,
        "headline": last.headline or last.event,
        "hazard": last.hazard.value,
        "severity": last.severity.value,
        "drill": first.status.value in ("Exercise", "Test"),
        "state": versions[-1]["state"],
        "versions": len(versions),
        "households": len(homes),
        "reached": len(reached),
        "unreachable": sum(1 for h in homes if h["state"] == "unreachable"),
        "open": sum(1 for h in homes if h["state"] not in ("reached", "unreachable")),
        # Open cases a visit left (issue 17): never counted unreachable.
        "needs_help": sum(1 for h in homes if h["state"] == "needs_help"),
        "nobody_home": sum(1 for h in homes if h["state"] == "nobody_home"),
        "persons": _persons(rows, homes, zero),
        # 到人 (issue 17): persons accounted for, and those not with why (db/store/persons.py's REASONS).
        "persons_accounted": rows["persons_tally"]["persons_accounted"],
        "persons_unaccounted": rows["persons_tally"]["persons_unaccounted"],
        "reached_by_channel": dict(sorted(by_channel.items())),
        "reached_by_min": _by_minute(delays),
        "time_to_reach_s": _quantiles(delays),
        "vulnerable": {
            "households": len(vulnerable),
            "reached": sum(1 for h in vulnerable if h["state"] == "reached"),
            "with_helper": len(rows.get("helpers", {})),  # in the vulnerable register, with a helper (包保)
            "reached_by_min": _by_minute(
                sorted(
                    max(0.0, h["reached_at"] - zero)
                    for h in vulnerable
                    if h["state"] == "reached" and zero is not None and h["reached_at"]
                )
            ),
        },
        "townships": dict(sorted(set(rows.get("townships", {}).values()))),
        "villages": sorted(
            villages.values(), key=lambda v: (v["reached"] / max(v["households"], 1), v["village"])
        ),
        "unreached": [
            {
                "household_id": h["household_id"],
                "village": h["village_code"],
                "township": _township(rows, h["village_code"])[0],
                "group": h["cell_code"],
                "vulnerable": bool(h["vulnerable"]),
                "state": h["state"],
                "helper": rows.get("helpers", {}).get(h["household_id"]),
                "reason": h["reason"] or _why_open(h["state"], rows["visiting"].get(h["household_id"])),
            }
            for h in sorted(homes, key=lambda h: (not h["vulnerable"], h["village_code"], h["household_id"]))
            if h["state"] != "reached"
        ],
        "staff_not_answering": [
            {
                "person_id": c["person_id"],
                "superior_id": c["superior_id"],
                "called_at": c["called_at"],
                # 叫应 by the duty ladder: everyone called about them, in order, and the calls made.
                "called": [target for target, _, _ in rows.get("duty_calls", {}).get(c["person_id"], [])],
                "calls": sum(n for _, _, n in rows.get("duty_calls", {}).get(c["person_id"], [])),
            }
            for c in rows["staff_calls"]
        ],
        "visit_tasks": rows["visit_tasks"],
        "deliveries": deliveries,
        "orgs": (orgs := org_summary(await store.warning_orgs(warning_id), zero)),  # schools… (orgs.py)
        # Closed (闭环): no household and no org left neither reached nor named unreachable with a reason.
        "closed": not any(h["state"] not in ("reached", "unreachable") for h in homes) and orgs["open"] == 0,
    }


def _township(rows: dict[str, Any], village: str) -> tuple[str, str]:
    """The village's township (code, name); ("", "") when the directory no longer has it."""
    found: tuple[str, str] = rows.get("townships", {}).get(village, ("", ""))
    return found


def _why_open(state: str, visit: tuple[str, str | None, int] | None) -> str:
    if visit is not None:
        task, assignee, level = visit
        who = ("group leader", "village grid head", "township dispatcher")[min(level, 2)]
        return f"visit open ({task}), with the {who} {assignee or '(nobody on record)'}"
    return {
        "targeted": "no message sent yet",
        "sent": "sent, no answer",
        "delivered": "delivered to the handset, no answer",
    }.get(state, state)


def _reasons(missing: dict[str, int]) -> str:
    """Persons not accounted for by reason, operator text (Chinese with English beside it)."""
    return "；".join(f"{PERSON_REASONS.get(k, k)} {n}" for k, n in missing.items()) or "无 none"


PERSON_REASONS = {
    "no_answer": "未回复未入户 no answer, no visit yet",
    "nobody_home": "不在家待复访 not at home, revisit due",
    "needs_help": "需救助 needs help",
    "whereabouts_unknown": "下落不明 whereabouts unknown",
    "unreachable": "无法联系 unreachable",
    "loudspeaker_only": "仅大喇叭 loudspeaker only, not confirmed",
}


def _by_minute(delays: list[float]) -> dict[str, int]:
    return {str(m): sum(1 for d in delays if d <= m * 60) for m in MINUTE_MARKS}


def _quantiles(delays: list[float]) -> dict[str, float | None]:
    if not delays:
        return {"p50": None, "p90": None, "max": None}
    q = statistics.quantiles(delays, n=10, method="inclusive") if len(delays) > 1 else [delays[0]] * 9
    return {"p50": round(statistics.median(delays), 1), "p90": round(q[8], 1), "max": round(delays[-1], 1)}


def to_html(report: dict[str, Any]) -> str:
    """A self-contained printable page (no scripts, no external assets)."""
    e = html.escape
    drill = "【演练】" if report["drill"] else ""
    pct = 100.0 * report["reached"] / max(report["households"], 1)
    village_rows = "".join(
        f"<tr><td>{e(v['village'])}</td><td>{e(v['name'])}</td><td>{v['households']}</td><td>{v['reached']}</td>"
        f"<td>{v['vulnerable_reached']}/{v['vulnerable']}</td>"
        f"<td>{e(', '.join(f'{k}: {n}' for k, n in sorted(v['by_channel'].items())))}</td></tr>"
        for v in report["villages"]
    )
    unreached_rows = "".join(
        f"<tr><td>{e(u['household_id'])}</td><td>{e(u['village'])}</td><td>{e(u['group'])}</td>"
        f"<td>{'是' if u['vulnerable'] else ''}{e(' 包保 ' + u['helper'] if u.get('helper') else '')}</td>"
        f"<td>{e(u['reason'])}</td></tr>"
        for u in report["unreached"]
    )
    staff_rows = "".join(
        f"<tr><td>{e(s['person_id'])}</td><td>{e(s['superior_id'] or '—')}</td>"
        f"<td>{e('、'.join(s.get('called', [])) or '—')}</td><td>{s.get('calls', 0)}</td></tr>"
        for s in report["staff_not_answering"]
    )
    minutes = "".join(f"<th>≤{m} min</th>" for m in report["reached_by_min"])
    counts = "".join(f"<td>{n}</td>" for n in report["reached_by_min"].values())
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{drill}闭环报告 {e(report["warning_id"])}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }} table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #999; padding: 2px 8px; text-align: left; }} h1 {{ font-size: 1.4em; }}
@media print {{ body {{ margin: 0; }} }}
</style></head><body>
<h1>{drill}预警闭环报告 · {e(report["headline"])}</h1>
<p>{e(report["warning_id"])} · {e(report["hazard"])} · {e(report["severity"])} · {e(report["state"])} ·
{report["versions"]} version(s)</p>
<p><b>到户 {report["reached"]} / {report["households"]} ({pct:.1f}%)</b>;
unreachable {report["unreachable"]}, still open {report["open"]} (needs help 需救助 {report["needs_help"]},
nobody home awaiting revisit 待复访 {report["nobody_home"]}); orgs still open 单位未闭环
{report["orgs"]["open"]}; {"已闭环 closed" if report.get("closed") else "未闭环 not closed"};
vulnerable reached {report["vulnerable"]["reached"]} / {report["vulnerable"]["households"]}.</p>
<p><b>到人 persons accounted for {report["persons_accounted"]} / {report["persons"]["total"]}</b>;
not accounted for: {e(_reasons(report["persons_unaccounted"]))}.</p>
<table><tr><th>reached</th>{minutes}</tr><tr><td>households</td>{counts}</tr></table>
<h2>Villages</h2>
<table><tr><th>code</th><th>village</th><th>households</th><th>reached</th><th>vulnerable</th><th>by</th></tr>
{village_rows}</table>
<h2>Not reached ({len(report["unreached"])})</h2>
<table><tr><th>household</th><th>village</th><th>group</th><th>vulnerable</th><th>reason</th></tr>
{unreached_rows}</table>
<h2>Staff who did not answer (叫应)</h2>
<table><tr><th>person</th><th>superior called</th><th>叫应 called on duty</th><th>calls</th></tr>
{staff_rows}</table>
{org_html(report.get("orgs"))}</body></html>
"""


def _persons(rows: dict[str, Any], homes: list[dict[str, Any]], zero: float | None) -> dict[str, Any]:
    """Persons, not only households (issue 17): the residents of the targeted households (the register's
    household size), those named in the directory, who of them acknowledged themselves, the residents of
    households reached, and persons accounted for (an ack, a visitor's names or headcount, evacuated,
    away) — by minute, the vulnerable households' apart — and those not accounted for by reason."""
    reached = {h["household_id"] for h in homes if h["state"] == "reached"}
    members: list[tuple[str, str]] = rows["members"]
    size: dict[str, int] = rows["household_size"]
    tally = rows["persons_tally"]
    timeline: list[tuple[float, int, bool, str]] = rows["persons_timeline"]
    vulnerable = {h["household_id"] for h in homes if h["vulnerable"]}

    def by_min(vul: bool | None) -> dict[str, int]:
        if zero is None:
            return {str(m): 0 for m in MINUTE_MARKS}
        got = [(at - zero, n) for at, n, v, _ in timeline if vul is None or v == vul]
        return {str(m): sum(n for d, n in got if d <= m * 60) for m in MINUTE_MARKS}

    return {
        "total": sum(size.values()),
        "named": len(members),
        "in_reached_households": sum(n for hid, n in size.items() if hid in reached),
        "acknowledged": sum(1 for pid, _ in members if pid in rows["acked_persons"]),
        "accounted": tally["persons_accounted"],
        "unaccounted": tally["persons_unaccounted"],
        "accounted_by_min": by_min(None),
        "vulnerable": sum(n for hid, n in size.items() if hid in vulnerable),
        "vulnerable_accounted_by_min": by_min(True),
    }
