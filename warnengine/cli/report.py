"""`warnengine report WARNING_ID [--html FILE] [--xlsx FILE]`: a closure report (闭环) from the record."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any


def add_commands(sub: Any, settings: Any) -> None:
    rp = sub.add_parser("report", help="a warning's closure report (JSON; --html for a printable page)")
    rp.add_argument("warning_id")
    rp.add_argument("--html", type=Path, default=None, help="also write the printable page here")
    rp.add_argument("--xlsx", type=Path, default=None, help="also write the workbook (a sheet per township)")
    rp.set_defaults(fn=lambda a: asyncio.run(_report(a, settings(a))))


async def _report(args: argparse.Namespace, s: Any) -> int:
    from warnengine.clock import SystemClock
    from warnengine.db import connect, migrate
    from warnengine.db.store import Store
    from warnengine.report.closure import closure_report, to_html

    engine = connect(s.db_url())
    await migrate(engine)
    store = Store(engine, SystemClock())
    try:
        report = await closure_report(store, args.warning_id)
    finally:
        await store.close()
    if report is None:
        print(f"error: no warning {args.warning_id!r} on record", file=sys.stderr)
        return 2
    if args.html:
        args.html.write_text(to_html(report), encoding="utf-8")
    if args.xlsx:
        from warnengine.report.xlsx import to_xlsx

        args.xlsx.write_bytes(to_xlsx(report))
    print(json.dumps(report, ensure_ascii=False))
    return 0
