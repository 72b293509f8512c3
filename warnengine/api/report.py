"""The closure report (闭环) of a warning: what it reached, how fast, who not and why — drills labelled.

The report itself is warnengine/report (the same one `warnengine report` prints); this serves it as JSON and
as the printable HTML page and as an .xlsx workbook (report/xlsx.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from warnengine.api.context import ctx
from warnengine.api.errors import not_found
from warnengine.api.routing import STAFF, Op, json_out
from warnengine.api.warning_models import WARNING_ID

# The report's shape belongs to warnengine/report; documented as an object so it can grow there.
REPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "closure report: households reached by channel and minute, unreached with reasons, "
    "visit tasks, staff not answering, deliveries by channel and state; `drill` labels an exercise",
    "required": ["warning_id", "drill", "households", "reached"],
    "properties": {
        "warning_id": {"type": "string"},
        "drill": {"type": "boolean"},
        "households": {"type": "integer"},
        "reached": {"type": "integer"},
    },
}


async def _report(request: web.Request) -> dict[str, Any]:
    from warnengine.report.closure import closure_report

    warning_id = request.match_info["warning_id"]
    report = await closure_report(ctx(request).store, warning_id)
    if report is None:
        raise not_found(f"warning {warning_id} (in the pipeline's record)")
    return report


async def get_report(request: web.Request) -> web.Response:
    return json_out(await _report(request))


async def get_report_html(request: web.Request) -> web.Response:
    from warnengine.report.closure import to_html

    return web.Response(text=to_html(await _report(request)), content_type="text/html", charset="utf-8")


async def get_report_xlsx(request: web.Request) -> web.Response:
    from warnengine.report.xlsx import to_xlsx

    report = await _report(request)
    return web.Response(
        body=to_xlsx(report),
        content_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="closure-{report["warning_id"]}.xlsx"'},
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ID = {"warning_id": WARNING_ID}
OPS = [
    Op(
        "GET",
        "/api/v1/warnings/{warning_id}/report",
        get_report,
        "Closure report (闭环) as JSON",
        "status",
        STAFF,
        response=REPORT_SCHEMA,
        errors=(404,),
        path_params=ID,
    ),
    Op(
        "GET",
        "/api/v1/warnings/{warning_id}/report.html",
        get_report_html,
        "Closure report, printable",
        "status",
        STAFF,
        response={"type": "string"},
        content_type="text/html",
        errors=(404,),
        path_params=ID,
    ),
    Op(
        "GET",
        "/api/v1/warnings/{warning_id}/report.xlsx",
        get_report_xlsx,
        "Closure report as a workbook: a summary sheet, one sheet per township with its unreached list",
        "status",
        STAFF,
        response={"type": "string", "format": "binary"},
        content_type=XLSX,
        errors=(404,),
        path_params=ID,
    ),
]
