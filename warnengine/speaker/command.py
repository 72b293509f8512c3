"""Reading a command off the wire, before any check: bounded JSON that must be an object.

Whatever arrives on a terminal's `cmd` topic — a stranger's `[1,2,3]`, a megabyte, `[[[[…]]]]` — becomes
either a command object or the reason it is refused, acked `rejected` with `cmd_id` `"?"`. Never an
exception: one bad message must not silence a terminal, let alone a farm of them.
"""

from __future__ import annotations

from typing import Any

from warnengine.wire.safejson import JsonRefused, loads_bounded

MAX_COMMAND_BYTES = 64 * 1024  # a real command is under 2 KiB (text included); larger: `too_large`
MAX_COMMAND_DEPTH = 8  # a command is one flat object; deeper: `too_deep`


def read_command(payload: bytes) -> dict[str, Any] | str:
    """The command, or the refusal reason: `too_large`, `too_deep`, `not_json`, `not_object`."""
    try:
        cmd = loads_bounded(payload, MAX_COMMAND_BYTES, MAX_COMMAND_DEPTH)
    except JsonRefused as e:
        return e.reason
    if not isinstance(cmd, dict):
        return "not_object"
    return cmd
