"""Dispatch to people: a batch of (warning version, village) tasks → the planned SMS, WeChat and app
deliveries of those villages, sent through the channel senders.

The deliveries were planned by the plan stage; this claims the due ones (attempt recorded before the
send), hands each channel its batch, and records the outcome: accepted → sent, retryable → left pending
for the next attempt, refused for good (an invalid number) → failed with the reason, for escalation;
ambiguous (the provider may have sent it, its lookup could not tell) → sent, never resent, with the reason
`ambiguous` as the duty room's flag.

Claimed right before they are sent and recorded as they return, `RECORD_EVERY` messages at a time and
`IN_FLIGHT` such chunks at once, not the whole batch claimed first and recorded once it is all out: the
Messages APIs have no idempotency key, so a message a crash left without an outcome is sent again (and
flagged, `deliveries.possible_duplicates`, see the store's claim_due). Small chunks keep that to the few
messages in flight at the crash instead of a whole batch.
"""

from __future__ import annotations

import asyncio
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
from warnengine.resolve.directory import Directory

log = structlog.get_logger("warnengine.dispatch")

PEOPLE = (Channel.SMS, Channel.WECHAT, Channel.APP, Channel.VOICE)
# The reason an ambiguous delivery is recorded with: the duty room's cue to check it by phone.
AMBIGUOUS_FLAG = "发送结果不明，未重发，请核实 / "
RECORD_EVERY = 32  # messages claimed, sent and recorded together
IN_FLIGHT = 8  # such chunks at once (the pools pace them): what a crash can leave unsure
PENDING = (DeliveryState.PENDING.value,)
Send = Callable[[Channel, Sequence[Outgoing]], Awaitable[list[SendResult]]]


async def dispatch_people(
    tasks: Sequence[tuple[HazardWarning, str]],
    store: DispatchStore,
    send: Send,
    policy: DispatchPolicy,
    channels: Sequence[Channel] = PEOPLE,
    directory: Directory | None = None,
) -> DispatchResult:
    """`directory` gives what deliveries do not carry: a village group's robot key (a secret, never
    stored on the delivery), and a person's second push token for app failover."""
    keys = directory.robot_keys if directory is not None else {}
    second = directory.second_tokens if directory is not None else {}
    t0 = time.perf_counter()
    tasks = list({(w.warning_id, w.version, v): (w, v) for w, v in tasks}.values())
    live = await store.live_versions([(w.warning_id, w.version) for w, _ in tasks])
    tasks = [(w, v) for w, v in tasks if (w.warning_id, w.version) in live]
    warnings = {(w.warning_id, w.version): w for w, _ in tasks}
    targets = [VillageTarget(w.warning_id, w.version, v, ch, [], 0.0) for w, v in tasks for ch in channels]
    # Only pending ones: a sent SMS is not sent again by this stage (the escalation ladder decides that).
    due = await store.claim_due(
        targets, policy.resend_after_s, policy.max_attempts, states=PENDING, claim=False
    )
    by_channel: dict[Channel, list[Outgoing]] = {}
    for d in due:
        w = warnings[(d.warning_id, d.version)]
        body = people_message(w, d.expires_at)
        if d.text:  # a visit list or a 叫应 call rides on the warning's title
            body["text"] = d.text
        recipient = d.recipient
        if d.channel == Channel.WECHAT_GROUP.value:  # the cell's robot key; "" (none on record) is never sent
            recipient = keys.get(d.recipient, "")
        addresses = None
        if d.channel == Channel.APP.value and d.recipient in second:  # JPush id and FCM token: failover
            addresses = {"jpush": d.recipient, "fcm": second[d.recipient]}
        out = Outgoing(d.delivery_id, recipient, d.village_code, body, d.expires_at, addresses=addresses)
        by_channel.setdefault(Channel(d.channel), []).append(out)
    sent, failed = await _send_and_record(by_channel, send, store, policy)
    return DispatchResult(
        len(tasks),
        len(due),
        sent,
        failed,
        {"total_s": round(time.perf_counter() - t0, 4)},
    )


