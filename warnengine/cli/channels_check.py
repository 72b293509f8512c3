"""`warnengine channels check`: the day-one check an integrator runs before the first real warning.

The checks themselves (channels/check.py) are shared with the leader's scheduled canaries (issue 18). The
report is Chinese with English beside it (`--json` for machines); the exit code is 1 when anything would
fail. Secrets never appear in the report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from channels.check import Finding, check_all, check_provider
from channels.config import ConfigError

__all__ = ["Finding", "add_commands", "check_all", "check_provider"]


def add_commands(sub: Any, settings: Any) -> None:
    ch = sub.add_parser("channels", help="people channels (SMS, WeChat, app push)")
    csub = ch.add_subparsers(dest="channels_command", required=True)
    c = csub.add_parser("check", help="day-one check of every configured provider (cheap, harmless calls)")
    c.add_argument("--config", type=Path, default=None, help="channels.yaml (default: the settings' one)")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.set_defaults(fn=lambda a: _run(a, settings(a, endpoints=False)))


def _run(args: argparse.Namespace, s: Any) -> int:
    try:
        findings = asyncio.run(check_all(args.config or s.channels_file))
    except ConfigError as e:
        print(f"配置错误 / config error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([{**asdict(f), "failed": f.failed} for f in findings], ensure_ascii=False))
    else:
        for f in findings:
            print(f.line())
    return 1 if any(f.failed for f in findings) else 0
