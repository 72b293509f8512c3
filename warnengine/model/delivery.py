"""Deliveries, loudspeaker commands and acknowledgements (the MQTT contract: docs/design.md)."""

from __future__ import annotations

import hashlib
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Channel(StrEnum):
    LOUDSPEAKER = "loudspeaker"
    SMS = "sms"
    WECHAT = "wechat"  # WeChat Official Account messages to a resident's openid
    WECHAT_GROUP = "wechat_group"  # a village group's WeCom robot: reaches a group, nobody can ack it
    WECOM = "wecom"  # WeCom app messages to staff (grid members, dispatchers) by WeCom userid
    APP = "app"
    VOICE = "voice"  # a phone call (mobile or landline): the text spoken, "press 1 to confirm"
    VISIT = "visit"


class DeliveryState(StrEnum):
    """Lifecycle of one delivery. Terminal states never move again."""

    PENDING = "pending"  # recorded, not yet handed to the channel
    SENT = "sent"  # handed to the channel (MQTT PUBACK / provider accepted)
    RECEIVED = "received"
    PLAYING = "playing"
    PLAYED = "played"
    REJECTED = "rejected"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    # People channels (SMS, WeChat, app): the provider's handset receipt, then a human's reply.
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"

    @property
    def rank(self) -> int:
        return _STATE_RANK[self]

    @property
    def final(self) -> bool:
        return self in _FINAL


_STATE_RANK = {
    DeliveryState.PENDING: 0,
    DeliveryState.SENT: 1,
    DeliveryState.RECEIVED: 2,
    DeliveryState.PLAYING: 3,
    DeliveryState.FAILED: 4,
    DeliveryState.REJECTED: 4,
    DeliveryState.EXPIRED: 4,
    DeliveryState.CANCELLED: 4,
    DeliveryState.PLAYED: 5,
    DeliveryState.DELIVERED: 2,
    DeliveryState.ACKNOWLEDGED: 6,
}
_FINAL = {
    DeliveryState.PLAYED,
    DeliveryState.REJECTED,
    DeliveryState.FAILED,
    DeliveryState.EXPIRED,
    DeliveryState.CANCELLED,
    DeliveryState.ACKNOWLEDGED,
}


class AckState(StrEnum):
    RECEIVED = "received"
    PLAYING = "playing"
    PLAYED = "played"
    REJECTED = "rejected"
    FAILED = "failed"


def delivery_id(warning_id: str, version: int, recipient: str, channel: str) -> str:
    """Stable delivery id: warning id + version + recipient + channel (design decision 2).

    `channel` is a Channel or its value (a Channel formats as its value)."""
    return delivery_id_from(version_prefix(warning_id, version), recipient, channel)


def version_prefix(warning_id: str, version: int) -> str:
    """The start of the id's input, the same for every delivery of one warning version."""
    return f"{warning_id}\x1f{version}\x1f"


def delivery_id_from(prefix: str, recipient: str, channel: str) -> str:
    """`delivery_id` from a `version_prefix`: the planner computes the prefix once per version and calls
    this once per person and channel (~10^6 times for a county-wide warning)."""
    return "d-" + hashlib.sha256(f"{prefix}{recipient}\x1f{channel}".encode()).hexdigest()[:20]


def command_id(warning_id: str, version: int) -> str:
    """The id of every loudspeaker command of one warning version, group or per terminal, first send or
    re-send: a terminal plays a warning version once, and its ack (the id plus the device of its own ack
    topic) names its delivery, `delivery_id(warning_id, version, device, "loudspeaker")`."""
    return f"w{version}:{warning_id}"


def parse_command_id(cmd_id: str) -> tuple[str, int] | None:
    """(warning_id, version) of a `command_id`, or None (an older command's id is its delivery id)."""
    head, sep, warning_id = cmd_id.partition(":")
    if not sep or not warning_id or head[:1] != "w" or not head[1:].isdigit():
        return None
    return warning_id, int(head[1:])


class SpeakerCommand(BaseModel):
    """A command to one terminal. `sig` covers the canonical bytes of every other field."""

    model_config = ConfigDict(frozen=True)

    id: str
    warning_id: str
    action: str = Field(pattern="^(play|stop|test|volume)$")
    priority: int = Field(ge=0, le=9)
    text: str = ""
    audio_url: str | None = None
    repeat: int = Field(default=1, ge=1, le=20)
    volume: int = Field(default=80, ge=0, le=100)
    issued_at: float
    expires_at: float
    nonce: str
    device: str | None = None  # signed: a command captured at one terminal is refused by every other
    village: str | None = None
    group: str | None = None  # signed: a group command, for every terminal under this cell (12-digit code)
    alg: str | None = None  # absent: Ed25519; "sm2-sm3": SM2 with SM3 (set by the signer, signed)
    key_id: str = ""
    sig: str = ""


class SpeakerAck(BaseModel):
    model_config = ConfigDict(frozen=True)

    cmd_id: str
    state: AckState
    reason: str | None = None
    at: float
    device_id: str | None = None
