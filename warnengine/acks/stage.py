"""The ack stage: a batch of terminal acks becomes delivery state in the database."""

from __future__ import annotations

from warnengine.acks.store import AcksStore
from warnengine.model import Channel, SpeakerAck
from warnengine.model.records import AckTiming
from warnengine.obs import metrics


async def apply_speaker_acks(acks: list[SpeakerAck], store: AcksStore) -> dict[str, int]:
    played: list[AckTiming] = []
    counts = await store.apply_acks(acks, played)
    # An ack is also the terminal's proof of life and, when final, its last play result.
    await store.record_device_results([(a.device_id, a.state.value, a.reason) for a in acks if a.device_id])
    for verdict, n in counts.items():
        if n:
            metrics.ACKS.labels(Channel.LOUDSPEAKER.value, "any", verdict).inc(n)
    for p in played:  # only deliveries this batch moved to played: redelivered acks are not re-counted
        if p.sent_at is not None:
            metrics.TIME_TO_ACK.labels(p.channel).observe(max(0.0, p.played_at - p.sent_at))
        metrics.REACH_SECONDS.labels(p.channel, p.severity).observe(max(0.0, p.played_at - p.accepted_at))
    return counts
