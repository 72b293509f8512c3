"""duty(.csv|.xlsx), the roster (值班表): cell, role, post (A, B, deputy), person, shift start and end.

Times are written in the county's time zone (a time with its own offset, +08:00, is taken as written);
a spreadsheet's date cells are read as such. Checked row by row (unknown cell, person, role or post, a
time that is not one, a shift that ends before it starts), then across rows: two shifts of one post of a
cell and role that overlap, and a gap in post A (the post that is called first) between two shifts, are
each reported on the later row. Nothing is imported while anything is reported.
"""

from __future__ import annotations

import itertools
from collections.abc import Container
from datetime import datetime, tzinfo

from warnengine.directory.parse.columns import POST_ALIASES, ROLE_ALIASES, normalise
from warnengine.directory.parse.fields import Problem, check_cell
from warnengine.directory.parse.tables import Table
from warnengine.model import Level, Role
from warnengine.model.duty import Post, Shift

DUTY_STEM = "duty"
DUTY_FIELDS = ("cell_code", "role", "post", "person_id", "start", "end")
TIME_FIELDS = ("start", "end")
_ROLES = {role.value: role for role in Role} | {k: Role(v) for k, v in ROLE_ALIASES.items()}
_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日%H:%M", "%Y%m%d %H:%M")


def parse_time(text: str, tz: tzinfo) -> float | None:
    """A shift boundary as epoch seconds: ISO 8601 or 2026/6/1 8:00 or 2026年6月1日 08:00; a time without
    an offset is in `tz` (the county's)."""
    t = text.strip().replace("/", "-").replace("：", ":")
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(t)
    except ValueError:
        for fmt in _FORMATS:
            try:
                parsed = datetime.strptime(t, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.timestamp()


def parse_post(text: str) -> Post | None:
    value = POST_ALIASES.get(normalise(text), text)
    try:
        return Post(value)
    except ValueError:
        return None


def read_duty(
    table: Table | None,
    levels: dict[str, Level] | None,
    people: Container[str] | None,
    tz: tzinfo,
    problems: list[Problem],
) -> list[Shift]:
    """The roster's shifts; every problem is added to `problems` (levels/people None: not checked)."""
    if table is None:
        return []
    name = table.name
    declared: list[tuple[int, Shift]] = []
    good: set[int] = set()
    for line, row in table.rows:
        cell, role, post, person, start, end = row[: len(DUTY_FIELDS)]
        here = len(problems)
        check_cell(cell, None, levels, name, line, problems)
        role_ = _ROLES.get(role)
        if role_ is None or role_ is Role.RESIDENT:
            problems.append(Problem(name, line, f"未知角色 / unknown role {role!r}", "role", role))
        post_ = parse_post(post)
        if post_ is None:
            message = f"岗位应为 A、B 或 deputy（副职） / post must be A, B or deputy, got {post!r}"
            problems.append(Problem(name, line, message, "post", post))
        if not person:
            problems.append(Problem(name, line, "缺少人员编号 / missing person_id", "person_id"))
        elif people is not None and person not in people:
            message = f"名册中没有该人员 / unknown person {person!r}"
            problems.append(Problem(name, line, message, "person_id", person))
        times = [
            _time(v, f, tz, name, line, problems) for f, v in zip(TIME_FIELDS, (start, end), strict=True)
        ]
        if times[0] is not None and times[1] is not None and times[1] <= times[0]:
            message = f"结束时间不晚于开始时间 / the shift ends ({end}) before it starts ({start})"
            problems.append(Problem(name, line, message, "end", end))
        start_, end_ = times
        if role_ is not None and post_ is not None and start_ is not None and end_ is not None:
            # A row with an unknown person still holds its post: its overlaps are reported too.
            declared.append((line, Shift(cell, role_, post_, person, start_, end_)))
            if len(problems) == here:
                good.add(line)
    check_overlaps(declared, name, problems)
    bad = {p.line for p in problems if p.file == name}
    return [s for line, s in declared if line in good and line not in bad]


def check_overlaps(found: list[tuple[int, Shift]], name: str, problems: list[Problem]) -> None:
    """Per cell, role and post, in time order: a shift starting before the previous one ends overlaps it;
    a post-A shift starting after the previous one ended leaves the cell without its first call."""
    posts: dict[tuple[str, Role, Post], list[tuple[int, Shift]]] = {}
    for line, s in found:
        posts.setdefault((s.cell_code, s.role, s.post), []).append((line, s))
    for (cell, role, post), shifts in posts.items():
        shifts.sort(key=lambda x: (x[1].start, x[0]))
        for (line0, prev), (line, s) in itertools.pairwise(shifts):
            where = f"{cell} {role.value} {post.value}"
            if s.start < prev.end:
                message = f"与第 {line0} 行的班次重叠 / overlaps the shift on row {line0} ({where})"
                problems.append(Problem(name, line, message, "start", s.person_id))
            elif post is Post.A and s.start > prev.end:
                gap = int((s.start - prev.end) // 60)
                message = (
                    f"与第 {line0} 行之间有 {gap} 分钟无人值 A 岗 / "
                    f"post A is unheld for {gap} min after the shift on row {line0} ({where})"
                )
                problems.append(Problem(name, line, message, "start", s.person_id))


def _time(text: str, field: str, tz: tzinfo, name: str, line: int, problems: list[Problem]) -> float | None:
    if not text:
        problems.append(Problem(name, line, f"缺少 / missing {field}", field))
        return None
    at = parse_time(text, tz)
    if at is None:
        message = f"不是时间 / not a time in {field}: {text!r} (2026-06-01 08:00)"
        problems.append(Problem(name, line, message, field, text))
    return at
