"""JSON from strangers, bounded: a size limit before parsing and a nesting-depth limit.

Python's json recursion turns deeply nested input (`[[[[…]]]]`) into RecursionError, which callers catching
ValueError never see: one small message could crash a terminal or make the API answer 500. Every parser of
untrusted JSON (terminals' commands, the API's request bodies) goes through `loads_bounded`.
"""

from __future__ import annotations

import json
from typing import Any


class JsonRefused(ValueError):
    """`reason`: `too_large`, `too_deep` or `not_json`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings do not count)."""
    deepest = level = 0
    in_string = escaped = False
    for b in raw:
        if in_string:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:  # quote
                in_string = False
        elif b == 0x22:
            in_string = True
        elif b in (0x5B, 0x7B):  # [ {
            level += 1
            deepest = max(deepest, level)
        elif b in (0x5D, 0x7D):  # ] }
            level -= 1
    return deepest


def loads_bounded(raw: bytes, max_bytes: int, max_depth: int) -> Any:
    """The parsed JSON, or JsonRefused. Cheap for ordinary input: the byte scan runs only when the text
    holds more brackets than `max_depth`, the only way it can nest deeper."""
    if len(raw) > max_bytes:
        raise JsonRefused("too_large", f"over {max_bytes} bytes")
    if raw.count(b"[") + raw.count(b"{") > max_depth and depth(raw) > max_depth:
        raise JsonRefused("too_deep", f"nested deeper than {max_depth}")
    try:
        return json.loads(raw)
    except RecursionError as e:  # not reached under the depth limit; kept so it can never escape
        raise JsonRefused("too_deep", "nested too deeply") from e
    except ValueError as e:  # includes UnicodeDecodeError
        raise JsonRefused("not_json", f"not JSON: {e}") from e
