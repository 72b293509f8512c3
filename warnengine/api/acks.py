"""Acknowledgements from the residents' app: put on `warnengine.acks.app` for the pipeline to record.

The API writes no delivery or ack row itself: the pipeline's consumer owns that record and its
idempotency, exactly as for terminal acks arriving over MQTT.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from warnengine.api.auth import ApiRole
from warnengine.api.context import ctx
from warnengine.api.errors import ApiError
from warnengine.api.routing import Op, body, json_out, user
from warnengine.wire import records, topics
from warnengine.wire.records import AppAck

ID = r"^[A-Za-z0-9_.:-]{1,64}$"


class AckIn(BaseModel):
    """Either the delivery the app was sent, or the warning and the person who acknowledged it."""

    model_config = ConfigDict(extra="forbid")

    delivery_id: str | None = Field(default=None, pattern=ID)
    warning_id: str | None = Field(default=None, pattern=r"^w-[0-9a-f]{16}$")
    person_id: str | None = Field(default=None, pattern=ID)
    at: datetime | None = None  # when the person pressed "received" (default: now)
    household: int | None = Field(
        default=None,
        ge=0,
        le=50,
        description="the whole household heard it (全家已知晓): how many of it, 0 for every member",
    )

    @model_validator(mode="after")
    def _one_form(self) -> AckIn:
        if self.delivery_id is None and (self.warning_id is None or self.person_id is None):
            raise ValueError("give delivery_id, or warning_id and person_id")
        if self.delivery_id is not None and (self.warning_id or self.person_id):
            raise ValueError("give delivery_id alone, or warning_id and person_id")
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("at needs a UTC offset")
        return self


class Accepted(BaseModel):
    accepted: bool


async def post_ack(request: web.Request) -> web.Response:
    c = ctx(request)
    b = body(request, AckIn)
    now = c.store.clock.now()
    rec = AppAck(
        delivery_id=b.delivery_id,
        warning_id=b.warning_id,
        person_id=b.person_id,
        at=b.at.timestamp() if b.at else now,
        received_at=now,
        app=user(request).username,
        household=b.household,
    )
    key = (b.delivery_id or b.warning_id or "").encode()
    try:
        await c.publisher.publish(topics.ACKS_APP, key, records.encode(rec))
    except Exception as e:
        raise ApiError(503, "broker_unavailable", f"ack not confirmed by the message bus: {e!r}") from e
    # Not audited row by row: residents' acks are the pipeline's record (thousands per warning), not
    # operators' actions; the app's token and the Kafka record name who sent each.
    return json_out(Accepted(accepted=True), 202)


OPS = [
    Op(
        "POST",
        "/api/v1/acks",
        post_ack,
        "An acknowledgement from the residents' app",
        "acks",
        frozenset({ApiRole.APP}),
        body=AckIn,
        response=Accepted,
        status=202,
        errors=(503,),
    ),
]
