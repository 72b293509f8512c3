"""The dispatch stage with the EB platform as the loudspeaker provider, against the real record (SQLite and
PostgreSQL) and the fake platform: the platform down leaves every delivery open with the reason (what the
villages' fallback reads); back up, the re-send goes out and the platform's reports, through the real ack
stage, make the deliveries played and the terminals' health known."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from channels.eb_package import EbIdentity, EbPackager
from channels.eb_platform import EbPlatformChannel, EbPlatformConfig
from channels.eb_platform_webhook import EbReports, eb_platform_routes
from tests.api.test_eb_e2e import SRC_EBRID, with_eb_villages
from tests.fakes.eb_platform import FakeEbPlatform
from tests.fakes.faults import FakeServer
from tests.plan.conftest import planned_village
from warnengine.acks.stage import apply_speaker_acks
from warnengine.db import tables as t
from warnengine.db.store import Store
from warnengine.directory import County
from warnengine.dispatch.stage import DispatchPolicy, dispatch_loudspeakers
from warnengine.model import SpeakerAck
from warnengine.signing import Signers, load_or_create_signer
from warnengine.signing.sm2 import Sm2Signer

POLICY = DispatchPolicy(command_ttl_s=3600, resend_after_s=30, max_attempts=5)


async def states(store: Store, warning_id: str, devices: set[str]) -> set[tuple[str, int, str | None]]:
    d = t.deliveries.c
    query = select(d.state, d.attempts, d.reason).where(d.warning_id == warning_id, d.recipient.in_(devices))
    async with store.engine.connect() as conn:
        return {(r.state, r.attempts, r.reason) for r in await conn.execute(query)}


async def test_platform_down_then_up(store: Store, small_county: County, tmp_path: Path) -> None:
    village = next(c.code for c in small_county.cells if c.level.value == "village")
    county, eb = with_eb_villages(small_county, [village])
    county = dataclasses.replace(county, devices=[d for d in county.devices if d.device_id in eb])
    assert eb
    w, _ = await planned_village(store, county, "w-eb")
    signer = Sm2Signer.generate()
    async with FakeEbPlatform(signer.public, terminals={village: sorted(eb)}) as fake:
        config = EbPlatformConfig(
            url=fake.url,
            sender_name="示范县应急管理局",
            sender_code=SRC_EBRID,
            county_code="410526000000",
            platform_public_key=fake.public_key,
            timeout_s=1.0,
            attempts=2,
            backoff_s=0.01,
        )
        ident = EbIdentity(SRC_EBRID, "0" * 23, "000000000001", "000000000002")
        channel = EbPlatformChannel(config, EbPackager(ident, signer), store, dead_letter=store.dead_letter)
        signers = Signers(load_or_create_signer(tmp_path / "engine.key"))

        await fake.server.set_down(True)
        res = await dispatch_loudspeakers([(w, village)], store, channel, signers, POLICY)
        assert res.failed == len(eb) and res.sent == 0
        assert await states(store, w.warning_id, eb) == {("pending", 1, "eb_platform_down")}

        async def on_acks(acks: list[SpeakerAck]) -> None:
            await apply_speaker_acks(acks, store)

        async def on_status(rows: Sequence[dict[str, Any]]) -> list[str]:
            return (await store.record_device_status(rows))[1]

        app = web.Application()
        app.add_routes(eb_platform_routes(EbReports(channel, on_acks, on_status)))
        reports = FakeServer(app)
        await reports.start()
        fake.report_url = f"{reports.base_url}/webhooks/eb/ebd"
        try:
            await fake.server.set_down(False)
            store.clock.advance(POLICY.resend_after_s)  # type: ignore[attr-defined]
            res = await dispatch_loudspeakers([(w, village)], store, channel, signers, POLICY)
            assert res.sent == len(eb)
            await fake.settle()
        finally:
            await reports.stop()
            await channel.stop()
        assert {s for s, _, _ in await states(store, w.warning_id, eb)} == {"played"}
        d = t.devices.c
        async with store.engine.connect() as conn:
            rows = await conn.execute(select(d.device_id, d.online).where(d.device_id.in_(eb)))
            assert {r.device_id: r.online for r in rows} == dict.fromkeys(eb, True)
