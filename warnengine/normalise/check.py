"""`warnengine cap check`: the parser's verdict on feed files, one plain dict per file.

Exit status of `run`: 0 when every file was checked, whatever the verdicts; 1 when a path does not
exist, cannot be read, or is a directory without *.xml/*.json files (nothing is checked then); 2 for a
usage error: a --trust file that cannot be loaded (argparse uses 2 for bad flags too).

The verdict is exactly parse_feed's (with the trust store, if any). A warning that parses but names no
polygon, circle or area code is still "accepted" here, as the CAP it is, but gets a `note`: the pipeline
stage dead-letters it (`no_area`), and an operator checking a file wants to know that.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from warnengine.model import MsgType
from warnengine.normalise.errors import FeedError
from warnengine.normalise.feeds import KINDS, sniff_kind
from warnengine.normalise.parse import MAX_FEED_BYTES, parse_feed_checked
from warnengine.normalise.trust import TrustConfigError, TrustStore

SUFFIXES = (".xml", ".json")
DEFAULT_SOURCE = "manual"  # the topic whose JSON is the generic format (docs/feeds.md)


class CheckPathError(Exception):
    """A path that does not exist or cannot be read, or a directory without feed files."""


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files as given; a directory becomes its *.xml / *.json files (sorted, not recursive).

    Everything is checked before anything is parsed, so that a typo'd path fails the run instead of
    being lost among a hundred verdicts."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
            if not found:
                raise CheckPathError(f"{path}: no *.xml or *.json files in this directory")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise CheckPathError(f"{path}: no such file or directory")
    for file in files:
        if not os.access(file, os.R_OK):
            raise CheckPathError(f"{file}: not readable")
    return files


def source_for(raw: bytes) -> str:
    """The feed topic a JSON message's "kind" belongs to, so that its native adapter is used; else the
    generic topic. (parse_feed picks adapters by topic; a file on disk has none.)"""
    body = raw.strip().removeprefix(b"\xef\xbb\xbf").lstrip()
    kind = sniff_kind(body) if body.startswith(b"{") else None
    return next((topic for topic, kinds in KINDS.items() if kind in kinds), DEFAULT_SOURCE)


def check_bytes(
    raw: bytes, file: str, trust: TrustStore | None = None, *, source: str | None = None
) -> dict[str, Any]:
    """One verdict: {"file", "verdict", "reason", "detail", "warning_id", "msg_type", "areas",
    "signature", "note"}; reason/detail are null when accepted, the warning's fields null when rejected."""
    try:
        warning, signature = parse_feed_checked(raw, source or source_for(raw), trust)
    except FeedError as exc:
        return rejected(file, exc)
    note = None
    if not warning.has_area and warning.msg_type is not MsgType.CANCEL:
        note = "no_area: names no polygon, circle or area code; the pipeline would dead-letter it"
    return {
        **rejected(file, None),
        "verdict": "accepted",
        "warning_id": warning.warning_id,
        "msg_type": warning.msg_type.value,
        "areas": len(warning.areas),
        "signature": signature.status.value,
        "note": note,
    }


def rejected(file: str, error: FeedError | None) -> dict[str, Any]:
    """The verdict for a rejection (with `error`), also the template every verdict starts from."""
    return {
        "file": file,
        "verdict": "rejected",
        "reason": error.reason if error else None,
        "detail": error.detail if error else None,
        "warning_id": None,
        "msg_type": None,
        "areas": None,
        "signature": None,
        "note": None,
    }


def check_files(
    files: Iterable[Path], trust: TrustStore | None = None, *, source: str | None = None
) -> Iterator[dict[str, Any]]:
    """Verdicts in order, one file in memory at a time. A file larger than the parser's limit is not
    read whole: its size alone gives the verdict (`too_large`)."""
    for file in files:
        with file.open("rb") as handle:
            raw = handle.read(MAX_FEED_BYTES + 1)
        if len(raw) > MAX_FEED_BYTES:
            detail = f"{file.stat().st_size} bytes; the limit is {MAX_FEED_BYTES}"
            yield rejected(str(file), FeedError("too_large", detail))
        else:
            yield check_bytes(raw, str(file), trust, source=source)


def human_line(result: dict[str, Any]) -> str:
    """One short line per file for a terminal."""
    if result["verdict"] == "accepted":
        text = (
            f"accepted  {result['file']}: {result['msg_type']} {result['warning_id']}, "
            f"{result['areas']} area(s), signature {result['signature']}"
        )
        return text + (f" — {result['note']}" if result["note"] else "")
    return f"rejected  {result['file']}: {result['reason']}: {result['detail']}"


def run(
    paths: Sequence[Path],
    *,
    trust_file: Path | None,
    as_json: bool,
    source: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """The command: verdicts to `out` (JSON lines or short lines), problems to `err`; exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        trust = TrustStore.load(trust_file) if trust_file else None
        files = expand_paths(paths)
    except TrustConfigError as exc:
        print(f"warnengine cap check: trust file: {exc}", file=err)
        return 2
    except CheckPathError as exc:
        print(f"warnengine cap check: {exc}", file=err)
        return 1
    for result in check_files(files, trust, source=source):
        print(json.dumps(result, ensure_ascii=False) if as_json else human_line(result), file=out, flush=True)
    return 0
