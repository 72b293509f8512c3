"""The worker on a broker set up as production runs it (deploy/mosquitto: TLS, passwords, per-device ACL):
the dispatch channel, the ack bridge and the status bridge all log in with the engine's account, every
terminal (logged in as itself) plays the warning and is recorded, and a stolen terminal login cannot
mark another terminal's delivery played — not on that terminal's topic (the ACL), not on its own (the
engine's recipient check)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

from tests.integration.conftest import Harness, running_stack
from tests.integration.test_pipeline import json_warning
from tests.transport.tls_broker import ENGINE_USER, SecureBroker, password_of, secure_mosquitto
from warnengine.clock import SystemClock
from warnengine.directory import County
from warnengine.model.warning import chain_id
from warnengine.signing import load_verifiers
from warnengine.signing.ed25519 import public_path
from warnengine.speaker.link import LinkConfig
from warnengine.speaker.reference import ReferenceTerminal, TerminalConfig
from warnengine.speaker.sinks import NullSink
from warnengine.transport.mqtt import AsyncMqtt
from warnengine.wire.loudspeaker import device_topic


async def _terminals(
    stack: AsyncExitStack, b: SecureBroker, key_file: Path, devices: dict[str, str]
) -> AsyncIterator[ReferenceTerminal]:
    verifier = load_verifiers([public_path(key_file)])
    for device, village in devices.items():
        link = LinkConfig("127.0.0.1", b.tls, f"spk-{device}", "5", b.login(device), connect_timeout_s=5)
        t = ReferenceTerminal(TerminalConfig(device, village, link), verifier, NullSink(), SystemClock())
        await t.start()
        stack.push_async_callback(t.stop)
        yield t


async def test_worker_on_a_tls_broker_with_passwords_and_acls(
    tmp_path: Path, small_county: County, small_county_dir: Path
) -> None:
    township = next(c for c in small_county.cells if c.level == "township")
    villages = {c.code for c in small_county.cells if c.parent == township.code}
    devices = {d.device_id: d.cell_code for d in small_county.devices if d.cell_code in villages}
    silent, thief = sorted(devices)[:2]  # `silent` never comes online; `thief`'s login is stolen
    live = {d: v for d, v in devices.items() if d != silent}
    pw = tmp_path / "engine-password"
    pw.write_text(password_of(ENGINE_USER) + "\n")
    (tmp_path / "mqtt").mkdir()
    with secure_mosquitto(tmp_path / "mqtt", list(devices), groups=devices) as b:  # + `grid acl`
        async with (
            running_stack(
                tmp_path / "var",
                small_county_dir,
                mqtt_url=f"mqtts://{ENGINE_USER}@localhost:{b.tls}",
                mqtt_ca_file=b.ca.cert,
                mqtt_password_file=pw,
            ) as h,
            AsyncExitStack() as stack,
        ):
            await h.start_worker()
            started = [t async for t in _terminals(stack, b, h.settings.key_file(), live)]
            identifier = f"S-{time.time_ns()}"
            await h.send("flood", json_warning(identifier, [township.code]))
            warning_id = chain_id("flood.example.cn", identifier)

            await _wait_played(h, warning_id, set(live))
            assert all(t.logic.state.played == 1 for t in started)
            assert await h.store.dead_letters() == []

            async def all_seen() -> bool:  # the status bridge heard each terminal through the engine's login
                rows = [await h.store.get_device(d) for d in live]
                return all(r is not None and r["last_seen"] is not None for r in rows)

            await h.wait_for(all_seen, 15, "every terminal's status recorded")

            [target] = [r for r in await h.deliveries(warning_id) if r["recipient"] == silent]
            forger = AsyncMqtt("127.0.0.1", b.tls, "forger", security=b.login(thief))
            await forger.connect(5)
            ack = json.dumps({"cmd_id": target["delivery_id"], "state": "played", "at": time.time()}).encode()
            for topic in (
                device_topic(devices[silent], silent, "ack"),
                device_topic(devices[thief], thief, "ack"),
            ):
                await forger.publish(topic, ack)
            await forger.disconnect()

            async def refused() -> bool:
                return any(d["reason"] == "ack_device_mismatch" for d in await h.store.dead_letters())

            await h.wait_for(refused, 15, "the forged ack on the thief's own topic dead-lettered")
            await asyncio.sleep(1)  # the forgery on the silent terminal's topic, had the ACL let it through
            [after] = [r for r in await h.deliveries(warning_id) if r["recipient"] == silent]
            assert after["state"] not in ("received", "playing", "played")
            assert len(await h.store.dead_letters()) == 1


async def _wait_played(h: Harness, warning_id: str, devices: set[str]) -> None:
    async def played() -> bool:
        rows = {r["recipient"]: r["state"] for r in await h.deliveries(warning_id)}
        return all(rows.get(d) == "played" for d in devices)

    await h.wait_for(played, 60, f"terminals of {warning_id} played")
