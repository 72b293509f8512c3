"""An app-push delivery's recipient is the device's token: an FCM registration token (~160 characters)
is stored and claimed on both databases (PostgreSQL enforces the column's length; it was 64)."""

from __future__ import annotations

import secrets

from warnengine.db.store import Store
from warnengine.model import Channel
from warnengine.model.records import VillageTarget


async def test_a_long_push_token_is_a_recipient(store: Store) -> None:
    token = secrets.token_urlsafe(120)  # 160 characters, like an FCM registration token
    now = store.clock.now()
    target = VillageTarget("w-1", 1, "410526100001", Channel.APP, [token], now + 600)
    [due] = await store.claim_due([target], 30, 5, states=("pending",))
    assert due.recipient == token
