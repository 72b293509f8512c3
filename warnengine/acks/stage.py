"""The ack stage: a batch of terminal acks becomes delivery state in the database."""

from __future__ import annotations

from warnengine.db.store import Store
from warnengine.model import Channel, SpeakerAck
from warnengine.obs import metrics


async def apply_speaker_acks(acks: list[SpeakerAck], store: Store) -> dict[str, int]:
    counts = await store.apply_acks(acks)
    for verdict, n in counts.items():
        if n:
            metrics.ACKS.labels(Channel.LOUDSPEAKER.value, "any", verdict).inc(n)
    return counts
