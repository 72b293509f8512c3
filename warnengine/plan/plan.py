"""Planning: a warning's reach × the policy → per-household records and per-person deliveries.

A plan is pure data computed from the in-memory directory; the store writes it in bulk. Delivery ids
are stable (warning id + version + person + channel), so planning the same version twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import cast

from warnengine.model import Channel, HazardWarning, Role, Status
from warnengine.model.delivery import delivery_id, delivery_id_from, version_prefix
from warnengine.plan.policy import Residents, Rule
from warnengine.resolve.directory import Contact, Directory, Homes
from warnengine.resolve.targets import Indices, Reach

_DRILL = (Status.EXERCISE, Status.TEST)


@dataclass
class VillagePlan:
    village: str
    # (household id, its cell, vulnerable)
    households: list[tuple[str, str, bool]] = field(default_factory=list)
    # (delivery id, channel value, address, person id (None: a group's robot), household id or None, cell
    # the person belongs to)
    deliveries: list[tuple[str, str, str, str | None, str | None, str]] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)


# The Contact field holding each people channel's address.
# Voice calls the mobile, else the landline (people.phone_kind fixed_line): VOICE_SLOT stands for both.
VOICE_SLOT = -1
# WeCom app cards go to staff by their WeCom userid (people.csv's wecom_userid): never to a resident
# (WECOM_SLOT stands for that field, for staff only).
WECOM_SLOT = -2
ADDRESS_FIELD = {
    Channel.SMS: 4,
    Channel.WECHAT: 5,
    Channel.APP: 6,
    Channel.VOICE: VOICE_SLOT,
    Channel.WECOM: WECOM_SLOT,
}
GROUP_PREFIX = "group:"  # a wechat_group delivery's recipient in the delivery id: one per cell


def person_delivery_id(warning_id: str, version: int, person_id: str, channel: str, step: int = 0) -> str:
    """A person's delivery on one channel; escalation step k > 0 (a resend) is a delivery of its own."""
    return delivery_id(warning_id, version, person_id if step == 0 else f"{person_id}#{step}", channel)


def address(c: Contact, channel: Channel) -> str | None:
    slot = ADDRESS_FIELD.get(channel)
    return None if slot is None else _at(c, slot)


def _at(c: Contact, slot: int) -> str | None:
    """The contact's address in `slot`; a landline only ever for voice."""
    if slot == VOICE_SLOT:
        return c.phone or c.landline
    if slot == WECOM_SLOT:
        return c.wecom_userid if c.role is not Role.RESIDENT else None
    return cast(str | None, c[slot])


def plan_warning(w: HazardWarning, reach: Reach, directory: Directory, rule: Rule) -> Iterator[VillagePlan]:
    """One plan per reached village, in village order; staff above the villages (township, county) are
    planned once, in the first village that needs them."""
    drill = w.status in _DRILL
    prefix = version_prefix(w.warning_id, w.version)  # once per version: see delivery_id_from
    channels = tuple((ch.value, ADDRESS_FIELD[ch]) for ch in rule.person_channels)
    # Village groups (issue 18): never for a drill, which must reach only the people who opted in.
    groups_too = Channel.WECHAT_GROUP in rule.channels and not drill and bool(directory.robot_keys)
    # Households are tracked (到户) unless nothing can ever reach or count them: a loudspeaker-only rule.
    track = rule.residents is not Residents.NONE or rule.loudspeaker_reaches_household or bool(rule.ladder)
    seen: set[str] = set()  # everyone planned so far: a group leader at home is messaged once, not twice
    threatened_by = _point_leads(directory, reach)
    for village in sorted(reach.villages):
        plan = VillagePlan(village)
        homes = directory.homes.get(village) if track else None
        indices = reach.households.get(village)
        groups: set[str] = set()
        if homes is not None and indices is not None:
            groups = _plan_households(
                plan, homes, indices.tolist(), directory, rule, prefix, channels, drill, seen
            )
        if rule.loudspeaker:
            plan.devices = _speakers(directory, village, drill)
        cells = sorted(groups) + directory.above(village)
        _plan_staff(plan, cells, directory, rule, reach, threatened_by, prefix, channels, drill, seen)
        if groups_too:
            _plan_wechat_groups(plan, _covered_groups(directory, village, indices), directory, prefix)
        if plan.households or plan.deliveries or plan.devices:
            yield plan


