"""`warnengine duty import FILE|DIR` and `warnengine duty now [--cell CODE] [--at TIME] [--json]`: the
roster (值班表) and who holds each post right now, in the county's time zone."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from warnengine.settings import Settings


def add_commands(sub: Any, settings: Any) -> None:
    duty = sub.add_parser("duty", help="the duty roster (值班表): import it, who is on duty now")
    dsub = duty.add_subparsers(dest="duty_command", required=True)
    di = dsub.add_parser("import", help="replace the roster with duty.csv / duty.xlsx (checked first)")
    di.add_argument("path", type=Path, help="the roster file, or the county directory holding it")
    di.add_argument("--encoding", help="CSV encoding (default: detected)")
    di.add_argument("--sheet", help="the xlsx sheet to read (default: the first)")
    di.add_argument("--errors", type=Path, help="where to write the list of problems")
    di.set_defaults(fn=lambda a: asyncio.run(_import(a, settings(a))))
    dn = dsub.add_parser("now", help="who holds each post (A, B, deputy) right now")
    dn.add_argument("--cell", help="one cell's code (default: every cell the roster names)")
    dn.add_argument("--at", help="another moment, in the county's time zone: 2026-06-01 20:00")
    dn.add_argument("--json", action="store_true", help="one JSON object")
    dn.set_defaults(fn=lambda a: asyncio.run(_now(a, settings(a))))


def _roster_file(path: Path) -> Path | None:
    if path.is_file():
        return path
    found = [path / f"duty{s}" for s in (".csv", ".xlsx") if (path / f"duty{s}").is_file()]
    return found[0] if len(found) == 1 else None


async def _import(args: argparse.Namespace, s: Settings) -> int:
    from warnengine.cli.directory import _store
    from warnengine.directory.errors import summary, write_errors
    from warnengine.directory.parse import Problem, ReadOptions, open_table
    from warnengine.directory.parse.duty import DUTY_FIELDS, TIME_FIELDS, read_duty

    path = _roster_file(args.path)
    if path is None or path.suffix not in (".csv", ".xlsx"):
        print(f"error: no duty.csv or duty.xlsx (one of them) at {args.path}", file=sys.stderr)
        return 2
    store = await _store(s)
    try:
        levels, people = await store.duty_refs()
        problems: list[Problem] = []
        options = ReadOptions(encoding=args.encoding, sheet=args.sheet, time_zone=s.time_zone)
        table = open_table(path, DUTY_FIELDS, (), options, problems, TIME_FIELDS)
        shifts = read_duty(table, levels or None, people or None, ZoneInfo(s.time_zone), problems)
        if problems:
            errors = args.errors or path.with_name("duty-errors.csv")
            write_errors(problems, errors)
            for line in summary(problems):
                print(line, file=sys.stderr)
            print(f"完整列表 / full list: {errors}", file=sys.stderr)
            print(f"{len(problems)} problem(s); nothing imported / 有问题，未导入", file=sys.stderr)
            return 2
        await store.replace_roster(shifts)
    finally:
        await store.close()
    cells = len({x.cell_code for x in shifts})
    print(json.dumps({"shifts": len(shifts), "cells": cells}))
    return 0


async def _now(args: argparse.Namespace, s: Settings) -> int:
    from warnengine.cli.directory import _store
    from warnengine.directory.parse.duty import parse_time

    tz = ZoneInfo(s.time_zone)
    store = await _store(s)
    try:
        at = store.clock.now() if args.at is None else parse_time(args.at, tz)
        if at is None:
            print(f"error: --at {args.at!r} is not a time (2026-06-01 20:00)", file=sys.stderr)
            return 2
        board = await store.duty_board(at)
    finally:
        await store.close()
    cells = [args.cell] if args.cell else sorted(board.rostered)
    out = board.report(cells, at, tz)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"值班 / on duty at {out['at']}")
    for cell, posts in out["cells"].items():
        shown = "  ".join(
            f"{post}: {', '.join(h['person_id'] for h in hs)}" for post, hs in sorted(posts.items())
        )
        print(f"  {cell}  {shown or '无人值班 / nobody on duty'}")
    return 0
