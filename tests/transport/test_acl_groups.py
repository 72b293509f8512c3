"""Group topics on a production-like Mosquitto (TLS, passwords, deploy/mosquitto/warnengine.acl): with the
stanzas `warnengine grid acl` generates, a terminal reads its county's, township's and village's group
topics and no other cell's; no terminal may publish on a group topic; without the stanzas (the deploy file
alone) a terminal reads no group topic at all — the documented limitation of `%u` patterns."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.transport.test_tls import cid
from tests.transport.tls_broker import ENGINE_USER, SecureBroker, secure_mosquitto
from warnengine.transport.mqtt import AsyncMqtt
from warnengine.wire.loudspeaker import group_topic

V1, V2, OTHER = "530102001001", "530102001002", "530102002001"
DEVICES = {"spk-g1": V1, "spk-g2": V2, "spk-o": OTHER}
CELLS = {
    "county": "530102000000",
    "township": "530102001000",
    "village": V1,
    "other_village": V2,
    "other_township": "530102002000",
    "other_county": "530103000000",
}


@pytest.fixture(scope="module")
def grouped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    with secure_mosquitto(tmp_path_factory.mktemp("tls-groups"), list(DEVICES), groups=DEVICES) as b:
        yield b


async def _heard(b: SecureBroker, user: str) -> set[str]:
    """The cells whose group topic `user` heard, when the engine publishes once on every cell's topic and
    `user` publishes (tries to) once on its own village's."""
    listener = AsyncMqtt("127.0.0.1", b.tls, cid(), security=b.login(user))
    engine = AsyncMqtt("127.0.0.1", b.tls, cid(), security=b.login(ENGINE_USER))
    await listener.connect(5)
    await engine.connect(5)
    try:
        for cell in CELLS.values():
            await listener.subscribe(group_topic(cell), 1)
        await asyncio.sleep(0.3)  # subscribed
        for name, cell in CELLS.items():
            await engine.publish(group_topic(cell), name.encode(), 1)
        await listener.publish(group_topic(V1), b"forged-by-terminal", 1)  # the broker drops it
        await asyncio.sleep(0.5)
        heard: set[str] = set()
        while not listener.messages.empty():
            heard.add(listener.messages.get_nowait().payload.decode())
        return heard
    finally:
        await listener.disconnect()
        await engine.disconnect()


async def test_a_terminal_reads_its_cells_group_topics_and_no_others(grouped: SecureBroker) -> None:
    assert await _heard(grouped, "spk-g1") == {"county", "township", "village"}
    assert await _heard(grouped, "spk-g2") == {"county", "township", "other_village"}
    assert await _heard(grouped, "spk-o") == {"county", "other_township"}


async def test_without_the_generated_stanzas_a_terminal_reads_no_group_topic(secure: SecureBroker) -> None:
    """The deploy ACL alone: `%u` patterns give a terminal its own topics only."""
    assert await _heard(secure, "spk-a") == set()
