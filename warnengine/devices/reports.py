"""What terminals tell the engine about themselves: retained status (with Last Will) and acks.

Bad payloads raise BadReport with a reason; the caller dead-letters them. Nothing here raises anything else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from warnengine.transport.mqtt import Message
from warnengine.wire.loudspeaker import BadAck, parse_ack, parse_topic

FINAL_RESULTS = frozenset({"played", "failed", "rejected"})


class TerminalStatus(BaseModel):
    """The retained `.../status` body (docs/loudspeakers.md). Unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    online: bool = Field(strict=True)
    volume: int | None = Field(default=None, ge=0, le=100)
    playing: str | None = Field(default=None, max_length=64)
    firmware: str | None = Field(default=None, max_length=64)
    at: float | None = None
    reason: str | None = Field(default=None, max_length=16)


@dataclass(frozen=True)
class StatusReport:
    device_id: str
    village_code: str
    status: TerminalStatus

    def row(self) -> dict[str, Any]:
        s = self.status
        return {
            "device_id": self.device_id,
            "online": s.online,
            "volume": s.volume,
            "playing": s.playing,
            "firmware": s.firmware,
            "reason": None if s.online else (s.reason or "offline"),
        }


@dataclass(frozen=True)
class ResultReport:
    """An ack, seen by the health stage: proof of life, and the last play result when final."""

    device_id: str
    state: str
    reason: str | None


class BadReport(Exception):
    def __init__(self, topic: str, reason: str, payload: bytes) -> None:
        super().__init__(f"{reason} on {topic}")
        self.topic, self.reason, self.payload = topic, reason, payload


def parse_report(m: Message) -> StatusReport | ResultReport | None:
    """None for an empty status: an operator clearing a retired terminal's retained message."""
    where = parse_topic(m.topic)
    if where is None or where[2] not in ("status", "ack"):
        raise BadReport(m.topic, "bad_topic", m.payload)
    village, device, leaf = where
    if leaf == "ack":
        try:
            ack = parse_ack(m)
        except BadAck as e:
            raise BadReport(m.topic, e.reason, m.payload) from e
        return ResultReport(device, ack.state.value, ack.reason)
    if not m.payload:
        return None
    try:
        data = json.loads(m.payload)
    except ValueError as e:
        raise BadReport(m.topic, "status_not_json", m.payload) from e
    if not isinstance(data, dict):
        raise BadReport(m.topic, "status_not_object", m.payload)
    try:
        return StatusReport(device, village, TerminalStatus.model_validate(data))
    except ValidationError as e:
        raise BadReport(m.topic, "status_invalid", m.payload) from e
