"""The ack stage for people: provider receipts, replies and app acknowledgements → delivery and household
state. Only a human action acknowledges (a reply, a button, the app); a provider's "delivered" does not.
"""

from __future__ import annotations

import dataclasses
import functools
import unicodedata
from collections.abc import Mapping, Sequence

import structlog

from warnengine.acks.checkins import keeper_check_ins
from warnengine.acks.inbox import replies_to_inbox
from warnengine.acks.orgs import acknowledge_org_replies
from warnengine.acks.store import AcksStore
from warnengine.model import Channel, DeliveryState
from warnengine.model.household_reply import WHOLE, household_count
from warnengine.model.records import Acknowledged
from warnengine.obs import metrics
from warnengine.plan.plan import person_delivery_id
from warnengine.resolve.directory import Directory
from warnengine.wire import records
from warnengine.wire.records import AppAck, ChannelEvent

log = structlog.get_logger("warnengine.acks")

UNKNOWN_REF = "unknown_provider_ref"  # a receipt for a reference no delivery was sent under
REF_MISMATCH = "provider_ref_recipient_mismatch"  # a receipt whose number is not the delivery's recipient
REPLY_WINDOW_S = 3 * 24 * 3600.0  # a reply can answer any warning resolved in the last three days
# A reply is matched by computing the ids of the deliveries it can answer (person × live version × step
# that sent messages), so no index on recipients slows down planning.
# The channel each webhook's replies answer (its provider name → our channel).
_REPLY_CHANNELS = {
    "twilio": Channel.SMS,
    "tencent": Channel.SMS,
    "wechat-oa": Channel.WECHAT,
    "wecom-app": Channel.WECOM,  # the sender is a WeCom userid (people.csv's wecom_userid, staff only)
    "sim-sms": Channel.SMS,  # the simulated providers' population (design decision 22)
    "sim-wechat": Channel.WECHAT,
}


async def apply_channel_events(
    events: Sequence[ChannelEvent], store: AcksStore, directory: Directory
) -> dict[str, int]:
    events, refused = await _by_provider_ref(events, store)
    statuses = [
        (e.delivery_id, e.state, e.at, e.reason)
        for e in events
        if e.kind == "status" and e.delivery_id and e.state is not None
    ]
    # A key press on a call ("press 1") acknowledges its delivery like a reply does.
    pressed = [(d, at) for d, st, at, _ in statuses if st is DeliveryState.ACKNOWLEDGED]
    counts = await store.apply_statuses([s for s in statuses if s[1] is not DeliveryState.ACKNOWLEDGED])
    if pressed:
        counts.update(await _acknowledge_pressed(pressed, store))
    counts.update({k: n for k, n in refused.items() if n})
    replies = [e for e in events if e.kind == "reply" and e.sender]
    # "收到，全家4人" acknowledges too, and counts the household (model/household_reply.py).
    counted = {id(e): n for e in replies if (n := household_count(e.text)) is not None}
    acks = [e for e in replies if e.ack_hint or id(e) in counted]
    if acks:
        counts.update(await _acknowledge_replies(acks, store, directory, counted))
    done_words = [e for e in replies if e.text and _is_visit_done(e.text)]
    if done_words:  # a visitor's "完成": their open visit tasks are confirmed
        visited = 0
        for e in done_words:
            assert e.sender is not None
            visited += await store.confirm_visits_by(directory.people_at(e.sender), e.at)
        counts["visits_confirmed"] = visited
        metrics.VISIT_TASKS.labels("confirmed").inc(visited)
    counts["replies_not_ack"] = len(replies) - len(acks)
    # An org's responsible person: "收到，830名学生留在室内" acknowledges the org with a note (acks/orgs.py).
    org_counts, taken = await acknowledge_org_replies(
        [(e, _channel_of(e)) for e in replies], store, directory
    )
    counts.update(org_counts)
    others = [  # with or without a sender: nothing a person wrote is dropped
        e
        for e in events
        if e.kind == "reply"
        and not (e.sender and (e.ack_hint or id(e) in counted))
        and not _done(e)
        and id(e) not in taken
    ]
    if others:  # a shelter keeper's "到 H123 3" is a check-in (acks/checkins.py)
        others, checked = await keeper_check_ins(others, store, directory)
        counts.update({k: n for k, n in checked.items() if n})
    if others:  # read by a person: the field-report inbox (acks/inbox.py)
        counts["replies_to_inbox"] = await replies_to_inbox(others, store, directory)
    for k, n in counts.items():
        if n:
            metrics.ACKS.labels("people", "any", k).inc(n)
    stray = {k: counts[k] for k in _NOT_APPLIED if counts.get(k)}
    if stray:  # one line per batch, without the senders' numbers
        log.info("channel_events_not_applied", **stray)
    return counts


