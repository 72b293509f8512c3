"""Acknowledgements for organisations (issue 17): a responsible person's reply "收到" — or "收到，830名学生
留在室内", an acknowledgement followed by a note — acknowledges their org deliveries (the org is reached in
the same transaction, db/store/orgs.py) and the note is kept on the org as the evidence. A reply whose
note made it an org's acknowledgement is not also put in the field-report inbox."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence

from warnengine.acks.store import AcksStore
from warnengine.model import Channel
from warnengine.plan.orgs import org_key
from warnengine.plan.plan import person_delivery_id
from warnengine.resolve.directory import Directory
from warnengine.wire.records import ChannelEvent

REPLY_WINDOW_S = 3 * 24 * 3600.0  # as acks/people.py: a reply answers any warning of the last three days
# Longest first: "收到了" before "收到", "好的" before "好".
ACK_WORDS = (
    "已收到",
    "收到了",
    "收到",
    "知道了",
    "知道",
    "明白",
    "确认",
    "好的",
    "okay",
    "ok",
    "yes",
    "好",
    "1",
)
_SEPARATORS = " ,，.。;；:：!！、-—~～\t"


@functools.lru_cache(maxsize=4096)
def ack_note(text: str) -> str | None:
    """The note after an acknowledgement word ("" for a bare "收到"); None if `text` is no acknowledgement."""
    t = unicodedata.normalize("NFKC", text).strip()
    low = t.casefold()
    for word in ACK_WORDS:
        if low.startswith(word):
            rest = t[len(word) :]
            if not rest or rest[0] in _SEPARATORS:
                return rest.strip(_SEPARATORS)
    return None


async def acknowledge_org_replies(
    replies: Sequence[tuple[ChannelEvent, Channel]], store: AcksStore, directory: Directory
) -> tuple[dict[str, int], set[int]]:
    """Counts (`org_acknowledged` deliveries, `org_notes` orgs given a note) and the ids of the replies
    taken as org acknowledgements with a note (kept out of the inbox)."""
    mine = [m for e, ch in replies if (m := _org_answer(e, ch, directory)) is not None]
    if not mine:
        return {}, set()
    versions = await store.recent_versions(store.clock.now() - REPLY_WINDOW_S)
    answers: list[tuple[str, float]] = []
    notes: list[tuple[str, str]] = []
    ids_of: dict[int, list[str]] = {}
    for e, ch, orgs, note in mine:
        ids = [
            person_delivery_id(w, v, org_key(pid, org), ch.value, step)
            for pid, org in orgs
            for w, v, steps in versions
            for step in steps
        ]
        ids_of[id(e)] = ids
        answers += [(d, e.at) for d in ids]
        notes += [(d, note) for d in ids if note]
    done = await store.acknowledge(answers) if answers else []
    noted = await store.note_orgs(notes) if notes else 0
    known = await store.org_deliveries_known([d for ids in ids_of.values() for d in ids])
    taken = {id(e) for e, _, _, note in mine if note and known.intersection(ids_of[id(e)])}
    return {"org_acknowledged": len(done), "org_notes": noted}, taken


def _org_answer(
    e: ChannelEvent, ch: Channel, directory: Directory
) -> tuple[ChannelEvent, Channel, list[tuple[str, str]], str] | None:
    """(the reply, its channel, the (person, org) pairs at its sender, its note) when it is an
    acknowledgement from someone who answers for an org; else None."""
    if not e.sender or not e.text:
        return None
    orgs = [(p, o) for p in directory.people_at(e.sender) for o in directory.orgs.by_person.get(p, [])]
    note = "" if e.ack_hint else ack_note(e.text)
    return (e, ch, orgs, note) if orgs and note is not None else None
