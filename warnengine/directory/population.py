"""Households and the people in them (residents and grid staff) for the synthetic county."""

from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass, field

import warnengine.directory.naming as naming
from warnengine.model import Household, Person, Role

# Household sizes of rural North China: mostly 2-4, some elderly living alone, few very large.
_MEMBERS = (1, 2, 3, 4, 5, 6)
_MEMBER_WEIGHTS = (0.12, 0.25, 0.24, 0.20, 0.12, 0.07)
# P(vulnerable) by size: elderly living alone (空巢老人) dominate; overall 0.12*0.30 + 0.88*0.05 = 8%.
_VULNERABLE_ALONE, _VULNERABLE_OTHER = 0.30, 0.05


@dataclass
class Draft:
    """A person before ids are handed out (ids follow the final order: staff first, then residents)."""

    household_id: str | None
    cell_code: str
    name: str
    role: Role
    phone: str | None = None
    wechat_openid: str | None = None
    app_token: str | None = None


# Mainland mobile prefixes every number of which libphonenumber's metadata accepts as a mobile.
_PREFIXES = tuple(
    str(p)
    for p in (
        *range(130, 140), 145, 147, 150, 151, 152, 153, *range(155, 160), 162, 165, 166, 167,
        *range(170, 174), *range(175, 179), *range(180, 194), *range(195, 200),
    )
)  # fmt: skip
_MOBILE_PREFIXES = frozenset(_PREFIXES)


@dataclass
class Contacts:
    """Phone numbers (unique county-wide), WeChat openids and app push tokens."""

    rng: random.Random
    phones: set[str] = field(default_factory=set)

    def phone(self) -> str:
        while True:  # mainland mobile: +86 1[3-9] and 9 digits, in an allocated prefix (phonenumbers)
            number = f"+861{self.rng.randrange(3 * 10**9, 10**10)}"
            if number[3:6] not in _MOBILE_PREFIXES:  # remapped, not redrawn: the same random stream
                number = f"+86{_PREFIXES[int(number[6:]) % len(_PREFIXES)]}{number[6:]}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def openid(self) -> str:
        # 27 url-safe base64 characters: 162 random bits (the 21 bytes encode to 28; drop the last).
        return "o" + base64.urlsafe_b64encode(self.rng.getrandbits(168).to_bytes(21, "big")).decode()[:27]

    def app_token(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def fill(self, draft: Draft, phone_p: float, wechat_p: float, app_p: float) -> Draft:
        """Give `draft` a phone with probability phone_p, and then WeChat / app with theirs."""
        if self.rng.random() < phone_p:
            draft.phone = self.phone()
            if self.rng.random() < wechat_p:
                draft.wechat_openid = self.openid()
            if self.rng.random() < app_p:
                draft.app_token = self.app_token()
        return draft


def staff(
    contacts: Contacts, cell_code: str, role: Role, household_id: str | None = None, name: str | None = None
) -> Draft:
    """Grid staff always have a phone and nearly always WeChat and the duty app."""
    draft = Draft(household_id, cell_code, name or naming.person_name(contacts.rng), role)
    return contacts.fill(draft, 1.0, 0.9, 0.95)


def household(rng: random.Random, household_id: str, cell_code: str, lon: float, lat: float) -> Household:
    members = rng.choices(_MEMBERS, _MEMBER_WEIGHTS)[0]
    p = _VULNERABLE_ALONE if members == 1 else _VULNERABLE_OTHER
    return Household(
        household_id=household_id,
        cell_code=cell_code,
        lon=lon,
        lat=lat,
        members=members,
        vulnerable=rng.random() < p,
    )


def residents(contacts: Contacts, home: Household) -> list[Draft]:
    """The household's members: a head, a spouse, then children or elderly parents (same surname)."""
    rng = contacts.rng
    family = naming.surname(rng)
    head_female = rng.random() < (0.6 if home.vulnerable and home.members == 1 else 0.2)
    # An elderly or disabled person's household is less often reachable by phone: visits matter there.
    adult_phone_p = 0.55 if home.vulnerable else 0.88
    out = []
    for i in range(home.members):
        if i == 0:
            name, adult = naming.person_name(rng, family, head_female), True
        elif i == 1:
            name, adult = naming.person_name(rng, None, not head_female), True
        else:
            adult = rng.random() < 0.45
            name = naming.person_name(rng, family)
        draft = Draft(home.household_id, home.cell_code, name, Role.RESIDENT)
        out.append(contacts.fill(draft, adult_phone_p if adult else 0.1, 0.45, 0.2))
    return out


def pick_leader(rng: random.Random, homes: list[Household]) -> int:
    """Index of the household whose head becomes the group leader: a larger, non-vulnerable one."""
    able = [i for i, h in enumerate(homes) if h.members >= 2 and not h.vulnerable]
    return rng.choice(able or list(range(len(homes))))


def drill_opt_in(person_id: str, role: Role) -> bool:
    """Staff take part in drills; about one resident in five opted in (from the id, so that adding this
    drew nothing from the generator's random stream and every county stays as it was)."""
    return role is not Role.RESIDENT or int(hashlib.sha256(person_id.encode()).hexdigest()[:8], 16) % 5 == 0


def number(drafts: list[Draft]) -> list[Person]:
    return [
        Person(
            person_id=f"p{i:06d}",
            household_id=d.household_id,
            cell_code=d.cell_code,
            name=d.name,
            role=d.role,
            phone=d.phone,
            phone_kind="mobile" if d.phone else None,
            wechat_openid=d.wechat_openid,
            app_token=d.app_token,
            drill_opt_in=drill_opt_in(f"p{i:06d}", d.role),
            # Staff on WeChat are on the county's WeCom too (from the id: nothing drawn, counties unchanged).
            wecom_userid=f"yj-p{i:06d}" if d.role is not Role.RESIDENT and d.wechat_openid else None,
        )
        for i, d in enumerate(drafts, start=1)
    ]
