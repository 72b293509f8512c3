"""The dispatch stage: a batch of (warning version, village) tasks → terminal commands, sent once per attempt.

Kafka carries one task per village; a worker takes many at a time and handles them in three database
round trips and one burst of MQTT publishes, so a county-wide warning costs seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from channels.base import ChannelAdapter, Outgoing
from warnengine.dispatch.compose import speaker_body
from warnengine.dispatch.store import DispatchStore
from warnengine.model import Channel, HazardWarning, MsgType, command_id
from warnengine.model.records import DueDelivery, VillageTarget
from warnengine.obs import metrics
from warnengine.signing import ED25519, Signer, Signers, SigningUnavailable

log = structlog.get_logger("warnengine.dispatch")


@dataclass(frozen=True)
class DispatchPolicy:
    command_ttl_s: float
    resend_after_s: float
    max_attempts: int


@dataclass(frozen=True)
class DispatchResult:
    villages: int
    due: int
    sent: int
    failed: int
    phases: dict[str, float] = field(default_factory=dict)  # seconds per step, for the batch log line


async def dispatch_loudspeakers(
    tasks: Sequence[tuple[HazardWarning, str]],
    store: DispatchStore,
    channel: ChannelAdapter,
    signer: Signer | Signers,
    policy: DispatchPolicy,
) -> DispatchResult:
    """Record the villages' terminal deliveries, claim those due (attempt recorded first), publish, mark.

    Each terminal's command is signed with the algorithm it is registered with (`devices.sig_alg`, read
    with the claim). A command that cannot be signed (no SM2 implementation or key) is not sent: its
    delivery stays open with the reason and is tried again like any failed send.
    """
    signers = Signers.of(signer)
    t0 = time.perf_counter()
    now = store.clock.now()
    tasks = list({(w.warning_id, w.version, v): (w, v) for w, v in tasks}.values())  # duplicates in a batch
    every_village = [(w.warning_id, w.version, v) for w, v in tasks]
    # A version superseded or cancelled while its tasks travelled sends nothing more.
    live = await store.live_versions([(w.warning_id, w.version) for w, _ in tasks])
    tasks = [(w, v) for w, v in tasks if (w.warning_id, w.version) in live]
    # A warning's terminal deliveries were planned by the plan stage (drills: opted-in terminals only);
    # a Cancel has no plan: its `stop` goes to every terminal of the villages an earlier version reached.
    cancels = [v for w, v in tasks if w.msg_type == MsgType.CANCEL]
    devices = await store.devices_by_village(cancels) if cancels else {}
    warnings = {(w.warning_id, w.version): w for w, _ in tasks}
    targets = [
        VillageTarget(
            w.warning_id,
            w.version,
            v,
            Channel.LOUDSPEAKER,
            devices[v] if w.msg_type == MsgType.CANCEL else [],
            w.expires.timestamp() if w.expires else now + policy.command_ttl_s,
        )
        for w, v in tasks
    ]
    t_claim = time.perf_counter()
    due = await store.claim_due(targets, policy.resend_after_s, policy.max_attempts)
    phases = {"lookup_s": t_claim - t0, "claim_s": time.perf_counter() - t_claim}
    phases.update(sign_s=0.0, send_s=0.0)
    ok: list[str] = []
    failed: dict[str, str] = {}
    for start in range(0, len(due), channel.batch_size):
        chunk = due[start : start + channel.batch_size]
        t_sign = time.perf_counter()
        signed = await sign_commands(chunk, warnings, signers, now, failed)
        phases["sign_s"] += time.perf_counter() - t_sign
        batch = [
            Outgoing(
                d.delivery_id,
                d.recipient,
                d.village_code,
                signed[d.delivery_id],
                d.expires_at,
                warnings[(d.warning_id, d.version)],
            )
            for d in chunk
            if d.delivery_id in signed
        ]
        t_send = time.perf_counter()
        results = await channel.send_batch(batch)
        send_s = time.perf_counter() - t_send
        phases["send_s"] += send_s
        metrics.PROVIDER_SECONDS.labels(channel.kind.value, channel.name).observe(send_s)
        for r in results:
            if r.ok:
                ok.append(r.delivery_id)
            else:
                failed[r.delivery_id] = r.reason or "send failed"
    t_finish = time.perf_counter()
    await store.finish_dispatch(ok, failed, every_village)
    phases["finish_s"] = time.perf_counter() - t_finish
    if failed:
        log.warning("dispatch_failures", failed=len(failed), first_reason=next(iter(failed.values())))
    kind = Channel.LOUDSPEAKER.value
    metrics.DELIVERIES.labels(kind, channel.name, "sent").inc(len(ok))
    metrics.DELIVERIES.labels(kind, channel.name, "failed").inc(len(failed))
    metrics.DELIVERY_RETRIES.labels(kind).inc(sum(1 for d in due if d.attempts > 0))
    sent = set(ok)
    await _observe_fanout(store, [d for d in due if d.attempts == 0 and d.delivery_id in sent], now)
    metrics.DISPATCH_SECONDS.labels(kind).observe(time.perf_counter() - t0)
    phases["total_s"] = time.perf_counter() - t0
    return DispatchResult(
        len(tasks), len(due), len(ok), len(failed), {k: round(v, 4) for k, v in phases.items()}
    )


async def sign_commands(
    chunk: Sequence[DueDelivery],
    warnings: dict[tuple[str, int], HazardWarning],
    signers: Signers,
    now: float,
    failed: dict[str, str],
) -> dict[str, dict[str, Any]]:
    """Each delivery's signed command by delivery id; those that cannot be signed go to `failed`.

    Ed25519 (~50 µs) is signed here. SM2 (~0.3 ms with gmalglib, ~20 ms pure Python) is signed in a
    thread, so a county of SM2 terminals cannot hold the event loop (Kafka heartbeats, MQTT acks) for
    seconds; the GIL still serialises the work, so it costs the same CPU either way.
    """
    signed: dict[str, dict[str, Any]] = {}
    slow: list[tuple[str, dict[str, Any], str]] = []
    for d in chunk:
        w = warnings[(d.warning_id, d.version)]
        # The warning version's command id, as a group command's: a terminal that played the group
        # command recognises this re-send as the same command, and its ack names its own delivery.
        cmd_id = command_id(w.warning_id, w.version)
        body = speaker_body(w, cmd_id, now, d.expires_at, d.recipient, d.village_code)
        alg = d.sig_alg or ED25519  # a terminal no longer in the directory keeps the default
        if alg == ED25519:
            signed[d.delivery_id] = signers.sign(body, alg)
        else:
            slow.append((d.delivery_id, body, alg))
    if slow:
        done, refused = await asyncio.to_thread(_sign_each, signers, slow)
        signed.update(done)
        failed.update(refused)
        if refused:
            log.warning("dispatch_unsigned", commands=len(refused), reason=next(iter(refused.values())))
    return signed


def _sign_each(
    signers: Signers, items: Sequence[tuple[str, dict[str, Any], str]]
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    done: dict[str, dict[str, Any]] = {}
    refused: dict[str, str] = {}
    for delivery_id, body, alg in items:
        try:
            done[delivery_id] = signers.sign(body, alg)
        except SigningUnavailable as e:
            refused[delivery_id] = f"not signed: {e}"
    return done, refused


async def _observe_fanout(store: DispatchStore, first: Sequence[DueDelivery], now: float) -> None:
    """Warning accepted → first hand-off, per delivery; one small query, only when there are first sends."""
    if not first:
        return
    try:
        accepted = await store.accepted_at([(d.warning_id, d.version) for d in first])
    except Exception as e:  # a metric must never make the guard retry a batch that was delivered
        log.warning("fanout_metric_failed", error=repr(e))
        return
    hist = metrics.FANOUT_SECONDS.labels(Channel.LOUDSPEAKER.value)
    for d in first:
        at = accepted.get((d.warning_id, d.version))
        if at is not None:
            hist.observe(max(0.0, now - at))
