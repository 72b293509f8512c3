"""Scheduled link tests of the loudspeakers (issue 18): rarely used paths break silently, so every terminal
gets a signed, silent `test` command (daily by default) and must answer it — without playing anything.

A terminal that answers `played` (for `test`: done) passes. One that refuses the command (a bad or unknown
signature: it could not verify a real warning either), fails it, or does not answer within the time
allowed fails: its link is stale until it passes again. Answers are read on the terminals' ack topics by
a connection of the tester's own, so the test needs neither Kafka nor a delivery row.
Every result is recorded (table link_tests), counted and logged; the gauge
`warnengine_link_test_last_success_timestamp_seconds{link="terminal:<id>"}` follows the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from warnengine.clock import Clock
from warnengine.model import SpeakerCommand
from warnengine.obs import metrics
from warnengine.signing import Signers, SigningUnavailable
from warnengine.transport.mqtt import AsyncMqtt, MqttError
from warnengine.wire.loudspeaker import LINK_TEST_PREFIX, PREFIX, BadAck, device_topic, parse_ack

log = structlog.get_logger("warnengine.devices")

LINK_TEST = "link-test"  # the `warning_id` of a test command: it is for no warning


class LinkStore(Protocol):
    async def terminals_to_test(self) -> list[tuple[str, str, str]]: ...

    async def record_link_tests(self, results: Sequence[tuple[str, str, str | None]], now: float) -> None: ...

    async def forget_links(self, kind: str, keep: Sequence[str]) -> list[str]: ...

    async def link_tests(self) -> list[dict[str, Any]]: ...


def terminal_link(device_id: str) -> str:
    return f"terminal:{device_id}"


def silent_test_command(
    device: str, village: str, signers: Signers, alg: str, issued_at: float, answer_s: float
) -> dict[str, object]:
    """The signed, silent `test` for one terminal: addressed to it alone (signed `device` and `village`),
    lowest priority, valid only as long as the tester waits."""
    cmd = SpeakerCommand(
        id=LINK_TEST_PREFIX + secrets.token_hex(10),
        warning_id=LINK_TEST,
        action="test",
        priority=0,
        volume=0,
        issued_at=round(issued_at, 3),
        expires_at=round(issued_at + answer_s, 3),
        nonce=secrets.token_hex(12),
        device=device,
        village=village,
    )
    return signers.sign(cmd.model_dump(exclude={"sig", "key_id", "alg"}, exclude_none=True), alg)


@dataclass
class _Pending:
    device: str
    village: str
    result: str | None = "no_answer"  # until an answer says otherwise; None: passed


async def run_terminal_tests(
    store: LinkStore, connect: Callable[[], AsyncMqtt], signers: Signers, clock: Clock, answer_s: float
) -> dict[str, str | None]:
    """One round over every terminal on record: link → None (passed) or why it failed."""
    terminals = await store.terminals_to_test()
    if not terminals:
        await record(store, {}, "terminal", clock.now())  # forgets the links of terminals taken out
        return {}
    mqtt = connect()
    pending: dict[str, _Pending] = {}
    results: dict[str, str | None] = {}
    await mqtt.connect()
    try:
        await mqtt.subscribe(f"{PREFIX}/+/+/+/+/ack", 1)
        now = clock.now()
        sends = []
        for device, village, alg in terminals:
            try:
                cmd = silent_test_command(device, village, signers, alg, now, answer_s)
            except SigningUnavailable as e:
                results[terminal_link(device)] = f"signing_unavailable: {e}"[:200]
                continue
            pending[str(cmd["id"])] = _Pending(device, village)
            body = json.dumps(cmd, ensure_ascii=False, separators=(",", ":")).encode()
            sends.append(
                mqtt.publish_nowait(device_topic(village, device, "cmd"), body, 1, expiry_s=int(answer_s))
            )
        for failed in await asyncio.gather(*sends, return_exceptions=True):
            if isinstance(failed, BaseException):  # no PUBACK: the test stays unanswered, so it fails
                log.warning("link_test_publish_failed", error=repr(failed))
        await _answers(mqtt, pending, answer_s)
    finally:
        with contextlib.suppress(MqttError):
            await mqtt.disconnect()
    results.update({terminal_link(p.device): p.result for p in pending.values()})
    await record(
        store,
        results,
        "terminal",
        clock.now(),
        {terminal_link(p.device): p.village for p in pending.values()},
    )
    return results


async def _answers(mqtt: AsyncMqtt, pending: dict[str, _Pending], answer_s: float) -> None:
    """Reads answers until every test has a final one or the time is up. An answer that is not an ack,
    or that comes from another terminal's topic, is counted and ignored."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + answer_s
    open_ids = set(pending)
    while open_ids:
        left = deadline - loop.time()
        if left <= 0:
            return
        try:
            msg = await asyncio.wait_for(mqtt.messages.get(), left)
        except TimeoutError:
            return
        try:
            ack = parse_ack(msg)
        except BadAck as bad:
            metrics.LINK_TESTS.labels("terminal", "bad_answer").inc()
            log.warning("link_test_bad_answer", topic=bad.topic, reason=bad.reason)
            continue
        p = pending.get(ack.cmd_id)
        if p is None or ack.cmd_id not in open_ids:
            continue  # another command's ack (a warning's, an earlier round's): not this test's
        if ack.device_id != p.device:
            metrics.LINK_TESTS.labels("terminal", "wrong_device").inc()
            log.warning("link_test_answer_from_another_terminal", device_id=ack.device_id, expected=p.device)
            continue
        state = ack.state.value
        if state in ("received", "playing"):
            continue
        p.result = None if state == "played" else f"{state}: {ack.reason or '-'}"
        open_ids.discard(ack.cmd_id)


async def record(
    store: LinkStore,
    results: dict[str, str | None],
    kind: str,
    now: float,
    where: dict[str, str] | None = None,
) -> None:
    """Results into the record, the counters, the log (a failure bound with its village) and the gauge."""
    await store.record_link_tests([(link, kind, err) for link, err in sorted(results.items())], now)
    for link in await store.forget_links(kind, sorted(results)):  # a round covers every link of its kind
        log.info("link_forgotten", link=link)
        with contextlib.suppress(KeyError):
            metrics.LINK_TEST_LAST_SUCCESS.remove(link)
    for link, err in sorted(results.items()):
        metrics.LINK_TESTS.labels(kind, "ok" if err is None else err.split(":")[0][:32]).inc()
        if err is not None:
            log.warning("link_test_failed", link=link, village=(where or {}).get(link), reason=err)
    log.info(
        "link_tests", kind=kind, tested=len(results), failed=sum(e is not None for e in results.values())
    )
    await refresh_gauge(store)


async def refresh_gauge(store: LinkStore) -> None:
    """`warnengine_link_test_last_success_timestamp_seconds` per link, from the record (0: never passed),
    so a restarted worker reports the same as the one before it."""
    for row in await store.link_tests():
        success = row.get("last_success")
        metrics.LINK_TEST_LAST_SUCCESS.labels(str(row["link"])).set(
            float(success) if isinstance(success, (int, float)) else 0.0
        )
