"""The reference terminal (`warnengine speaker`): one loudspeaker as a real MQTT client.

It verifies every command (TerminalLogic), plays through a priority queue (Player) into a sink, acks each
step on `.../ack`, and keeps a retained `.../status` (Last Will `online: false`, heartbeat re-publish).
Integrators can run it next to an amplifier or copy it; docs/loudspeakers.md is the contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import structlog

from warnengine.clock import Clock
from warnengine.signing import CommandVerifier
from warnengine.speaker.command import read_command
from warnengine.speaker.journal import ReplayJournal
from warnengine.speaker.link import LinkConfig, TerminalLink, open_link
from warnengine.speaker.playback import Player, PlayEvent, PlayItem, Sink
from warnengine.speaker.terminal import TerminalLogic, Verdict
from warnengine.transport.mqtt import Message, MqttError, Will
from warnengine.wire.loudspeaker import device_topic, group_topics

log = structlog.get_logger("warnengine.speaker")

FIRMWARE = "warnengine-ref/1"
WARNING_PRIORITY = 3  # from blue warnings up, a play keeps its own (signed) volume; below, the terminal's


@dataclass(frozen=True)
class TerminalConfig:
    device_id: str
    village: str
    link: LinkConfig
    heartbeat_s: float = 30.0
    volume: int = 80
    firmware: str = FIRMWARE
    journal: Path | None = None  # accepted nonces and command ids, kept across restarts


class ReferenceTerminal:
    def __init__(self, cfg: TerminalConfig, verifier: CommandVerifier, sink: Sink, clock: Clock) -> None:
        self.cfg = cfg
        journal = ReplayJournal(cfg.journal) if cfg.journal else None
        self.logic = TerminalLogic(cfg.device_id, verifier, clock, village=cfg.village, journal=journal)
        self.player = Player(sink, clock)
        self.volume = cfg.volume
        self._clock = clock
        self._link: TerminalLink | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.acks: list[dict[str, Any]] = []  # every ack sent, for tests and `--once`
        self.log = log.bind(device_id=cfg.device_id, village=cfg.village)

    def topic(self, leaf: str) -> str:
        return device_topic(self.cfg.village, self.cfg.device_id, leaf)

    def status(self, online: bool = True, reason: str | None = None) -> dict[str, Any]:
        playing = self.player.playing
        body: dict[str, Any] = {
            "online": online,
            "volume": self.volume,
            "playing": playing.cmd_id if playing else None,
            "firmware": self.cfg.firmware,
            "at": round(self._clock.now(), 3),
        }
        if reason:
            body["reason"] = reason  # offline only: "will" (broker sent the Last Will) or "shutdown"
        return body

    @property
    def link(self) -> TerminalLink:
        assert self._link is not None, "start() first"
        return self._link

    async def start(self) -> None:
        # The Will has no `at`: the broker publishes it later, and the engine stamps it on arrival.
        will_body = {k: v for k, v in self.status(False, "will").items() if k != "at"}
        will = Will(self.topic("status"), json.dumps(will_body).encode(), qos=1, retain=True)
        self._link = await open_link(self.cfg.link, will)
        await self.link.subscribe(self.topic("cmd"), 1)
        for topic in group_topics(self.cfg.village):  # one command for every terminal of a cell
            await self.link.subscribe(topic, 1)
        await self._publish_status()  # the first one waits: `online` is retained before any command
        self._tasks = [
            asyncio.create_task(self._commands()),
            asyncio.create_task(self._events()),
            asyncio.create_task(self._heartbeat()),
        ]
        self.log.info("terminal_started", protocol=self.link.protocol, client_id=self.cfg.link.client_id)

    async def run(self) -> None:
        """Until cancelled or one of the loops fails."""
        await asyncio.gather(*self._tasks)

    async def stop(self) -> None:
        """Graceful: announce `online: false` ourselves, keep the session (queued commands wait for us)."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await self.player.close()
        if self._link:
            with contextlib.suppress(MqttError, TimeoutError):
                await asyncio.wait_for(self._publish_status(False, "shutdown"), 3.0)
            await self._link.disconnect()
        self.log.info("terminal_stopped")

    # -- loops -------------------------------------------------------------------------------------

    async def _commands(self) -> None:
        while True:
            msg = await self.link.messages.get()
            try:
                await self._handle(msg)
            except Exception as e:  # a command we cannot handle must not take the terminal down
                self.log.error("command_failed", topic=msg.topic, error=repr(e))
                await self._ack("?", "failed", f"internal:{type(e).__name__}")
            finally:
                self.link.ack(msg)  # PUBACK only now: a crash before this gets the command again

    async def _events(self) -> None:
        while True:
            ev: PlayEvent = await self.player.events.get()
            self.logic.progress(ev.item.cmd_id, ev.state)
            if ev.state == "played":
                self.logic.finished(ev.item.cmd_id, "played")
            await self._ack(ev.item.cmd_id, ev.state, ev.reason)
            self._publish_status()

    async def _heartbeat(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.link.reconnected.wait(), self.cfg.heartbeat_s)
                self.log.info("terminal_reconnected")
            self.link.reconnected.clear()
            self._publish_status()

    # -- one command -------------------------------------------------------------------------------

    async def _handle(self, msg: Message) -> None:
        cmd = read_command(msg.payload)
        if isinstance(cmd, str):
            self.log.warning("command_rejected", cmd_id="?", reason=cmd, size=len(msg.payload))
            await self._ack("?", "rejected", cmd)
            return
        cmd_id = str(cmd.get("id", "?"))
        d = self.logic.decide(cmd)
        if d.verdict == Verdict.REJECT:
            self.log.warning("command_rejected", cmd_id=cmd_id, reason=d.reason)
            await self._ack(cmd_id, "rejected", d.reason)
            return
        if d.verdict == Verdict.DUPLICATE:
            await self._ack(cmd_id, d.state or "received", "duplicate")
            return
        await self._ack(cmd_id, "received")
        action = str(cmd.get("action", "play"))
        item = PlayItem.from_command(cmd)
        self.log.info("command_accepted", cmd_id=cmd_id, action=action, priority=item.priority)
        if action == "play":
            if item.priority < WARNING_PRIORITY:
                item = replace(item, volume=self.volume)
            self.player.submit(item)
        elif action == "test":
            # A link test (issue 18): the command verified and addressed to us is the whole test, so it
            # is answered at once and nothing is played — a daily test must not wake the village.
            self.log.info("link_test_answered", cmd_id=cmd_id)
            await self._done(cmd_id)
        elif action == "stop":
            target = item.warning_id or "*"
            stopped = self.player.stop(target, by=cmd_id, max_priority=item.priority if target == "*" else 9)
            self.log.info("stopped", cmd_id=cmd_id, target=target, stopped=[s.cmd_id for s in stopped])
            await self._done(cmd_id)
        elif action == "volume":
            self.volume = item.volume
            await self._done(cmd_id)

    async def _done(self, cmd_id: str) -> None:
        """`stop` and `volume` are carried out at once: `played` means done."""
        self.logic.finished(cmd_id, "played")
        await self._ack(cmd_id, "played")
        self._publish_status()

    async def _ack(self, cmd_id: str, state: str, reason: str | None = None) -> None:
        body: dict[str, Any] = {"cmd_id": cmd_id, "state": state, "at": round(self._clock.now(), 3)}
        if reason:
            body["reason"] = reason
        self.acks.append(body)
        # Not awaited: paho queues QoS 1 while disconnected and resends; the loop must not stall on it.
        _fire(self.link.publish_nowait(self.topic("ack"), json.dumps(body).encode(), 1))

    def _publish_status(self, online: bool = True, reason: str | None = None) -> asyncio.Future[None]:
        body = json.dumps(self.status(online, reason)).encode()
        return _fire(self.link.publish_nowait(self.topic("status"), body, 1, retain=True))


def _fire(fut: asyncio.Future[None]) -> asyncio.Future[None]:
    """A publish nobody waits for: a lost PUBACK at shutdown is not an error worth a warning."""
    fut.add_done_callback(lambda f: f.cancelled() or f.exception())
    return fut
