"""Simulated terminals for a whole county over one MQTT connection (the embedded default and tests).

Each device keeps its own TerminalLogic (signature, expiry, replay, duplicate and cell checks); only the MQTT
connection is shared. The reference terminal (`warnengine speaker`) runs the same logic per device.

A group command reaches every simulated terminal under its cell as the same bytes. Real terminals verify it
at once, each on its own CPU; the farm runs them all on one, so the signature verdict of identical bytes is
computed once and shared (`SharedVerdicts`): any difference in any field is verified afresh.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from warnengine.clock import Clock
from warnengine.signing import CommandVerifier
from warnengine.speaker.command import read_command
from warnengine.speaker.terminal import TerminalLogic, Verdict
from warnengine.transport.mqtt import AsyncMqtt, Message
from warnengine.wire.loudspeaker import cells_of, device_topic, parse_group_topic, parse_topic

log = structlog.get_logger("warnengine.speaker")


class SharedVerdicts:
    """A verifier that remembers the verdict on the last commands it saw, keyed by their every field."""

    def __init__(self, verifier: CommandVerifier, size: int = 64) -> None:
        self._verifier = verifier
        self._size = size
        self._seen: dict[str, str | None] = {}

    def verify(self, command: dict[str, Any]) -> str | None:
        try:
            key = json.dumps(command, sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError):
            return self._verifier.verify(command)
        if key not in self._seen:
            if len(self._seen) >= self._size:
                self._seen.pop(next(iter(self._seen)))
            self._seen[key] = self._verifier.verify(command)
        return self._seen[key]


class TerminalFarm:
    def __init__(
        self,
        devices: Iterable[tuple[str, str]],  # (device_id, village_code)
        verifier: CommandVerifier,
        clock: Clock,
        mqtt: AsyncMqtt,
        play_seconds: float = 0.0,
        offline: Iterable[str] = (),
    ) -> None:
        self.villages = dict(devices)
        self.offline = set(offline)
        shared = SharedVerdicts(verifier)
        self.terminals = {d: TerminalLogic(d, shared, clock, village=v) for d, v in self.villages.items()}
        # cell code (county, township, village) → the devices under it, for group commands
        self.under: dict[str, list[str]] = {}
        for d, v in sorted(self.villages.items()):
            for cell in cells_of(v):
                self.under.setdefault(cell, []).append(d)
        self._clock = clock
        self._mqtt = mqtt
        self._play = play_seconds
        self.report_playing = False  # also ack `playing` (as the reference terminal does) between the two
        self.first_command_at: dict[str, float] = {}  # device → wall time of its first command
        self.command_ids: dict[str, list[str]] = {}  # device → ids received, in order
        self.arrivals: dict[str, dict[str, float]] = {}  # warning id → device → wall time of first command
        self.via: dict[str, list[str]] = {}  # device → per command, the cell of its group topic or "own"
        self.unknown_devices = 0
        # Called with (device, command) as each parsed command arrives, before it is verified: lets a
        # benchmark time command → ack per terminal without a second subscriber doubling the broker's load.
        self.on_command: Callable[[str, dict[str, object]], None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def _heartbeat(self, every_s: float) -> None:
        """Status now and every `every_s`: the engine marks a terminal silent for long enough offline."""
        while True:
            await self.announce()
            await asyncio.sleep(every_s)

    async def announce(self, firmware: str = "warnengine-farm") -> None:
        """Retained `online` status for every simulated terminal, so device health sees them (not unknown).

        One shared connection cannot carry a Last Will per terminal; the reference terminal does that.
        """
        for device, village in self.villages.items():
            if device in self.offline:
                continue
            body = {
                "online": True,
                "volume": 80,
                "playing": None,
                "firmware": firmware,
                "at": round(self._clock.now(), 3),
            }
            self._mqtt.publish_nowait(
                device_topic(village, device, "status"), json.dumps(body).encode(), 1, retain=True
            )

    async def run(self, heartbeat_s: float = 30.0) -> None:
        # Every terminal's own topic and every village's group topic (`group` in the device place), then
        # every township's and the county's group topics: three filters that never overlap.
        for topic in ("warn/v1/+/+/+/+/cmd", "warn/v1/+/+/group/cmd", "warn/v1/+/group/cmd"):
            await self._mqtt.subscribe(topic, 1)
        beat = asyncio.create_task(self._heartbeat(heartbeat_s))
        try:
            await self._serve()
        finally:
            beat.cancel()
            # The farm owns its client (start_farm made it): a stopped farm must not keep reconnecting.
            await self._mqtt.disconnect()

    async def _serve(self) -> None:
        while True:
            msg = await self._mqtt.messages.get()
            try:
                await self._receive(msg)
            except Exception as e:  # one message must never take every terminal of the county down
                log.error("farm_command_failed", topic=msg.topic, error=repr(e))

    async def _receive(self, msg: Message) -> None:
        cell = parse_group_topic(msg.topic)
        if cell is not None:
            cmd = read_command(msg.payload)  # read once; each terminal verifies the command itself
            for device in self.under.get(cell, []):
                await self._receive_at(self.villages[device], device, cmd, cell)
            return
        where = parse_topic(msg.topic)
        if where is None:
            return
        await self._receive_at(where[0], where[1], read_command(msg.payload), "own")

    async def _receive_at(self, village: str, device: str, cmd: dict[str, object] | str, via: str) -> None:
        logic = self.terminals.get(device)
        if logic is None or device in self.offline:
            self.unknown_devices += logic is None
            return
        self.via.setdefault(device, []).append(via)
        if isinstance(cmd, str):
            logic.state.received += 1
            logic.state.rejected += 1
            await self._ack(village, device, "?", "rejected", cmd)
            return
        self.first_command_at.setdefault(device, time.time())
        self.command_ids.setdefault(device, []).append(str(cmd.get("id")))
        self.arrivals.setdefault(str(cmd.get("warning_id")), {}).setdefault(device, time.time())
        if self.on_command is not None:
            self.on_command(device, cmd)
        task = asyncio.create_task(self._handle_safely(logic, village, device, dict(cmd)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle_safely(
        self, logic: TerminalLogic, village: str, device: str, cmd: dict[str, object]
    ) -> None:
        try:
            await self._handle(logic, village, device, cmd)
        except Exception as e:  # a bug, not bad input (that is rejected): log it, keep the terminal
            log.error("farm_command_failed", device_id=device, error=repr(e))

    async def _handle(self, logic: TerminalLogic, village: str, device: str, cmd: dict[str, object]) -> None:
        cmd_id = str(cmd.get("id", "?"))
        d = logic.decide(cmd)
        if d.verdict == Verdict.REJECT:
            await self._ack(village, device, cmd_id, "rejected", d.reason)
            return
        if d.verdict == Verdict.DUPLICATE:
            await self._ack(village, device, cmd_id, d.state or "received", "duplicate")
            return
        await self._ack(village, device, cmd_id, "received")
        if self.report_playing:
            await self._ack(village, device, cmd_id, "playing")
        if self._play:
            await asyncio.sleep(self._play)
        logic.finished(cmd_id, "played")
        await self._ack(village, device, cmd_id, "played")

    async def _ack(
        self, village: str, device: str, cmd_id: str, state: str, reason: str | None = None
    ) -> None:
        body = {"cmd_id": cmd_id, "state": state, "at": round(self._clock.now(), 3)}
        if reason:
            body["reason"] = reason
        self._mqtt.publish_nowait(device_topic(village, device, "ack"), json.dumps(body).encode(), 1)

    def stats(self) -> dict[str, int]:
        t = self.terminals.values()
        return {
            "terminals": len(self.terminals),
            "received": sum(x.state.received for x in t),
            "played": sum(x.state.played for x in t),
            "duplicates": sum(x.state.duplicates for x in t),
            "rejected": sum(x.state.rejected for x in t),
        }