async def _send_and_record(
    by_channel: dict[Channel, list[Outgoing]], send: Send, store: DispatchStore, policy: DispatchPolicy
) -> tuple[int, int]:
    """Chunks of RECORD_EVERY, IN_FLIGHT at once, each claimed right before it is sent and recorded
    as soon as it returns. Returns (sent, failed)."""
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def one(channel: Channel, chunk: list[Outgoing]) -> tuple[int, int]:
        async with slots:
            mine = await store.claim(
                [o.delivery_id for o in chunk], PENDING, policy.resend_after_s, policy.max_attempts
            )
            chunk = [o for o in chunk if o.delivery_id in mine]  # another worker may have claimed some
            return await _record(store, channel, await _send_chunk(send, channel, chunk)) if chunk else (0, 0)

    done = await asyncio.gather(
        *(
            one(channel, batch[i : i + RECORD_EVERY])
            for channel, batch in by_channel.items()
            for i in range(0, len(batch), RECORD_EVERY)
        ),
        return_exceptions=True,  # the other chunks still go out and are recorded; then it is raised
    )
    counts = [x for x in done if not isinstance(x, BaseException)]
    errors = [x for x in done if isinstance(x, BaseException)]
    if errors:
        raise errors[0]
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


async def _record(store: DispatchStore, channel: Channel, results: list[SendResult]) -> tuple[int, int]:
    # Ambiguous (the request went out, no answer came): it may well have been sent. Recorded as sent, so
    # a later receipt still applies and no second SMS goes out; escalation covers a loss.
    # It is flagged (the reason), so the duty room checks it by phone.
    ok = [r.delivery_id for r in results if r.ok and r.code != "ambiguous"]
    unsure = {r.delivery_id: f"{AMBIGUOUS_FLAG}{r.reason or 'ambiguous'}" for r in results if _unsure(r)}
    retry = {r.delivery_id: r.reason or "send failed" for r in results if _retry(r)}
    final = {r.delivery_id: r.reason or "refused" for r in results if _final(r)}
    # The provider's reference of each accepted send: a receipt naming only it (Tencent's `sid`, WeChat's
    # MsgID) maps back by it.
    refs = {r.delivery_id: r.provider_ref for r in results if r.ok and r.provider_ref}
    await store.finish_dispatch(ok, retry, [], final, unsure, refs)
    metrics.DELIVERIES.labels(channel.value, "pool", "sent").inc(sum(r.ok for r in results))
    metrics.DELIVERIES.labels(channel.value, "pool", "failed").inc(sum(not r.ok for r in results))
    if retry or final or unsure:
        log.warning(
            "people_dispatch_failures",
            channel=channel.value,
            retry=len(retry),
            failed=len(final),
            ambiguous=len(unsure),
        )
    return len(ok) + len(unsure), len(retry) + len(final)


def _unsure(r: SendResult) -> bool:
    return r.code == "ambiguous"


async def _send_chunk(send: Send, channel: Channel, batch: list[Outgoing]) -> list[SendResult]:
    """The chunk's results in its order; a delivery without an address (a village group whose robot
    left the directory) fails at once, never reaching a provider."""
    unaddressed = {o.delivery_id: _no_address(o, channel) for o in batch if not o.recipient}
    batch = [o for o in batch if o.delivery_id not in unaddressed]
    try:
        sent = await send(channel, batch) if batch else []
    except LookupError as e:  # no provider configured for this channel: say so on every delivery
        sent = [SendResult(o.delivery_id, False, False, f"no {channel.value} provider: {e}") for o in batch]
    return [*sent, *unaddressed.values()]


def _no_address(o: Outgoing, channel: Channel) -> SendResult:
    why = (
        "该村/组未登记群机器人 / no robot key on record for this cell"
        if channel == Channel.WECHAT_GROUP
        else ""
    )
    return SendResult(o.delivery_id, False, False, why or "no address", code="invalid_recipient")


def _retry(r: SendResult) -> bool:
    return not r.ok and r.code != "ambiguous" and r.retryable


def _final(r: SendResult) -> bool:
    return not r.ok and r.code != "ambiguous" and not r.retryable