def _plan_households(
    plan: VillagePlan,
    homes: Homes,
    indices: list[int],
    directory: Directory,
    rule: Rule,
    prefix: str,
    channels: tuple[tuple[str, int], ...],
    drill: bool,
    seen: set[str],
) -> set[str]:
    """The village's reached households (tracked) and their members (messaged, as the rule says); returns
    the groups they live in."""
    groups: set[str] = set()
    for i in indices:
        hid, cell, vulnerable = homes.ids[i], homes.cells[i], bool(homes.vulnerable[i])
        members = directory.members.get(hid, [])
        if drill and not any(m.drill_opt_in for m in members):
            continue  # a drill's closure counts only households that take part
        plan.households.append((hid, cell, vulnerable))
        groups.add(cell)
        if rule.residents is Residents.NONE or (rule.residents is Residents.VULNERABLE and not vulnerable):
            continue
        for m in members:
            _add(plan, prefix, m, channels, drill, hid, seen)
    return groups


def _plan_staff(
    plan: VillagePlan,
    cells: list[str],
    directory: Directory,
    rule: Rule,
    reach: Reach,
    threatened_by: dict[str, list[Contact]],
    prefix: str,
    channels: tuple[tuple[str, int], ...],
    drill: bool,
    seen: set[str],
) -> None:
    """The staff in the rule's roles of `cells` (the village's groups, the village, the cells above), and
    the leads of the monitoring points threatening the village."""
    village = plan.village
    for cell in cells:
        for s in directory.staff.get(cell, []):
            if s.role not in rule.staff_roles:
                continue
            if s.role is Role.POINT_LEAD and village not in threatened_by and reach.points:
                continue  # a point alarm calls that point's lead, not every lead of the village
            _add(plan, prefix, s, channels, drill, None, seen)
    if Role.POINT_LEAD in rule.staff_roles:
        for lead in threatened_by.get(village, []):
            _add(plan, prefix, lead, channels, drill, None, seen)


def _covered_groups(directory: Directory, village: str, indices: Indices | None) -> list[str]:
    """The groups (村民小组) of the village the warning reaches households in."""
    homes = directory.homes.get(village)
    if homes is None or indices is None:
        return []
    return sorted({homes.cells[i] for i in indices.tolist()})


def _plan_wechat_groups(plan: VillagePlan, groups: list[str], directory: Directory, prefix: str) -> None:
    """One wechat_group delivery per robot of the village and of its covered groups. Its recipient is the
    cell code: the robot key (a secret) is looked up only when it is sent. No person, no household: a
    post to a group is evidence of sending, never of reach."""
    channel = Channel.WECHAT_GROUP.value
    for cell in [plan.village, *(g for g in groups if g != plan.village)]:
        if cell in directory.robot_keys:
            did = delivery_id_from(prefix, GROUP_PREFIX + cell, channel)
            plan.deliveries.append((did, channel, cell, None, None, cell))


def speaker_targets(
    w: HazardWarning, reach: Reach, directory: Directory, rule: Rule
) -> list[tuple[str, list[str]]]:
    """(village, terminals) the plan broadcasts to, the same as plan_warning's: written first, so
    loudspeakers start while the people's plan is still being computed."""
    if not rule.loudspeaker:
        return []
    drill = w.status in _DRILL
    return [(v, ds) for v in sorted(reach.villages) if (ds := _speakers(directory, v, drill))]


def _speakers(directory: Directory, village: str, drill: bool) -> list[str]:
    return [d for d, opt_in in directory.devices.get(village, []) if opt_in or not drill]


def _add(
    plan: VillagePlan,
    prefix: str,
    c: Contact,
    channels: tuple[tuple[str, int], ...],
    drill: bool,
    home: str | None,
    seen: set[str],
) -> None:
    if c.person_id in seen or (drill and not c.drill_opt_in):
        return
    seen.add(c.person_id)
    for channel, slot in channels:
        addr = _at(c, slot)
        if addr:
            did = delivery_id_from(prefix, c.person_id, channel)
            plan.deliveries.append((did, channel, addr, c.person_id, home or c.household_id, c.cell_code))


def _point_leads(directory: Directory, reach: Reach) -> dict[str, list[Contact]]:
    """Village → the leads of the monitoring points this warning names."""
    out: dict[str, list[Contact]] = {}
    by_id = {s.person_id: s for staff in directory.staff.values() for s in staff if s.role is Role.POINT_LEAD}
    for pid in reach.points:
        point = directory.points[pid]
        if point.lead and point.lead in by_id:
            out.setdefault(point.village, []).append(by_id[point.lead])
    return out
