"""Pre-flight before release: the responsible persons of the reached cells whom no call can reach.

Responsible: the grid staff (every role but resident) posted to the reached groups and villages and to
every cell above them (township, county): the people a 叫应 or a visit may go to. Unreachable by phone: no
mobile and no landline on record (a number the import could not read is not kept, so "all numbers
invalid" ends here too). The dispatcher sees the list before pressing release (API preview `unreachable`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from warnengine.resolve.directory import Directory

SHOWN = 200  # the list is cut here; `unreachable_count` is the whole count


def unreachable_staff(directory: Directory, cells: Iterable[str]) -> tuple[list[dict[str, Any]], int]:
    """(the first SHOWN unreachable responsible persons, how many in all), by cell then person."""
    wanted: set[str] = set()
    for cell in cells:
        wanted.update(directory.above(cell))
    out: list[dict[str, Any]] = []
    for cell in sorted(wanted):
        for s in directory.staff.get(cell, []):
            if s.phone or s.landline:
                continue
            info = directory.cells.get(cell)
            out.append(
                {
                    "person_id": s.person_id,
                    "role": s.role.value,
                    "cell_code": cell,
                    "cell_name": info.name if info else "",
                    "reason": "无电话 / no phone on record",
                    "other_channels": [
                        ch
                        for ch, v in (
                            ("wechat", s.wechat_openid),
                            ("app", s.app_token),
                            ("wecom", s.wecom_userid),
                        )
                        if v
                    ],
                }
            )
    return out[:SHOWN], len(out)
