"""Organisations in the closure report and live status (issue 17): targeted, reached (with the responsible
person's note as evidence), not reached with the reason, and the headcount they hold."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from warnengine.model.org import KIND_NAMES
from warnengine.model.org_records import WarningOrg

MINUTE_MARKS = (5, 15, 30, 60, 120, 240)
_KIND = {k.value: name for k, name in KIND_NAMES.items()}
ORG_HEADER = (
    "单位 org",
    "名称 name",
    "类型 kind",
    "村 village",
    "人数 headcount",
    "状态 state",
    "回复 note / 原因 reason",
)


def unreached_reason(o: WarningOrg) -> str:
    """Why an org is not reached yet: operator-facing, Chinese with English beside it."""
    if o.state == "unreachable" and o.note:  # a visitor's word (api/org_visits.py)
        return f"入户核实：{o.note} / visited: {o.note}"
    if not o.responsible:
        return "无负责人记录 no responsible person on record"
    if o.state == "unreachable":
        return "负责人无可用联系方式 no responsible person with an address on the rule's channels"
    if o.last_step == 0:
        return "负责人未回复 no reply from the responsible persons"
    handed = f"，已交 {o.escalated_to} / handed to {o.escalated_to}" if o.escalated_to else ""
    return f"负责人未回复，已升级至第{o.last_step}步{handed} / silent after ladder step {o.last_step}"


def org_closed(o: WarningOrg) -> bool:
    """Reached, or named unreachable with the reason (plan/orgs.py): what closes an org, as a household."""
    return o.state in ("reached", "unreachable")


def org_counts(orgs: Sequence[WarningOrg]) -> dict[str, int]:
    """The numbers live status shows. `unreached`: not reached; of those, `unreachable` are named with
    the reason and `open` still hold the warning open (api/status.py `done`, the closure's `closed`)."""
    reached = [o for o in orgs if o.state == "reached"]
    unreachable = sum(1 for o in orgs if o.state == "unreachable")
    return {
        "targeted": len(orgs),
        "reached": len(reached),
        "unreached": len(orgs) - len(reached),
        "unreachable": unreachable,
        "open": len(orgs) - len(reached) - unreachable,
        "headcount": sum(o.headcount for o in orgs),
        "headcount_reached": sum(o.headcount for o in reached),
    }


def org_summary(orgs: Sequence[WarningOrg], zero: float | None) -> dict[str, Any]:
    """The closure report's `orgs` section."""
    delays = sorted(
        max(0.0, o.reached_at - zero)
        for o in orgs
        if o.state == "reached" and o.reached_at and zero is not None
    )
    by_kind: dict[str, dict[str, int]] = {}
    for o in orgs:
        k = by_kind.setdefault(o.kind, {"targeted": 0, "reached": 0, "headcount": 0})
        k["targeted"] += 1
        k["reached"] += o.state == "reached"
        k["headcount"] += o.headcount
    return {
        **org_counts(orgs),
        "reached_by_min": {str(m): sum(1 for d in delays if d <= m * 60) for m in MINUTE_MARKS},
        "by_kind": dict(sorted(by_kind.items())),
        "list": [
            {
                "org_id": o.org_id,
                "name": o.name,
                "kind": o.kind,
                "village": o.village_code,
                "cell": o.cell_code,
                "headcount": o.headcount,
                "state": o.state,
                "reached_at": o.reached_at,
                "reached_by": o.reached_by,
                "note": o.note,
                "reason": None if o.state == "reached" else unreached_reason(o),
            }
            for o in sorted(orgs, key=lambda o: (o.state == "reached", o.village_code, o.org_id))
        ],
    }


def org_rows(section: dict[str, Any]) -> list[list[Any]]:
    """The workbook's 单位 orgs sheet: a count line, the header, then one row per org (unreached first)."""
    out: list[list[Any]] = [
        [
            f"单位 orgs: {section['targeted']}",
            f"已回复 reached: {section['reached']}",
            f"未回复 not reached: {section['unreached']}",
            f"无法联系 unreachable: {section.get('unreachable', 0)}",
            f"未闭环 still open: {section.get('open', section['unreached'])}",
            f"人数 headcount: {section['headcount_reached']}/{section['headcount']}",
        ],
        list(ORG_HEADER),
    ]
    for o in section["list"]:
        state = {"reached": "已回复 reached", "unreachable": "无法联系 unreachable"}.get(
            o["state"], "未回复 not reached"
        )
        out.append(
            [
                o["org_id"],
                o["name"],
                _KIND.get(o["kind"], o["kind"]),
                o["village"],
                o["headcount"],
                state,
                o["note"] or "" if o["state"] == "reached" else o["reason"],
            ]
        )
    return out


def org_html(section: dict[str, Any] | None) -> str:
    """The printable page's orgs section ("" when the warning covered none)."""
    if not section or not section["targeted"]:
        return ""
    e = html.escape
    rows = "".join(
        "<tr>" + "".join(f"<td>{e(str(x))}</td>" for x in row) + "</tr>" for row in org_rows(section)[2:]
    )
    head = "".join(f"<th>{e(h)}</th>" for h in ORG_HEADER)
    return (
        f"<h2>单位 Organisations: {section['reached']} / {section['targeted']} reached, headcount "
        f"{section['headcount_reached']} / {section['headcount']}; unreachable "
        f"{section.get('unreachable', 0)}, still open {section.get('open', section['unreached'])}</h2>\n"
        f"<table><tr>{head}</tr>{rows}</table>\n"
    )
