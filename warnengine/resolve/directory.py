"""The county directory in memory, shaped for targeting: households as coordinate arrays per village,
people per household, staff per cell, terminals and monitoring points.

Built once per worker from the database (`Directory.load`) and read by resolve, plan and preview, so a
county-wide warning is decided without a query per village.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from warnengine.model import Level, Role
from warnengine.resolve.index import VillageIndex
from warnengine.resolve.orgs import OrgIndex

_KIND = 8  # people rows: the Contact fields to drill_opt_in, then phone_kind and wecom_userid (optional)
_WECOM = 9


class Contact(NamedTuple):
    """One person, as targeting needs them (a tuple: a 500,000-person county stays small in memory).

    `phone` is the number SMS goes to: a mobile. A landline (phone_kind fixed_line) is kept apart in
    `landline`, for voice calls, so no plan ever sends it an SMS."""

    person_id: str
    household_id: str | None
    cell_code: str
    role: Role
    phone: str | None
    wechat_openid: str | None
    app_token: str | None
    drill_opt_in: bool
    landline: str | None = None
    wecom_userid: str | None = None  # staff only (people.csv's wecom_userid)


@dataclass
class Homes:
    """The households of one village as parallel arrays (index i is one household)."""

    ids: list[str] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)
    lon: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    lat: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    vulnerable: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    members: NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Point:
    point_id: str
    village: str
    households: tuple[str, ...]
    lead: str | None


class Register(NamedTuple):
    """A household's entry in the vulnerable register (包保): category, mobility, helper and their name."""

    category: str
    mobility: str
    helper: str | None
    helper_name: str | None


@dataclass(frozen=True)
class CellInfo:
    level: Level
    parent: str | None
    name: str


