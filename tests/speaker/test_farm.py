"""The simulated terminal farm owns the MQTT client start_farm made for it: once its task ends, the
client is disconnected (a forgotten client kept reconnecting into a closed event loop in later tests)."""

from __future__ import annotations

import asyncio
import secrets

import pytest

from tests.speaker.broker import VILLAGE
from warnengine.clock import SystemClock
from warnengine.signing import Signer, Verifier
from warnengine.speaker.farm import TerminalFarm
from warnengine.transport.mqtt import AsyncMqtt


async def test_a_stopped_farm_lets_go_of_its_connection(broker: int, signer: Signer) -> None:
    mqtt = AsyncMqtt("127.0.0.1", broker, "test-farm-" + secrets.token_hex(4))
    await mqtt.connect()
    farm = TerminalFarm([("spk-1", VILLAGE)], Verifier([signer.public]), SystemClock(), mqtt)
    task = asyncio.create_task(farm.run())
    await asyncio.sleep(0.2)
    assert mqtt.connected
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.1)
    assert not mqtt.connected
