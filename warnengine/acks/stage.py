"""The ack stage: a batch of terminal acks becomes delivery state in the database.

An ack counts only from the terminal the command was for: the device of its MQTT topic (which the broker's
ACL lets only that terminal publish on) must be the delivery's recipient. Anything else — a forged ack on
another terminal's topic, a terminal acking a delivery id it overheard — is refused: counted
(`warnengine_acks_rejected_total{reason="ack_device_mismatch"}`), logged and dead-lettered, never applied.
"""

from __future__ import annotations

import structlog

from warnengine.acks.store import AcksStore
from warnengine.model import Channel, SpeakerAck
from warnengine.model.records import AckTiming
from warnengine.obs import metrics
from warnengine.wire.loudspeaker import is_link_test

log = structlog.get_logger("warnengine.acks")

MISMATCH = "ack_device_mismatch"


async def apply_speaker_acks(acks: list[SpeakerAck], store: AcksStore) -> dict[str, int]:
    # A link test's answer is read by the tester itself (devices/link_tests.py): here it is the terminal's
    # proof of life only — no delivery, and not its last play result.
    tests = [a for a in acks if is_link_test(a.cmd_id)]
    if tests:
        await store.record_device_results([(a.device_id, "received", None) for a in tests if a.device_id])
        metrics.ACKS.labels(Channel.LOUDSPEAKER.value, "any", "link_test").inc(len(tests))
        acks = [a for a in acks if not is_link_test(a.cmd_id)]
    played: list[AckTiming] = []
    mismatched: list[tuple[SpeakerAck, str]] = []
    counts = await store.apply_acks(acks, played, mismatched)
    refused = {id(a) for a, _ in mismatched}
    # An ack is also the terminal's proof of life and, when final, its last play result (not a refused one).
    await store.record_device_results(
        [(a.device_id, a.state.value, a.reason) for a in acks if a.device_id and id(a) not in refused]
    )
    for verdict, n in counts.items():
        if n:
            metrics.ACKS.labels(Channel.LOUDSPEAKER.value, "any", verdict).inc(n)
    for p in played:  # only deliveries this batch moved to played: redelivered acks are not re-counted
        if p.sent_at is not None:
            metrics.TIME_TO_ACK.labels(p.channel).observe(max(0.0, p.played_at - p.sent_at))
        metrics.REACH_SECONDS.labels(p.channel, p.severity).observe(max(0.0, p.played_at - p.accepted_at))
    for ack, recipient in mismatched:
        await _refuse(store, ack, recipient)
    return counts


async def _refuse(store: AcksStore, ack: SpeakerAck, recipient: str) -> None:
    metrics.ACKS_REJECTED.labels(MISMATCH).inc()
    log.warning(
        MISMATCH, delivery_id=ack.cmd_id, device_id=ack.device_id, recipient=recipient, state=ack.state.value
    )
    detail = (
        f"ack {ack.state.value} for delivery {ack.cmd_id} on the topic of {ack.device_id or 'no device'}; "
        f"the delivery is for {recipient} (确认来自非目标终端，未采用)"
    )
    await store.dead_letter("acks", MISMATCH, detail, ack.model_dump_json(), "mqtt", ack.cmd_id)
