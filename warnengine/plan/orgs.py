"""Planning organisations (issue 17): the schools, enterprises, construction sites… a warning covers get
their responsible persons messaged on the rule's channels, each delivery tied to its org, and a per-warning
row (warning_orgs) that an acknowledgement marks reached and the ladder escalates while it is not.

An org delivery is the person's own (person id, household none) under a recipient key of its own
(`<person>@<org>`), so a principal who also lives in the area gets both the warning and the school's
message, and the school's acknowledgement is the school's alone."""

from __future__ import annotations

from dataclasses import dataclass, field

from warnengine.model import Channel, HazardWarning, Status
from warnengine.model.org import KIND_NAMES
from warnengine.plan.plan import address, person_delivery_id
from warnengine.plan.policy import Rule
from warnengine.resolve.directory import Contact, Directory
from warnengine.resolve.orgs import OrgEntry, covered_orgs
from warnengine.resolve.targets import Reach

_DRILL = (Status.EXERCISE, Status.TEST)
ORG_ACK_HINT = "收到请回复“收到”，可附本单位情况，如“收到，830名学生留在室内”。"


@dataclass
class OrgPlan:
    orgs: list[tuple[object, ...]] = field(default_factory=list)  # WARNING_ORG_COLUMNS
    deliveries: list[tuple[object, ...]] = field(default_factory=list)  # DELIVERY_COLUMNS
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (delivery id, warning id, org id)

    @property
    def villages(self) -> list[str]:
        return sorted({str(r[3]) for r in self.orgs})


def org_key(person_id: str, org_id: str) -> str:
    """The recipient key of a person's deliveries for one org (see the module's docstring)."""
    return f"{person_id}@{org_id}"


def org_text(w: HazardWarning, org: OrgEntry) -> str:
    kind = {k.value: name for k, name in KIND_NAMES.items()}.get(org.kind, "")
    head = "【演练】" if w.status is Status.EXERCISE else ""
    return (
        f"{head}【{org.name}】{kind}负责人：{w.broadcast_text()}"
        f"请立即组织本单位{org.headcount}人做好防范。{ORG_ACK_HINT}"
    )


def plan_orgs(
    w: HazardWarning, reach: Reach, directory: Directory, rule: Rule, now: float, expires: float
) -> OrgPlan:
    """The orgs the warning covers and their responsible persons' deliveries on the rule's people
    channels; none when the rule has no people channel (nothing could reach or count them)."""
    plan = OrgPlan()
    if not rule.channels or not len(directory.orgs):
        return plan
    drill = w.status in _DRILL
    people = directory.contacts()
    for org in covered_orgs(directory.orgs, reach.villages, w.areas):
        who = [people[p] for p in org.responsible if p in people]
        if drill:
            who = [c for c in who if c.drill_opt_in]
            if not who:
                continue  # a drill counts only orgs that take part
        text = org_text(w, org)
        before = len(plan.deliveries)
        for c in who:
            add_org_rows(plan, w, org, c, rule.channels, 0, text, now, expires)
        # Nobody to message (no responsible person on record, or none with an address on the rule's
        # channels): named unreachable with that reason at once, as a household without an address is, so
        # it never holds a warning open; the ladder's visit step still sends someone to its door.
        state = "targeted" if len(plan.deliveries) > before else "unreachable"
        plan.orgs.append(
            (
                w.warning_id,
                org.org_id,
                w.version,
                org.village,
                org.cell,
                org.kind,
                org.name,
                org.headcount,
                ";".join(org.responsible),
                state,
                now,
            )
        )
    return plan


def add_org_rows(
    plan: OrgPlan,
    w: HazardWarning,
    org: OrgEntry,
    c: Contact,
    channels: tuple[Channel, ...],
    step: int,
    text: str,
    now: float,
    expires: float,
) -> None:
    """One delivery per channel `c` has an address on, for `org`, at ladder step `step`."""
    key = org_key(c.person_id, org.org_id)
    for ch in channels:
        addr = address(c, ch)
        if not addr:
            continue
        did = person_delivery_id(w.warning_id, w.version, key, ch.value, step)
        plan.deliveries.append(
            (
                did,
                w.warning_id,
                w.version,
                org.village,
                ch.value,
                addr,
                "pending",
                0,
                now,
                expires,
                c.person_id,
                None,
                step,
                text,
            )
        )
        plan.links.append((did, w.warning_id, org.org_id))