async def _by_provider_ref(
    events: Sequence[ChannelEvent], store: AcksStore
) -> tuple[list[ChannelEvent], dict[str, int]]:
    """Receipts that name only the provider's reference (a Tencent report's `sid`, a WeChat
    TEMPLATESENDJOBFINISH's MsgID) get the delivery sent under it (deliveries.provider_ref, channel by
    provider). One whose reference no delivery has (`unknown_provider_ref`: forged, another account's, or
    a send never recorded) or whose reported number is not that delivery's recipient
    (`provider_ref_recipient_mismatch`) is dead-lettered with the reason, counted, never applied."""
    by_ref = [e for e in events if e.kind == "status" and not e.delivery_id and e.provider_ref]
    if not by_ref:
        return list(events), {}
    keys = [(_channel_of(e).value, e.provider_ref or "") for e in by_ref]
    found = await store.deliveries_by_ref(keys)
    out = [e for e in events if not (e.kind == "status" and not e.delivery_id and e.provider_ref)]
    refused = {UNKNOWN_REF: 0, REF_MISMATCH: 0}
    for e, key in zip(by_ref, keys, strict=True):
        hit = found.get(key)
        if hit is not None and (e.sender is None or e.sender == hit[1]):
            out.append(dataclasses.replace(e, delivery_id=hit[0]))
            continue
        reason = UNKNOWN_REF if hit is None else REF_MISMATCH
        refused[reason] += 1
        metrics.ACKS_REJECTED.labels(reason).inc()
        detail = (
            f"{e.provider} receipt {e.state.value if e.state else '?'} for reference {e.provider_ref}: "
            + (
                "no delivery was sent under it (未找到对应投递，未采用)"
                if hit is None
                else f"it reports another number than delivery {hit[0]}'s recipient (号码不符，未采用)"
            )
        )
        payload = records.encode_channel_events([e])
        await store.dead_letter("acks", reason, detail, payload, e.provider, e.provider_ref)
    if any(refused.values()):
        log.warning("receipts_not_applied", **{k: n for k, n in refused.items() if n})
    return out, refused


async def _acknowledge_replies(
    acks: Sequence[ChannelEvent], store: AcksStore, directory: Directory, counted: Mapping[int, int]
) -> dict[str, int]:
    """Replies that acknowledge ("收到"): each acknowledges every live delivery of the people at its
    address on its channel (every step that sent them a message), so every household they belong to is
    reached once all its members are accounted for; `counted` (reply id() → persons, acks/people.py)
    are replies that also count the sender's household. Counted per reply: `reply_acknowledged` (it
    moved something), `reply_no_change` (nothing left to acknowledge: a duplicate, a late answer, a
    Cancel's, a closed delivery) and `reply_unknown_sender`; `acknowledged` counts deliveries."""
    versions = await store.recent_versions(store.clock.now() - REPLY_WINDOW_S)
    senders: dict[tuple[str, str], list[str]] = {}  # (channel, address) → the people there, once a batch
    answered_at: dict[tuple[str, str], float] = {}  # (channel, address) → its earliest reply in the batch
    household: dict[tuple[str, str], int] = {}  # (channel, address) → the largest household count sent
    unknown = 0
    for e in acks:
        assert e.sender is not None
        key = (_channel_of(e).value, e.sender)
        if key not in senders:
            senders[key] = directory.people_at(e.sender)
        unknown += not senders[key]
        answered_at[key] = min(e.at, answered_at.get(key, e.at))
        if id(e) in counted:
            n = counted[id(e)]
            household[key] = WHOLE if WHOLE in (n, household.get(key)) else max(n, household.get(key, n))
    candidates = [
        (person_delivery_id(w, v, pid, channel, step), answered_at[(channel, address)], (channel, address))
        for (channel, address), people in senders.items()
        for pid in people
        for w, v, steps in versions
        for step in steps
    ]
    counts = {d: household[key] for d, _, key in candidates if key in household}
    answers = [(d, at) for d, at, _ in candidates]
    done = await store.acknowledge(answers, counts) if answers else []
    _observe(done)
    answered = {(a.channel, a.person_id) for a in done}
    moved = 0
    for (channel, _), people in senders.items():
        for pid in people:
            if (channel, pid) in answered:
                moved += 1
                break
    household_counts = sum(1 for e in acks if id(e) in counted)  # "全家" and "N人" answers
    return {
        **({"reply_household_counts": household_counts} if household_counts else {}),
        "acknowledged": len(done),
        "reply_acknowledged": moved,
        "reply_no_change": len(acks) - moved - unknown,
        "reply_unknown_sender": unknown,
    }


