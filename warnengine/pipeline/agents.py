"""The worker's agents: feed → warnings → village tasks → dispatch, and the three acknowledgement streams.

Every agent runs with concurrency 1 and wraps each event in `guarded`, so an exception never acks an
event away unrecorded (faust-streaming #606/#707). Stages are idempotent; the database is the record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import faust
import structlog

from warnengine.acks.people import apply_app_acks, apply_channel_events
from warnengine.acks.stage import apply_speaker_acks
from warnengine.dispatch.people import dispatch_people
from warnengine.dispatch.stage import dispatch_loudspeakers
from warnengine.errors import BadInput
from warnengine.model import HazardWarning, MsgType, SpeakerAck
from warnengine.normalise.stage import accept_feed, digest
from warnengine.obs import metrics
from warnengine.pipeline.guard import guarded
from warnengine.pipeline.pipeline import Pipeline, key_text
from warnengine.pipeline.speakers import fast_path, speak_by_groups, speakers_now
from warnengine.plan.stage import plan_deliveries
from warnengine.wire import records, topics

log = structlog.get_logger("warnengine.app")
T = TypeVar("T")
Parse = Callable[[bytes], Awaitable[list[T]]]


def add_agents(p: Pipeline, dispatch: bool = True, acks: bool = True) -> None:
    """`dispatch`: feed → warning → village tasks → commands; `acks`: the three acknowledgement streams."""
    if dispatch:
        _normalise_agent(p)
        _resolve_agent(p)
        _batch_agent(p, p.village_tasks, "dispatch", _village_task(p), _dispatch(p))
    if acks:
        _ack_agents(p)


def _ack_agents(p: Pipeline) -> None:
    rt = p.rt
    _batch_agent(p, p.acks, "acks", _speaker_acks, lambda acks: apply_speaker_acks(acks, rt.store))
    _batch_agent(  # provider receipts and replies (webhooks on the API) → deliveries and households
        p,
        p.channel_events,
        "people-acks",
        _channel_events,
        lambda events: apply_channel_events(events, rt.store, rt.directory),
    )
    _batch_agent(  # acknowledgements from the county's app (POST /api/v1/acks)
        p, p.app_acks, "app-acks", _app_acks, lambda acks: apply_app_acks(acks, rt.store)
    )


def _normalise_agent(p: Pipeline) -> None:
    rt = p.rt

    async def first(w: HazardWarning, verdict: str) -> None:
        if verdict == "new":  # recorded as the newest version; the feed record and the plan can wait
            await fast_path(p, w)

    async def accept(raw: bytes, source: str) -> None:
        w, verdict = await accept_feed(raw, source, rt.store, rt.feed_policy, first)
        with structlog.contextvars.bound_contextvars(warning_id=w.warning_id):
            log.info(
                "warning_accepted",
                version=w.version,
                hazard=w.hazard,
                severity=w.severity,
                msg_type=w.msg_type,
                source=source,
                verdict=verdict,
            )
        if verdict != "superseded":
            await p.emit_warning(w)

    @p.app.agent(p.feeds, name="normalise")
    async def normalise_agent(stream: faust.StreamT[bytes]) -> None:
        await rt.ready()
        async for event in stream.events():
            raw, source = event.value, topics.source_of(event.message.topic)
            ok = await guarded(
                "normalise", partial(accept, raw, source), raw, key_text(event.key), source, p.dead_letter
            )
            if not ok:
                await _record_rejected(p, raw, source)


def _resolve_agent(p: Pipeline) -> None:
    rt = p.rt

    async def plan(raw: bytes) -> None:
        w = records.decode_warning(raw)
        if await rt.store.warning_state(w.warning_id, w.version) == "resolved":
            # A copy the reconciler re-emitted while this version waited its turn: planned already (its
            # villages have their own reconciliation). Planning it again would cost a whole plan per copy
            # and, under load, make the queue it waits in longer still.
            metrics.RESOLVE_SKIPPED.inc()
            log.info("resolve_skipped_resolved", warning_id=w.warning_id, version=w.version)
            return
        early: set[str] = set()

        async def speakers_first(speakers: list[tuple[str, list[str]]]) -> None:
            # Again after the normalise stage's fast path (idempotent: only what it did not claim), before
            # the people's plan is written.
            await speakers_now(p, w, speakers)
            early.update(v for v, _ in speakers)

        villages = await plan_deliveries(
            w, rt.directory, rt.dissemination, rt.store, p.settings.command_ttl_s, speakers_first
        )
        if w.msg_type == MsgType.CANCEL:  # the stop for every terminal of the villages reached, by cell
            await speak_by_groups(
                p, w, [(v, [d for d, _ in rt.directory.devices.get(v, [])]) for v in villages]
            )
        # Again where there are people's deliveries to send.
        again = [v for v in villages if v not in early or rt.people_channels]
        await p.emit_villages(w.warning_id, w.version, again)
        log.info("warning_resolved", warning_id=w.warning_id, version=w.version, villages=len(villages))

    @p.app.agent(p.warnings, name="resolve")
    async def resolve_agent(stream: faust.StreamT[bytes]) -> None:
        await rt.ready()
        async for event in stream.events():
            raw = event.value
            await guarded("resolve", partial(plan, raw), raw, key_text(event.key), None, p.dead_letter)


def _batch_agent(
    p: Pipeline,
    topic: faust.TopicT,
    name: str,
    parse: Parse[T],
    apply: Callable[[list[T]], Awaitable[Any]],
) -> None:
    """An agent over batches: each record parsed alone (a bad one dead-lettered alone), the batch's
    items applied at once; a batch is acked only when the next one is asked for (after it was handled)."""

    async def agent(stream: faust.StreamT[bytes]) -> None:
        await p.rt.ready()
        async for events in _batches(stream, p):
            items, raws = await p.parse_each(name, events, parse)
            if items:
                await guarded(name, partial(_call, apply, items), b"", None, None, p.dead_letter_each(raws))

    agent.__name__ = agent.__qualname__ = f"{name.replace('-', '_')}_agent"
    p.app.agent(topic, name=name)(agent)


async def _call(apply: Callable[[list[T]], Awaitable[Any]], items: list[T]) -> None:
    await apply(items)


def _batches(stream: faust.StreamT[bytes], p: Pipeline) -> AsyncIterator[Sequence[Any]]:
    assert isinstance(stream, faust.Stream)
    batches: AsyncIterator[Sequence[Any]] = stream.take_events(
        p.settings.dispatch_batch, within=p.settings.batch_window_s
    )
    return batches


def _village_task(p: Pipeline) -> Parse[tuple[HazardWarning, str]]:
    async def parse(raw: bytes) -> list[tuple[HazardWarning, str]]:
        task = records.decode_village_task(raw)
        w = await p.rt.warning(task.warning_id, task.version)
        if w is None:  # a task can only exist for a recorded warning: this one is forged or foreign
            raise BadInput("unknown_warning", f"{task.warning_id} v{task.version} is not recorded")
        return [(w, task.village_code)]

    return parse


def _dispatch(p: Pipeline) -> Callable[[list[tuple[HazardWarning, str]]], Awaitable[None]]:
    rt = p.rt

    async def work(tasks: list[tuple[HazardWarning, str]]) -> None:
        res = await dispatch_loudspeakers(tasks, rt.store, rt.speaker, rt.signers, rt.policy)
        if rt.people_channels:
            await dispatch_people(
                tasks, rt.store, rt.send_people, rt.policy, rt.people_channels, rt.directory
            )
        if res.due:
            for w, village in tasks:  # one line per village, so a duty officer can grep a village
                log.info("village_dispatched", warning_id=w.warning_id, village=village)
            log.info(
                "batch_dispatched",
                villages=res.villages,
                due=res.due,
                sent=res.sent,
                failed=res.failed,
                **res.phases,
            )

    return work


async def _speaker_acks(raw: bytes) -> list[SpeakerAck]:
    return records.decode_ack_batch(raw)


async def _channel_events(raw: bytes) -> list[records.ChannelEvent]:
    return records.decode_channel_events(raw)


async def _app_acks(raw: bytes) -> list[records.AppAck]:
    return [records.decode_app_ack(raw)]


async def _record_rejected(p: Pipeline, raw: bytes, source: str) -> None:
    metrics.FEED_MESSAGES.labels(source, "rejected").inc()
    try:
        await p.rt.store.record_feed(digest(raw), source, "dead_letter")
    except Exception as e:  # the dead-letter row is the record; this is bookkeeping
        log.warning("feed_record_failed", error=repr(e))
