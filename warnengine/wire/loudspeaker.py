"""The loudspeaker MQTT contract (docs/design.md, "The loudspeaker MQTT contract"): topics, and how a
terminal's ack is read. The engine (channels/loudspeaker.py, warnengine/devices) and the terminals
(warnengine/speaker) both use this module, so the two sides cannot drift apart.

Topics: warn/v1/<county>/<township>/<village>/<device>/cmd (commands, QoS 1, MQTT 5 expiry),
.../ack (terminal acks), .../status (retained health). Codes are 12-digit administrative codes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from pydantic import ValidationError

from warnengine.model import SpeakerAck
from warnengine.transport.mqtt import Message

PREFIX = "warn/v1"


def device_topic(village_code: str, device_id: str, leaf: str) -> str:
    county = village_code[:6] + "000000"
    township = village_code[:9] + "000"
    return f"{PREFIX}/{county}/{township}/{village_code}/{device_id}/{leaf}"


def parse_topic(topic: str) -> tuple[str, str, str] | None:
    """(village_code, device_id, leaf) of a contract topic, or None — also when the county and township
    levels are not the ones the village code implies, or the device id is empty: one terminal, one topic."""
    parts = topic.split("/")
    if len(parts) != 7 or f"{parts[0]}/{parts[1]}" != PREFIX or not parts[5]:
        return None
    if device_topic(parts[4], parts[5], parts[6]) != topic:
        return None
    return parts[4], parts[5], parts[6]


class BadAck(Exception):
    def __init__(self, topic: str, reason: str, payload: bytes) -> None:
        super().__init__(f"{reason} on {topic}")
        self.topic, self.reason, self.payload = topic, reason, payload


AckHandler = Callable[[list[SpeakerAck]], Awaitable[None]]
BadAckHandler = Callable[[BadAck], Awaitable[None]]


def parse_ack(m: Message) -> SpeakerAck:
    where = parse_topic(m.topic)
    if where is None:
        raise BadAck(m.topic, "bad_topic", m.payload)
    try:
        data = json.loads(m.payload)
    except ValueError as e:
        raise BadAck(m.topic, "ack_not_json", m.payload) from e
    if not isinstance(data, dict):
        raise BadAck(m.topic, "ack_not_object", m.payload)
    try:
        return SpeakerAck.model_validate({**data, "device_id": where[1]})
    except ValidationError as e:
        raise BadAck(m.topic, "ack_invalid", m.payload) from e