async def _acknowledge_pressed(pressed: list[tuple[str, float]], store: AcksStore) -> dict[str, int]:
    """Deliveries acknowledged on the provider's side (a call's "press 1"); those that change nothing (a
    closed or unknown delivery) are recorded with the reason, never applied."""
    done = await store.acknowledge(pressed)
    _observe(done)
    moved = {a.delivery_id for a in done}
    stray = await store.record_unapplied([(d, t) for d, t in pressed if d not in moved])
    return {"acknowledged": len(done), **{f"pressed_{k}": n for k, n in stray.items()}}


async def apply_app_acks(acks: Sequence[AppAck], store: AcksStore) -> int:
    """App acknowledgements (wire/records.py AppAck): by delivery id, or by warning and person. Those that
    change nothing are recorded with the reason (`acks`, verdict), counted and logged, never applied."""
    by_id: list[tuple[str, float]] = []  # (delivery id, when the person pressed "received")
    by_person: list[tuple[list[str], float]] = []  # (the person's deliveries of the warning, when)
    versions: list[tuple[str, int, tuple[int, ...]]] | None = None
    household: dict[str, int] = {}  # delivery id → the household count the answer carries (全家已知晓)
    for a in acks:
        if a.delivery_id:
            by_id.append((a.delivery_id, a.at))
            if a.household is not None:
                household[a.delivery_id] = a.household
        elif a.warning_id and a.person_id:
            if versions is None:
                versions = await store.recent_versions(store.clock.now() - REPLY_WINDOW_S)
            mine = [
                person_delivery_id(w, v, a.person_id, ch.value, step)
                for w, v, steps in versions
                if w == a.warning_id
                for ch in (Channel.APP, Channel.SMS, Channel.WECHAT)
                for step in steps
            ]
            by_person.append((mine, a.at))
            if a.household is not None:
                household.update(dict.fromkeys(mine, a.household))
    done = await store.acknowledge([*by_id, *((d, at) for mine, at in by_person for d in mine)], household)
    _observe(done)
    metrics.ACKS.labels("app", "any", "acknowledged").inc(len(done))
    moved = {a.delivery_id for a in done}
    stray = await store.record_unapplied([(d, t) for d, t in by_id if d not in moved])
    stray["no_delivery"] = sum(1 for mine, _ in by_person if not moved.intersection(mine))
    for verdict, n in stray.items():
        if n:
            metrics.ACKS.labels("app", "any", verdict).inc(n)
    if any(stray.values()):
        # One line per batch: a flood of stray acks must not become a flood of log lines.
        log.info("app_acks_not_applied", **{k: n for k, n in stray.items() if n})
    return len(done)


_NOT_APPLIED = (
    "reply_no_change",
    "reply_unknown_sender",
    "unknown_delivery",
    "stale",
    "pressed_unknown_delivery",
    "pressed_closed",
)
VISIT_DONE = frozenset({"完成", "已完成", "已入户", "入户完成", "done"})


def _done(e: ChannelEvent) -> bool:
    return bool(e.sender and e.text and _is_visit_done(e.text))


@functools.lru_cache(maxsize=4096)  # replies repeat a few words; normalising each costs more
def _is_visit_done(text: str) -> bool:
    return unicodedata.normalize("NFKC", text).strip(" 。.!！").casefold() in VISIT_DONE


def _channel_of(e: ChannelEvent) -> Channel:
    if e.provider in _REPLY_CHANNELS:
        return _REPLY_CHANNELS[e.provider]
    if "voice" in e.provider:  # a call's status or key press named by its call id (Tencent VMS)
        return Channel.VOICE
    if e.provider.startswith("sms"):
        return Channel.SMS
    return Channel.WECHAT


def _observe(done: list[Acknowledged]) -> None:
    """One line per batch (10,000 acks a second must not mean 10,000 log lines), per warning."""
    by_warning: dict[str, int] = {}
    for a in done:
        by_warning[a.warning_id] = by_warning.get(a.warning_id, 0) + 1
    for warning_id, n in by_warning.items():
        log.info("acknowledged", warning_id=warning_id, deliveries=n)
