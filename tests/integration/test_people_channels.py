"""SMS through the whole pipeline: a warning's planned SMS go to the (fake) Twilio API exactly once per
person; a resident's reply, arriving as the webhook publishes it, marks their household reached."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import select

from tests.acks.persons import rest_accounted
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.integration.conftest import running_stack
from tests.integration.test_pipeline import county_ring
from warnengine.db import tables as t
from warnengine.directory import County
from warnengine.embedded.demo import rainstorm_cap
from warnengine.model.warning import chain_id
from warnengine.wire import topics


def channels_file(path: Path, api_base: str, rate_per_s: float = 500) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "sms": {
                    "retry": {"attempts": 3, "initial_s": 0.05, "max_s": 0.2, "jitter_s": 0.05},
                    "providers": [
                        {
                            "adapter": "sms-twilio",
                            "name": "twilio",
                            "rate_per_s": rate_per_s,
                            "burst": 50,
                            "params": {
                                "account_sid_env": "TWILIO_ACCOUNT_SID",
                                "auth_token_env": "TWILIO_AUTH_TOKEN",
                                "from__env": "TWILIO_FROM",
                                "api_base": api_base,
                            },
                        }
                    ],
                }
            }
        ),
        encoding="utf-8",
    )
    return path


async def test_sms_go_out_once_and_a_reply_reaches_the_household(
    tmp_path: Path, small_county: County, small_county_dir: Path
) -> None:
    async with FakeTwilio(callbacks=False) as twilio:
        cfg = channels_file(tmp_path / "channels.yaml", twilio.base_url)
        async with running_stack(tmp_path / "var", small_county_dir, channels_file=cfg) as h:
            h.stack.extra_env.update(
                TWILIO_ACCOUNT_SID=ACCOUNT_SID,
                TWILIO_AUTH_TOKEN=AUTH_TOKEN,
                TWILIO_FROM="+15005550006",
                WARNENGINE_CHANNELS_FILE=str(cfg),
            )
            await h.start_worker()
            identifier = f"P-{time.time_ns()}"
            await h.send("meteo", rainstorm_cap(county_ring(small_county), identifier, datetime.now(UTC)))
            warning_id = chain_id("demo.meteo.example.cn", identifier)

            async def all_sent() -> bool:
                rows = await h.deliveries(warning_id, "sms")
                return bool(rows) and all(r["state"] in ("sent", "failed") for r in rows)

            await h.wait_for(all_sent, 60, "every SMS handed to Twilio")
            sms = await h.deliveries(warning_id, "sms")
            assert all(r["state"] == "sent" for r in sms)
            # Exactly once per person: the fake counted one message per number (no SDK re-POST, no re-send).
            assert sum(twilio.accepted.values()) == len(sms) == len({r["recipient"] for r in sms})
            assert all("暴雨" in body for _to, body in twilio.accepted)

            # The resident answers "收到"; the API's webhook publishes that as a channel event.
            home = next(r for r in sms if r["household_id"])
            await rest_accounted(h.store, warning_id, [home["person_id"]])  # 到人: the reply completes it
            event = {
                "provider": "twilio",
                "kind": "reply",
                "at": time.time(),
                "sender": home["recipient"],
                "text": "收到",
                "ack_hint": True,
            }
            await h.send_raw(topics.CHANNEL_EVENTS, json.dumps([event]).encode())

            async def reached() -> bool:
                async with h.store.engine.connect() as conn:
                    wh = t.warning_households.c
                    row = (
                        await conn.execute(
                            select(wh.state, wh.reached_by).where(
                                wh.warning_id == warning_id, wh.household_id == home["household_id"]
                            )
                        )
                    ).one_or_none()
                return row is not None and tuple(row) == ("reached", "sms")

            await h.wait_for(reached, 30, "the household reached by the reply")
            [acked] = [
                r for r in await h.deliveries(warning_id, "sms") if r["delivery_id"] == home["delivery_id"]
            ]
            assert acked["state"] == "acknowledged"
