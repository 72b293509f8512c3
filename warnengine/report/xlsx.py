"""The closure report (闭环) as an .xlsx workbook, beside the printable page: a summary sheet, then one sheet
per township with its households not reached (vulnerable first) and why — what a township fills in and
sends back. Ids and codes are text (Excel must not turn a 12-digit code into a number)."""

from __future__ import annotations

import io
import re
from typing import Any

from warnengine.report.closure import PERSON_REASONS
from warnengine.report.orgs import org_rows

UNREACHED_HEADER = (
    "户号 household",
    "村 village",
    "村名 name",
    "组 group",
    "脆弱 vulnerable",
    "状态 state",
    "原因 reason",
)
VILLAGE_HEADER = (
    "乡镇 township",
    "村 village",
    "村名 name",
    "户数 households",
    "到户 reached",
    "脆弱户 vulnerable",
)
_BAD = re.compile(r"[\[\]:*?/\\]")  # not allowed in a sheet name


def to_xlsx(report: dict[str, Any]) -> bytes:
    from openpyxl import Workbook  # imported here: only who downloads a workbook pays for it

    wb = Workbook(write_only=True)
    _summary(wb.create_sheet("总览 summary"), report)
    if report.get("orgs", {}).get("targeted"):  # schools, enterprises… (report/orgs.py)
        orgs = wb.create_sheet("单位 orgs")
        for row in org_rows(report["orgs"]):
            orgs.append(row)
    townships: dict[str, str] = report.get("townships", {})
    codes = sorted({u["township"] for u in report["unreached"]} | set(townships))
    names: set[str] = set()
    for code in codes:
        ws = wb.create_sheet(_sheet_name(code, townships.get(code, ""), names))
        mine = [u for u in report["unreached"] if u["township"] == code]
        village_names = {v["village"]: v["name"] for v in report["villages"]}
        ws.append(
            [
                f"{townships.get(code, '') or '未知乡镇 unknown township'} {code}",
                f"未到户 not reached: {len(mine)}",
            ]
        )
        ws.append(list(UNREACHED_HEADER))
        for u in mine:
            ws.append(
                [
                    u["household_id"],
                    u["village"],
                    village_names.get(u["village"], ""),
                    u["group"],
                    "是" if u["vulnerable"] else "",
                    u["state"],
                    u["reason"],
                ]
            )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _summary(ws: Any, report: dict[str, Any]) -> None:
    drill = "【演练】" if report["drill"] else ""
    pct = round(100.0 * report["reached"] / max(report["households"], 1), 1)
    for row in (
        [f"{drill}预警闭环报告 closure report", report["headline"]],
        ["预警 warning", report["warning_id"]],
        ["灾种 hazard / 等级 severity", f"{report['hazard']} / {report['severity']}"],
        ["状态 state", report["state"]],
        ["户数 households", report["households"]],
        ["到户 reached", report["reached"]],
        ["到户率 reached %", pct],
        ["无法送达 unreachable", report["unreachable"]],
        ["未闭环 still open", report["open"]],
        ["单位未闭环 orgs still open", report.get("orgs", {}).get("open", 0)],
        ["闭环 closed", "是 yes" if report.get("closed") else "否 no"],
        [
            "脆弱户到户 vulnerable reached",
            f"{report['vulnerable']['reached']}/{report['vulnerable']['households']}",
        ],
        ["人数 persons", report["persons"]["total"]],
        ["到人 persons accounted for", report["persons_accounted"]],
        *(
            [f"未到人 not accounted for: {PERSON_REASONS.get(k, k)}", n]
            for k, n in report["persons_unaccounted"].items()
        ),
        [],
        list(VILLAGE_HEADER),
    ):
        ws.append(row)
    for v in report["villages"]:
        ws.append(
            [
                v.get("township", ""),
                v["village"],
                v["name"],
                v["households"],
                v["reached"],
                f"{v['vulnerable_reached']}/{v['vulnerable']}",
            ]
        )
    ws.append([])
    ws.append(
        ["叫应未应答 staff not answering", "上级 superior called", "叫应对象 called on duty", "通话 calls"]
    )
    for s in report["staff_not_answering"]:
        ws.append(
            [s["person_id"], s["superior_id"] or "—", "、".join(s.get("called", [])), s.get("calls", 0)]
        )


def _sheet_name(code: str, name: str, taken: set[str]) -> str:
    """An Excel sheet name (≤ 31 characters, none of []:*?/\\), unique in the workbook."""
    base = _BAD.sub("_", f"{name} {code}".strip() or "未知乡镇 unknown")[:31]
    out, n = base, 1
    while out in taken:
        n += 1
        out = f"{base[:28]}~{n}"
    taken.add(out)
    return out
