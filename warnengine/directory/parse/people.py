"""people(.csv|.xlsx): residents, cadres and point leads, each in a cell; a resident in their
household's. Phones in any common spelling, stored as E.164 with their kind (mobile / fixed_line)."""

from __future__ import annotations

import re

from warnengine.directory.parse.columns import ROLE_ALIASES
from warnengine.directory.parse.fields import (
    FCM_FIELD,
    OPT_IN_FIELD,
    PEOPLE_FIELDS,
    WECOM_FIELD,
    Problem,
    check_cell,
    check_unique,
    read_opt_in,
)
from warnengine.directory.parse.phones import parse_phone
from warnengine.directory.parse.tables import Table
from warnengine.model import Level, Person, Role
from warnengine.model.grid import PhoneKind

_ROLES = {role.value: role for role in Role} | {k: Role(v) for k, v in ROLE_ALIASES.items()}


def read_people(
    table: Table | None,
    levels: dict[str, Level] | None,
    household_cells: dict[str, str] | None,
    region: str,
    problems: list[Problem],
) -> list[Person]:
    if table is None:
        return []
    name, out, seen = table.name, [], set[str]()
    width = len(PEOPLE_FIELDS)
    # Either optional column may be left out (an absent column has an index past the row's end).
    opt_in_at = table.header.index(OPT_IN_FIELD) if OPT_IN_FIELD in table.header else len(table.header)
    fcm_at = table.header.index(FCM_FIELD) if FCM_FIELD in table.header else len(table.header)
    wecom_at = table.header.index(WECOM_FIELD) if WECOM_FIELD in table.header else len(table.header)
    for line, row in table.rows:
        pid, hid, cell, pname, role, phone, openid, token = row[:width]
        here = len(problems)
        opt_in = read_opt_in(row, opt_in_at, False, name, line, problems)
        fcm = row[fcm_at].strip() if fcm_at < len(row) else ""
        wecom = row[wecom_at].strip() if wecom_at < len(row) else ""
        check_unique(pid, seen, "person_id", name, line, problems)
        seen.add(pid)
        check_cell(cell, None, levels, name, line, problems)
        role_ = _ROLES.get(role)
        if role_ is None:
            problems.append(Problem(name, line, f"未知角色 / unknown role {role!r}", "role", role))
        if not pname:
            problems.append(Problem(name, line, "缺少姓名 / missing name", "name"))
        number: tuple[str, PhoneKind] | None = None
        if phone:
            parsed = parse_phone(phone, region)
            if isinstance(parsed, str):
                problems.append(Problem(name, line, f"phone {phone!r}: {parsed}", "phone", phone))
            else:
                number = parsed
        _check_home(role_, hid, cell, household_cells, name, line, problems)
        _check_wecom(wecom, role_, name, line, problems)
        if len(problems) == here:
            assert role_ is not None
            out.append(
                Person(
                    person_id=pid,
                    household_id=hid or None,
                    cell_code=cell,
                    name=pname,
                    role=role_,
                    phone=number[0] if number else None,
                    phone_kind=number[1] if number else None,
                    wechat_openid=openid or None,
                    app_token=token or None,
                    drill_opt_in=opt_in,
                    fcm_token=fcm or None,
                    wecom_userid=wecom or None,
                )
            )
    return out


def _check_home(
    role: Role | None,
    hid: str,
    cell: str,
    household_cells: dict[str, str] | None,
    name: str,
    line: int,
    problems: list[Problem],
) -> None:
    if role is Role.RESIDENT and not hid:
        problems.append(Problem(name, line, "居民需要户号 / a resident needs a household_id", "household_id"))
    elif household_cells is None or not hid:
        pass
    elif hid not in household_cells:
        problems.append(Problem(name, line, f"没有该户 / unknown household {hid}", "household_id", hid))
    elif role is Role.RESIDENT and household_cells[hid] != cell:
        message = (
            f"居民与其户不在同一网格 / resident's cell {cell} is not their household's cell "
            f"{household_cells[hid]}"
        )
        problems.append(Problem(name, line, message, "cell_code", cell))


_WECOM_USERID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")  # WeCom's own rule for a member's userid


def _check_wecom(userid: str, role: Role | None, name: str, line: int, problems: list[Problem]) -> None:
    """A WeCom userid only for staff (app cards acknowledge staff, never residents), in WeCom's alphabet."""
    if not userid:
        return
    if role is Role.RESIDENT:
        staff_only = "企业微信账号只用于工作人员 / a WeCom userid is for staff only"
        problems.append(Problem(name, line, staff_only, "wecom_userid"))
    elif not _WECOM_USERID.fullmatch(userid):
        problems.append(
            Problem(
                name,
                line,
                f"企业微信账号无效 / WeCom userid {userid!r}: 1-64 letters, digits, _ . @ -",
                "wecom_userid",
                userid,
            )
        )
