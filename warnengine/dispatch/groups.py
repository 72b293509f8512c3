"""Group commands: one signed command per cell (county, township or village) for every terminal under it.

A county-wide warning is one publish on the county's group topic instead of one command per terminal;
each terminal still verifies it (signature, expiry, nonce, and that the cell covers it) and acks on its
own topic, so every delivery stays tracked. The deliveries are claimed (attempt recorded) in one
transaction before the publish, as for per-terminal commands; the reconciler re-sends per terminal to
those that stay silent, under the same command id, so a terminal that did play recognises the re-send.

Only a cell whose every terminal on record is targeted gets a group command; a village where some are
not (drills: opted-in terminals only; a terminal whose claim is not due) goes per terminal. So does a
village with a terminal behind the county's EB platform (devices.csv `provider: eb`): a group topic reaches
MQTT terminals only, and its deliveries would be counted as sent; such a village, and the township and
county above it, go per terminal, where the loudspeaker router sends its EB terminals through the platform.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import structlog

from channels.base import ChannelAdapter, GroupChannel, GroupOutgoing, Outgoing
from warnengine.dispatch.compose import speaker_body
from warnengine.dispatch.stage import DispatchPolicy, sign_commands
from warnengine.dispatch.store import DispatchStore
from warnengine.model import Channel, HazardWarning, command_id
from warnengine.model.records import DueDelivery, VillageTarget
from warnengine.obs import metrics
from warnengine.signing import ED25519, Signers, SigningUnavailable
from warnengine.wire.loudspeaker import cell_level, cells_of

log = structlog.get_logger("warnengine.dispatch")


@dataclass(frozen=True)
class GroupResult:
    groups: dict[str, str]  # cell → level, each published once
    villages: list[str]  # villages whose terminals were handled here (by group or per terminal)
    left: list[str]  # villages for the per-terminal dispatch stage (not whole cells)
    sent: int  # deliveries handed to the broker
    phases: dict[str, float] = field(default_factory=dict)


def group_cover(
    speakers: Sequence[tuple[str, Sequence[str]]],
    on_record: Mapping[str, Sequence[str]],
    not_mqtt: Collection[str] = frozenset(),
) -> tuple[dict[str, list[str]], list[str]]:
    """The fewest cells whose group commands reach exactly the targeted terminals, and the villages left
    for per-terminal commands. A village is whole when every terminal on record there is targeted and
    none is in `not_mqtt` (the EB platform's); a township when every village of it with terminals is
    whole; the county likewise."""
    whole = {
        v
        for v, ds in speakers
        if ds and set(ds) == set(on_record.get(v, ())) and not any(d in not_mqtt for d in ds)
    }
    left = sorted(v for v, ds in speakers if ds and v not in whole)
    counties: dict[str, set[str]] = defaultdict(set)
    townships: dict[str, set[str]] = defaultdict(set)
    for v in on_record:
        if on_record[v]:
            county, township, _ = cells_of(v)
            counties[county].add(v)
            townships[township].add(v)
    cover: dict[str, list[str]] = {}
    done: set[str] = set()
    for cell, villages in sorted(counties.items()) + sorted(townships.items()):
        if villages and villages <= whole and not villages & done:
            cover[cell] = sorted(villages)
            done |= villages
    for v in sorted(whole - done):
        cover[v] = [v]
    return cover, left


async def dispatch_groups(
    w: HazardWarning,
    speakers: Sequence[tuple[str, Sequence[str]]],
    on_record: Mapping[str, Sequence[str]],
    store: DispatchStore,
    channel: ChannelAdapter,
    signers: Signers,
    policy: DispatchPolicy,
    expires_at: float,
) -> GroupResult:
    """Claim the deliveries of the whole cells among `speakers` (village → targeted terminals), publish one
    command per cell, and record what the broker took. Villages that are not whole cells, or all of them
    when the channel cannot publish group commands, are returned in `left` for the dispatch stage."""
    t0 = time.perf_counter()
    every = [v for v, ds in speakers if ds]
    # The loudspeaker router (MQTT + EB platform) publishes group commands through its MQTT channel, for
    # cells without an EB terminal (its `eb_devices`).
    group = getattr(channel, "group_channel", channel)
    if not isinstance(group, GroupChannel):
        return GroupResult({}, [], every, 0)
    cover, left = group_cover(speakers, on_record, frozenset(getattr(channel, "eb_devices", ())))
    villages = [v for vs in cover.values() for v in vs]
    targeted = dict(speakers)
    targets = [
        VillageTarget(w.warning_id, w.version, v, Channel.LOUDSPEAKER, list(targeted[v]), expires_at)
        for v in villages
    ]
    # A new warning's deliveries are written already claimed, in one statement; only when some existed
    # (the resolve stage after the fast path, a redelivery) are the due ones claimed as usual.
    due = await store.claim_new(targets)
    if len(due) < sum(len(tg.recipients) for tg in targets):
        have = {d.delivery_id for d in due}
        more = await store.claim_due(targets, policy.resend_after_s, policy.max_attempts)
        due += [d for d in more if d.delivery_id not in have]
    t_claim = time.perf_counter()
    now = store.clock.now()
    groups, singles = await _group_commands(w, cover, targeted, due, signers, now, expires_at)
    failed: dict[str, str] = {}
    ok: list[str] = []
    by_cell = _by_cell(due, cover)
    reasons = await group.send_groups(groups) if groups else []
    for g, reason in zip(groups, reasons, strict=True):
        ids = [d.delivery_id for d in by_cell[g.cell]]
        if reason is None:
            ok += ids
        else:
            failed.update(dict.fromkeys(ids, reason))
    t_send = time.perf_counter()
    if singles:
        ok += await _send_singles(w, singles, channel, signers, now, failed)
    await store.finish_dispatch(ok, failed, [(w.warning_id, w.version, v) for v in villages])
    published = {g.cell: cell_level(g.cell) for g, r in zip(groups, reasons, strict=True) if r is None}
    for level in published.values():
        metrics.GROUP_COMMANDS.labels(level).inc()
    kind = Channel.LOUDSPEAKER.value
    metrics.DELIVERIES.labels(kind, channel.name, "sent").inc(len(ok))
    metrics.DELIVERIES.labels(kind, channel.name, "failed").inc(len(failed))
    phases = {
        "claim_s": t_claim - t0,
        "send_s": t_send - t_claim,
        "total_s": time.perf_counter() - t0,
    }
    if failed:
        log.warning("group_dispatch_failures", failed=len(failed), first_reason=next(iter(failed.values())))
    return GroupResult(published, villages, left, len(ok), {k: round(v, 4) for k, v in phases.items()})


def _by_cell(due: Iterable[DueDelivery], cover: Mapping[str, list[str]]) -> dict[str, list[DueDelivery]]:
    cell_of = {v: cell for cell, vs in cover.items() for v in vs}
    out: dict[str, list[DueDelivery]] = defaultdict(list)
    for d in due:
        out[cell_of[d.village_code]].append(d)
    return out


async def _group_commands(
    w: HazardWarning,
    cover: Mapping[str, list[str]],
    targeted: Mapping[str, Sequence[str]],
    due: Sequence[DueDelivery],
    signers: Signers,
    now: float,
    expires_at: float,
) -> tuple[list[GroupOutgoing], list[DueDelivery]]:
    """One signed command per cell whose every targeted delivery was claimed now and whose terminals share
    one signature algorithm; the claimed deliveries of the other cells, for per-terminal commands."""
    groups: list[GroupOutgoing] = []
    singles: list[DueDelivery] = []
    cmd_id = command_id(w.warning_id, w.version)
    for cell, ds in sorted(_by_cell(due, cover).items()):
        wanted = sum(len(targeted[v]) for v in cover[cell])
        algs = {d.sig_alg or ED25519 for d in ds}
        if len(ds) != wanted or len(algs) != 1:  # some were claimed before (a re-run), or mixed keys
            singles += ds
            continue
        body = speaker_body(w, cmd_id, now, expires_at, group=cell)
        alg = algs.pop()
        try:
            signed = (
                signers.sign(body, alg)
                if alg == ED25519
                else await asyncio.to_thread(signers.sign, body, alg)
            )
        except SigningUnavailable:
            singles += ds  # per terminal, where each failure is recorded with its reason
            continue
        groups.append(GroupOutgoing(cell, signed, expires_at))
    return groups, singles


async def _send_singles(
    w: HazardWarning,
    singles: Sequence[DueDelivery],
    channel: ChannelAdapter,
    signers: Signers,
    now: float,
    failed: dict[str, str],
) -> list[str]:
    ok: list[str] = []
    for start in range(0, len(singles), channel.batch_size):
        chunk = singles[start : start + channel.batch_size]
        signed = await sign_commands(chunk, {(w.warning_id, w.version): w}, signers, now, failed)
        batch = [
            Outgoing(d.delivery_id, d.recipient, d.village_code, signed[d.delivery_id], d.expires_at, w)
            for d in chunk
            if d.delivery_id in signed
        ]
        for r in await channel.send_batch(batch):
            if r.ok:
                ok.append(r.delivery_id)
            else:
                failed[r.delivery_id] = r.reason or "send failed"
    return ok
