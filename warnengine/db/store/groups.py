"""Deliveries of a group command: recorded already claimed, in the fewest round trips before the publish."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import select

from warnengine.db import tables as t
from warnengine.db.store.base import StoreBase, chunks
from warnengine.model import Channel, DeliveryState
from warnengine.model.delivery import delivery_id
from warnengine.model.records import DueDelivery, VillageTarget

ED25519 = "ed25519"


class GroupQueries(StoreBase):
    async def claim_new(self, targets: Sequence[VillageTarget]) -> list[DueDelivery]:
        """Create these terminals' deliveries with their first attempt recorded (design decision 2), in one
        transaction, and return those created now: a delivery that already existed is not returned (it is
        claimed, if due, by `claim_due`). With it, each terminal's signature algorithm: the devices not on
        the default are few, so they are read in one small query rather than joined row by row."""
        now = self.clock.now()
        new = sorted(  # in key order: one walk of the primary-key B-tree
            (
                DueDelivery(
                    delivery_id(tg.warning_id, tg.version, r, Channel.LOUDSPEAKER),
                    tg.warning_id,
                    tg.version,
                    tg.village_code,
                    r,
                    0,  # attempts before this one: a first send
                    tg.expires_at,
                )
                for tg in targets
                for r in tg.recipients
            ),
            key=lambda d: d.delivery_id,
        )
        rows = [
            {
                "delivery_id": d.delivery_id,
                "warning_id": d.warning_id,
                "version": d.version,
                "village_code": d.village_code,
                "channel": d.channel,
                "recipient": d.recipient,
                "state": DeliveryState.PENDING.value,
                "attempts": 1,
                "last_attempt_at": now,
                "created_at": now,
                "expires_at": d.expires_at,
            }
            for d in new
        ]
        created: set[str] = set()
        dv = t.devices.c
        async with self.engine.begin() as conn:
            for chunk in chunks(rows):
                res = await conn.execute(
                    self._insert_ignore(t.deliveries).returning(t.deliveries.c.delivery_id), list(chunk)
                )
                created.update(r.delivery_id for r in res)
            other = await conn.execute(select(dv.device_id, dv.sig_alg).where(dv.sig_alg != ED25519))
            algs = {r.device_id: r.sig_alg for r in other}
        return [replace(d, sig_alg=algs.get(d.recipient, ED25519)) for d in new if d.delivery_id in created]
