"""Group commands at reference terminals over a real Mosquitto: one signed command on a cell's group topic
plays once on every terminal under the cell and never on one outside it; a forged, replayed or misplaced
group command is refused like any other; the per-terminal re-send of a group command (same id) is
recognised, not played again; a group `stop` stops every terminal of the cell."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from tests.speaker.broker import EngineSide, command
from warnengine.clock import SystemClock
from warnengine.signing import Signer, Verifier
from warnengine.speaker.link import LinkConfig
from warnengine.speaker.reference import ReferenceTerminal, TerminalConfig
from warnengine.speaker.sinks import RecordingSink
from warnengine.wire.loudspeaker import device_topic, group_topic

CLOCK = SystemClock()
V1, V2 = "530102001001", "530102001002"  # two villages of township 530102001000
OTHER = "530102002001"  # a village of another township of the same county
TOWNSHIP, COUNTY = "530102001000", "530102000000"


@asynccontextmanager
async def terminals(
    port: int, signer: Signer, villages: dict[str, str], seconds: float = 0.0
) -> AsyncIterator[dict[str, RecordingSink]]:
    """Reference terminals (device → village), each with its own connection and sink."""
    sinks: dict[str, RecordingSink] = {}
    async with AsyncExitStack() as stack:
        for device, village in villages.items():
            sink = sinks[device] = RecordingSink(seconds)
            link = LinkConfig("127.0.0.1", port, f"spk-{device}", protocol="5")
            t = ReferenceTerminal(
                TerminalConfig(device, village, link), Verifier([signer.public]), sink, CLOCK
            )
            await t.start()
            stack.push_async_callback(t.stop)
        yield sinks


async def publish_group(engine: EngineSide, cell: str, cmd: dict[str, object] | bytes) -> None:
    raw = cmd if isinstance(cmd, bytes) else json.dumps(cmd, ensure_ascii=False).encode()
    await engine.mqtt.publish(group_topic(cell), raw, 1)


def fleet() -> dict[str, str]:
    tag = secrets.token_hex(3)
    return {f"g1-{tag}-a": V1, f"g1-{tag}-b": V1, f"g2-{tag}": V2, f"o-{tag}": OTHER}


async def test_a_village_group_command_plays_once_under_the_village_only(
    broker: int, signer: Signer, engine: EngineSide
) -> None:
    devices = fleet()
    under = {d for d, v in devices.items() if v == V1}
    async with terminals(broker, signer, devices) as sinks:
        cmd = command(signer, CLOCK, group=V1)
        await publish_group(engine, V1, cmd)
        for d in under:
            await engine.wait(lambda d=d: ("played", None) in engine.states(d, cmd["id"]))
        # The engine's per-terminal re-send of the same command (new nonce, same id) is confirmed, not played.
        again = command(signer, CLOCK, id=cmd["id"], device=sorted(under)[0], village=V1)
        await engine.mqtt.publish(device_topic(V1, sorted(under)[0], "cmd"), json.dumps(again).encode(), 1)
        await engine.wait(lambda: ("played", "duplicate") in engine.states(sorted(under)[0], cmd["id"]))
        for d, sink in sinks.items():
            assert sink.ended() == ([cmd["id"]] if d in under else []), d
            assert (d in under) == bool(engine.states(d, cmd["id"]))  # outside: never even received


async def test_township_and_county_group_commands_reach_every_terminal_under_them(
    broker: int, signer: Signer, engine: EngineSide
) -> None:
    devices = fleet()
    async with terminals(broker, signer, devices) as sinks:
        township = command(signer, CLOCK, group=TOWNSHIP, warning_id="w-town")
        await publish_group(engine, TOWNSHIP, township)
        county = command(signer, CLOCK, group=COUNTY, warning_id="w-county")
        await publish_group(engine, COUNTY, county)
        for d in devices:
            await engine.wait(lambda d=d: ("played", None) in engine.states(d, county["id"]))
        for d, v in devices.items():
            if v != OTHER:
                await engine.wait(lambda d=d: ("played", None) in engine.states(d, township["id"]))
        for d, v in devices.items():
            want = {county["id"]} | ({township["id"]} if v != OTHER else set())
            assert sorted(sinks[d].ended()) == sorted(want), d


async def test_forged_replayed_and_misplaced_group_commands_are_refused(
    broker: int, signer: Signer, engine: EngineSide
) -> None:
    devices = fleet()
    under = sorted(d for d, v in devices.items() if v == V1)
    outsider = next(d for d, v in devices.items() if v == V2)
    async with terminals(broker, signer, devices) as sinks:
        good = command(signer, CLOCK, group=V1)
        await publish_group(engine, V1, good)
        for d in under:
            await engine.wait(lambda d=d: ("played", None) in engine.states(d, good["id"]))
        forged = {**command(signer, CLOCK, group=V1), "text": "假警报：水库垮坝"}  # altered after signing
        relabelled = {**command(signer, CLOCK, group=V1), "group": COUNTY}  # widened after signing
        await publish_group(engine, V1, forged)
        await publish_group(engine, COUNTY, relabelled)
        await publish_group(engine, V1, good)  # the captured bytes again
        # A genuine group command for V1, replayed on a terminal of V2's own topic: not its cell.
        await engine.mqtt.publish(device_topic(V2, outsider, "cmd"), json.dumps(good).encode(), 1)
        for d in under:
            await engine.wait(lambda d=d: ("rejected", "bad_signature") in engine.states(d, forged["id"]))
            await engine.wait(lambda d=d: ("rejected", "bad_signature") in engine.states(d, relabelled["id"]))
            await engine.wait(lambda d=d: ("rejected", "replayed") in engine.states(d, good["id"]))
        await engine.wait(lambda: ("rejected", "wrong_group") in engine.states(outsider, good["id"]))
        for d, sink in sinks.items():
            assert sink.ended() == ([good["id"]] if d in under else []), d


async def test_a_group_stop_stops_every_terminal_of_the_cell(
    broker: int, signer: Signer, engine: EngineSide
) -> None:
    devices = fleet()
    async with terminals(broker, signer, devices, seconds=30.0) as sinks:
        play = command(signer, CLOCK, group=COUNTY, warning_id="w-quake", priority=9)
        await publish_group(engine, COUNTY, play)
        for d in devices:
            await engine.wait(lambda d=d: ("playing", None) in engine.states(d, play["id"]))
        stop = command(signer, CLOCK, group=COUNTY, warning_id="w-quake", action="stop", text="")
        await publish_group(engine, COUNTY, stop)
        for d in devices:
            await engine.wait(lambda d=d: ("played", None) in engine.states(d, stop["id"]))
            await engine.wait(lambda d=d: ("failed", f"stopped:{stop['id']}") in engine.states(d, play["id"]))
        for sink in sinks.values():
            assert ("cut", play["id"], 100) in sink.log and sink.ended() == []
