"""wechat_groups(.csv|.xlsx) (optional): each village's or group's WeChat group (村/组微信群) and the key
of the WeCom group robot (群机器人) that posts warnings into it. Columns: cell_code (村组编码), robot_key
(机器人key: the key itself, or the robot's whole webhook address), name (群名称, optional).

A robot key is a secret: anyone holding it can post to the group. Problems name the line and the column,
never the key's value."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from warnengine.directory.parse.fields import Problem, check_cell
from warnengine.directory.parse.tables import Table
from warnengine.model import Level
from warnengine.model.grid import WeChatGroup

WECHAT_GROUPS_STEM = "wechat_groups"
WECHAT_GROUP_FIELDS = ("cell_code", "robot_key")
WECHAT_GROUP_OPTIONAL = ("name",)
# WeCom robot keys are UUIDs; anything of letters, digits and dashes of a sane length is accepted.
_KEY = re.compile(r"^[A-Za-z0-9-]{8,64}$")
_CELL_LEVELS = (Level.VILLAGE, Level.GROUP)


def robot_key(text: str) -> str:
    """The key of `text`: a bare key, or the `key` parameter of a robot's webhook address."""
    text = text.strip()
    if "://" in text:
        return (parse_qs(urlsplit(text).query).get("key") or [""])[0].strip()
    return text


def read_wechat_groups(
    table: Table | None, levels: dict[str, Level] | None, problems: list[Problem]
) -> list[WeChatGroup]:
    if table is None:
        return []
    name, out, seen = table.name, [], set[str]()
    name_at = table.header.index("name") if "name" in table.header else len(table.header)
    for line, row in table.rows:
        cell, raw = row[0].strip(), row[1]
        here = len(problems)
        if not cell:
            problems.append(Problem(name, line, "缺少 / missing cell_code", "cell_code"))
        elif cell in seen:
            problems.append(
                Problem(name, line, f"重复的村组 / duplicate cell_code {cell}", "cell_code", cell)
            )
        else:
            check_cell(cell, None, levels, name, line, problems)
            if levels is not None and levels.get(cell) not in (None, *_CELL_LEVELS):
                why = f"只能是村或组 / cell {cell} is a {levels[cell].value}: a village or group only"
                problems.append(Problem(name, line, why, "cell_code", cell))
        seen.add(cell)
        key = robot_key(raw)
        if not key:
            problems.append(Problem(name, line, "缺少机器人key / missing robot_key", "robot_key"))
        elif not _KEY.match(key):  # the value stays out of the report: it may be a real key mistyped
            why = "机器人key格式不对 / robot_key is not a WeCom robot key (8-64 letters, digits, dashes)"
            problems.append(Problem(name, line, why, "robot_key"))
        if len(problems) == here:
            label = row[name_at].strip() if name_at < len(row) else ""
            out.append(WeChatGroup(cell_code=cell, robot_key=key, name=label or None))
    return out