class Directory:
    def __init__(
        self,
        villages: VillageIndex,
        cells: dict[str, CellInfo],
        homes: dict[str, Homes],
        members: dict[str, list[Contact]],
        staff: dict[str, list[Contact]],
        devices: dict[str, list[tuple[str, bool]]],
        points: dict[str, Point],
        register: dict[str, Register] | None = None,
    ) -> None:
        self.villages = villages
        self.cells = cells
        self.homes = homes
        self.members = members  # household id → everyone living there
        self.staff = staff  # cell code → grid staff posted to that cell (roles other than resident)
        self.devices = devices  # village code → (device id, plays drills)
        self.points = points
        self.register = register or {}  # household id → its vulnerable register entry (helper, 包保)
        self.household_index: dict[str, tuple[str, int]] = {
            hid: (v, i) for v, h in homes.items() for i, hid in enumerate(h.ids)
        }
        self._above = {code: self._chain(code) for code in cells}
        self._by_address: dict[str, list[str]] | None = None
        self._people: dict[str, Contact] | None = None
        # Issue 18, set by `load` (wechat_groups, push_tokens): a village's or group's robot key (a secret,
        # looked up only at dispatch: deliveries name the cell), and app_token → the same person's FCM token.
        self.robot_keys: dict[str, str] = {}
        self.second_tokens: dict[str, str] = {}
        self.orgs = OrgIndex()  # schools, enterprises… (issue 17): set by `load`

    @classmethod
    def build(
        cls,
        villages: Iterable[tuple[str, str, dict[str, Any]]],
        cells: Iterable[Sequence[Any]],
        households: Iterable[Sequence[Any]],
        people: Iterable[Sequence[Any]],
        devices: Iterable[Sequence[Any]],
        points: Iterable[Sequence[Any]],
        point_households: Iterable[Sequence[Any]],
        register: Iterable[Sequence[Any]] = (),
    ) -> Directory:
        """From rows shaped like `Store.directory_rows` (cells: code, level, parent, name; households:
        id, cell, lon, lat, members, vulnerable; people: the fields of Contact to drill_opt_in, then
        phone_kind if known (a fixed_line number is a landline, never SMS); devices: id,
        cell, drill_opt_in; points: the points table's columns; point_households: point id, household;
        register: household, category, mobility, helper id, helper name)."""
        info = {r[0]: CellInfo(Level(r[1]), r[2], r[3]) for r in cells}
        grouped: dict[str, list[Sequence[Any]]] = {}
        for row in sorted(households, key=lambda r: r[0]):
            grouped.setdefault(_village_of(row[1]), []).append(row)
        homes = {
            v: Homes(
                ids=[r[0] for r in rows],
                cells=[r[1] for r in rows],
                lon=np.array([r[2] for r in rows], dtype=np.float64),
                lat=np.array([r[3] for r in rows], dtype=np.float64),
                members=np.array([r[4] for r in rows], dtype=np.int32),
                vulnerable=np.array([bool(r[5]) for r in rows], dtype=bool),
            )
            for v, rows in grouped.items()
        }
        members: dict[str, list[Contact]] = {}
        staff: dict[str, list[Contact]] = {}
        for row in sorted(people, key=lambda r: r[0]):
            phone, landline = row[4], None
            if len(row) > _KIND and row[_KIND] == "fixed_line":
                phone, landline = None, row[4]
            wecom = row[_WECOM] if len(row) > _WECOM else None
            c = Contact(
                row[0], row[1], row[2], Role(row[3]), phone, row[5], row[6], bool(row[7]), landline, wecom
            )
            if c.household_id:
                members.setdefault(c.household_id, []).append(c)
            if c.role is not Role.RESIDENT:
                staff.setdefault(c.cell_code, []).append(c)
        speakers: dict[str, list[tuple[str, bool]]] = {}
        for did, cell, opt_in in sorted(devices, key=lambda r: r[0]):
            speakers.setdefault(cell, []).append((did, bool(opt_in)))
        threatened: dict[str, list[str]] = {}
        for pid, hid in point_households:
            threatened.setdefault(pid, []).append(hid)
        pts = {
            r[0]: Point(r[0], _village_of(r[1]), tuple(sorted(threatened.get(r[0], []))), r[6])
            for r in points
        }
        helpers = {r[0]: Register(r[1], r[2], r[3], r[4]) for r in register}
        return cls(VillageIndex(villages), info, homes, members, staff, speakers, pts, helpers)

    @classmethod
    async def load(cls, store: Any) -> Directory:
        """From the database (`store` is a warnengine.db.store.Store)."""
        rows = await store.directory_rows()
        villages = [(r.code, r.name, json.loads(r.geometry)) for r in rows["village_geometry"]]
        d = cls.build(
            villages,
            rows["cells"],
            rows["households"],
            rows["people"],
            rows["devices"],
            rows["points"],
            rows["point_households"],
            rows.get("vulnerable", ()),
        )
        d.robot_keys = {r[0]: r[1] for r in rows.get("wechat_groups", ())}
        fcm = {r[0]: r[1] for r in rows.get("push_tokens", ())}
        d.second_tokens = {r[6]: fcm[r[0]] for r in rows["people"] if r[6] and r[0] in fcm}
        d.orgs = OrgIndex.build(await store.org_directory_rows())
        return d

    def people_at(self, address: str) -> list[str]:
        """Ids of the people with this phone, openid, app token or WeCom userid (a family may share one
        phone). Built on first use: only the ack stage needs it."""
        if self._by_address is None:
            index: dict[str, list[str]] = {}
            for c in self.contacts().values():
                for addr in (c.phone, c.wechat_openid, c.app_token, c.landline, c.wecom_userid):
                    if addr:
                        index.setdefault(addr, []).append(c.person_id)
            self._by_address = index
        return self._by_address.get(address, [])

    def contacts(self) -> dict[str, Contact]:
        """Everyone, by person id (built on first use)."""
        if self._people is None:
            people = {c.person_id: c for cs in self.members.values() for c in cs}
            people.update({c.person_id: c for cs in self.staff.values() for c in cs})
            self._people = people
        return self._people

    def above(self, code: str) -> list[str]:
        """`code` and every cell above it, nearest first (group → village → township → county)."""
        return self._above.get(code, [code])

    def _chain(self, code: str) -> list[str]:
        out, seen = [], set()
        current: str | None = code
        while current is not None and current not in seen:
            out.append(current)
            seen.add(current)
            cell = self.cells.get(current)
            current = cell.parent if cell else None
        return out


def _village_of(cell_code: str) -> str:
    """A household's village: group codes are the village's 12 digits plus two (our convention)."""
    return cell_code[:12]
