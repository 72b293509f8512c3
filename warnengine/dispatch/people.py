"""Dispatch to people: a batch of (warning version, village) tasks → the planned SMS, WeChat and app
deliveries of those villages, sent through the channel senders.

The deliveries were planned by the plan stage; this claims the due ones (attempt recorded before the
send), hands each channel its batch, and records the outcome: accepted → sent, retryable → left pending
for the next attempt, refused for good (an invalid number) → failed with the reason, for escalation;
ambiguous (the provider may have sent it, its lookup could not tell) → sent, never resent, with the reason
`ambiguous` as the duty room's flag.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

import structlog

from channels.base import Outgoing, SendResult
from warnengine.dispatch.compose import people_message
from warnengine.dispatch.stage import DispatchPolicy, DispatchResult
from warnengine.dispatch.store import DispatchStore
from warnengine.model import Channel, DeliveryState, HazardWarning
from warnengine.model.records import VillageTarget
from warnengine.obs import metrics

log = structlog.get_logger("warnengine.dispatch")

PEOPLE = (Channel.SMS, Channel.WECHAT, Channel.APP)
# The reason an ambiguous delivery is recorded with: the duty room's cue to check it by phone.
AMBIGUOUS_FLAG = "发送结果不明，未重发，请核实 / "
Send = Callable[[Channel, Sequence[Outgoing]], Awaitable[list[SendResult]]]


async def dispatch_people(
    tasks: Sequence[tuple[HazardWarning, str]],
    store: DispatchStore,
    send: Send,
    policy: DispatchPolicy,
    channels: Sequence[Channel] = PEOPLE,
) -> DispatchResult:
    t0 = time.perf_counter()
    tasks = list({(w.warning_id, w.version, v): (w, v) for w, v in tasks}.values())
    live = await store.live_versions([(w.warning_id, w.version) for w, _ in tasks])
    tasks = [(w, v) for w, v in tasks if (w.warning_id, w.version) in live]
    warnings = {(w.warning_id, w.version): w for w, _ in tasks}
    targets = [VillageTarget(w.warning_id, w.version, v, ch, [], 0.0) for w, v in tasks for ch in channels]
    # Only pending ones: a sent SMS is not sent again by this stage (the escalation ladder decides that).
    due = await store.claim_due(
        targets, policy.resend_after_s, policy.max_attempts, states=(DeliveryState.PENDING.value,)
    )
    by_channel: dict[Channel, list[Outgoing]] = {}
    for d in due:
        w = warnings[(d.warning_id, d.version)]
        body = people_message(w, d.expires_at)
        if d.text:  # a visit list or a 叫应 call rides on the warning's title
            body["text"] = d.text
        out = Outgoing(d.delivery_id, d.recipient, d.village_code, body, d.expires_at)
        by_channel.setdefault(Channel(d.channel), []).append(out)
    ok: list[str] = []
    retry: dict[str, str] = {}
    final: dict[str, str] = {}
    unsure: dict[str, str] = {}
    for channel, batch in by_channel.items():
        try:
            results = await send(channel, batch)
        except LookupError as e:  # no provider configured for this channel: say so on every delivery
            results = [
                SendResult(o.delivery_id, False, False, f"no {channel.value} provider: {e}") for o in batch
            ]
        for r in results:
            # Ambiguous (the request went out, no answer came, the lookup failed): it may well have been
            # sent. Recorded as sent, so a later receipt still applies and no second SMS goes out, and
            # flagged; escalation covers a loss.
            if r.code == "ambiguous":
                unsure[r.delivery_id] = f"{AMBIGUOUS_FLAG}{r.reason or 'ambiguous'}"
            elif r.ok:
                ok.append(r.delivery_id)
            elif r.retryable:
                retry[r.delivery_id] = r.reason or "send failed"
            else:
                final[r.delivery_id] = r.reason or "refused"
        metrics.DELIVERIES.labels(channel.value, "pool", "sent").inc(sum(r.ok for r in results))
        metrics.DELIVERIES.labels(channel.value, "pool", "failed").inc(sum(not r.ok for r in results))
    await store.finish_dispatch(ok, retry, [], final, unsure)
    if final or retry or unsure:
        log.warning("people_dispatch_failures", retry=len(retry), failed=len(final), ambiguous=len(unsure))
    return DispatchResult(
        len(tasks),
        len(due),
        len(ok) + len(unsure),
        len(final) + len(retry),
        {"total_s": round(time.perf_counter() - t0, 4)},
    )
