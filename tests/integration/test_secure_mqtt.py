"""The worker on a broker set up as production runs it (deploy/mosquitto: TLS, passwords, per-device ACL):
the dispatch channel, the ack bridge and the status bridge all log in with the engine's account, and every
terminal (logged in as itself) plays the warning and is recorded."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

from tests.integration.conftest import running_stack
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
    assert devices
    pw = tmp_path / "engine-password"
    pw.write_text(password_of(ENGINE_USER) + "\n")
    (tmp_path / "mqtt").mkdir()
    with secure_mosquitto(tmp_path / "mqtt", list(devices)) as b:
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
            started = [t async for t in _terminals(stack, b, h.settings.key_file(), devices)]
            identifier = f"S-{time.time_ns()}"
            await h.send("flood", json_warning(identifier, [township.code]))
            warning_id = chain_id("flood.example.cn", identifier)

            await h.wait_all_played(warning_id, set(devices))
            assert all(t.logic.state.played == 1 for t in started)
            assert await h.store.dead_letters() == []

            async def all_seen() -> bool:  # the status bridge heard each terminal through the engine's login
                rows = [await h.store.get_device(d) for d in devices]
                return all(r is not None and r["last_seen"] is not None for r in rows)

            await h.wait_for(all_seen, 15, "every terminal's status recorded")
