"""deploy/mosquitto/warnengine.acl with the engine's own user: what a terminal may and may not do."""

from __future__ import annotations

import asyncio
import json
import secrets

from tests.speaker.broker import VILLAGE, command
from tests.transport.test_tls import CLOCK, ack_listener, cid, terminal
from tests.transport.tls_broker import ENGINE_USER, SecureBroker
from warnengine.signing import Signer
from warnengine.speaker.link import LinkConfig, open_link
from warnengine.transport.mqtt import AsyncMqtt, Will
from warnengine.wire.loudspeaker import device_topic


async def test_a_terminal_cannot_speak_for_another_nor_hear_its_commands(
    secure: SecureBroker, signer: Signer
) -> None:
    engine = secure.login(ENGINE_USER)
    b_link = LinkConfig("127.0.0.1", secure.tls, "spk-spk-b", "5", secure.login("spk-b"), connect_timeout_s=5)
    async with ack_listener(secure.tls, engine) as acks, terminal(secure, signer, "spk-a"):
        b = await open_link(b_link, Will(device_topic(VILLAGE, "spk-b", "status"), b"{}"))
        try:
            await b.subscribe("warn/v1/+/+/+/+/cmd", 1)  # every terminal's commands: only its own arrive
            sender = AsyncMqtt("127.0.0.1", secure.tls, cid(), security=engine)
            await sender.connect(5)
            cmd = command(signer, CLOCK)
            await sender.publish(device_topic(VILLAGE, "spk-a", "cmd"), json.dumps(cmd).encode(), 1)
            await acks.until(cmd["id"], "played")
            await sender.disconnect()

            forged = {"cmd_id": cmd["id"], "state": "failed", "reason": "forged-by-b", "at": 1.0}
            await b.publish(device_topic(VILLAGE, "spk-a", "ack"), json.dumps(forged).encode(), 1)
            own_id = "b-" + secrets.token_hex(3)
            own = {"cmd_id": own_id, "state": "received", "at": 1.0}
            await b.publish(device_topic(VILLAGE, "spk-b", "ack"), json.dumps(own).encode(), 1)
            await acks.until(own_id, "received")  # its own ack arrives ...
            await asyncio.sleep(0.2)
            assert not [a for a in acks.got if a.reason == "forged-by-b"]  # ... the forged one never does
            assert {a.device_id for a in acks.got if a.cmd_id == own_id} == {"spk-b"}
            assert b.messages.empty()  # b never saw spk-a's command
        finally:
            await b.disconnect()


async def test_a_terminal_cannot_command_another(secure: SecureBroker, signer: Signer) -> None:
    """Only the engine's user may write a cmd topic: a terminal's (validly signed, replayed) command is
    dropped by the broker before any terminal could see it."""
    engine = secure.login(ENGINE_USER)
    async with ack_listener(secure.tls, engine) as acks, terminal(secure, signer, "spk-a"):
        rogue = AsyncMqtt("127.0.0.1", secure.tls, "spk-spk-b-2", security=secure.login("spk-b"))
        await rogue.connect(5)
        try:
            cmd = command(signer, CLOCK)
            await rogue.publish(device_topic(VILLAGE, "spk-a", "cmd"), json.dumps(cmd).encode(), 1)
            await asyncio.sleep(0.5)
            assert not [x for x in acks.got if x.cmd_id == cmd["id"]]  # spk-a never got it, so never acked
        finally:
            await rogue.disconnect()
