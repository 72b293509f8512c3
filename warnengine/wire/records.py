"""Every Kafka record type and its codec, used by producers and consumers alike (topics: `topics.py`).

Records are JSON, so non-Python producers and consumers can join the pipeline. A decoder raises
`BadInput` (a dead letter with its reason), never a bare parsing error.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from warnengine.errors import BadInput
from warnengine.model import Channel, DeliveryState, HazardWarning, SpeakerAck

M = TypeVar("M", bound=BaseModel)


class VillageTask(BaseModel):
    model_config = ConfigDict(frozen=True)

    warning_id: str
    version: int
    village_code: str
    channel: Channel = Channel.LOUDSPEAKER


class AckBatch(BaseModel):
    acks: list[SpeakerAck] = Field(default_factory=list)


class DeadLetter(BaseModel):
    """`warnengine.dead-letter` (key: stage). `payload` is a bounded excerpt (at most `EXCERPT_BYTES` of
    UTF-8, cut on a character boundary; `truncated` when cut): the full payload lives only in the
    `dead_letters` row `row`, found by `payload_sha256` too. A whole 1 MB payload here once exceeded the
    producer's request limit and stalled the pipeline."""

    EXCERPT_BYTES: ClassVar[int] = 4096

    stage: str
    reason: str
    detail: str
    source: str | None = None
    key: str | None = None
    payload: str = ""
    at: float
    truncated: bool = False
    payload_bytes: int | None = None
    payload_sha256: str | None = None
    row: int | None = None

    @classmethod
    def excerpt(cls, payload: bytes) -> tuple[str, bool]:
        """The first `EXCERPT_BYTES` of the payload as text, never splitting a UTF-8 character."""
        cut = payload[: cls.EXCERPT_BYTES]
        # final=False holds back a character the cut split in two (invalid bytes still become U+FFFD)
        text = codecs.getincrementaldecoder("utf-8")("replace").decode(cut, final=len(cut) == len(payload))
        return text, len(payload) > len(cut)


class AppAck(BaseModel):
    """`warnengine.acks.app` (key: delivery_id, else warning_id): a resident pressed "received" in the app.
    Either `delivery_id`, or `warning_id` and `person_id`; `received_at` and `app` are set by the API."""

    delivery_id: str | None = None
    warning_id: str | None = None
    person_id: str | None = None
    at: float  # when the person pressed "received", seconds since the epoch
    received_at: float | None = None
    app: str | None = None  # the app token's user
    # "全家已知晓": the persons of the household this answer counts (0: every member), as an SMS "全家4人".
    household: int | None = None


@dataclass(frozen=True)
class ChannelEvent:
    """What a provider tells us after a send, parsed from its callback (webhook).

    `status`: the provider's delivery receipt for one of our deliveries: by `delivery_id` where we put it
    into the callback URL (Twilio), else by `provider_ref` (Tencent's `sid`, WeChat's MsgID), which the ack
    stage maps back through deliveries.provider_ref; `sender`, when set on a status, is the number the
    provider reports, which must be that delivery's recipient. `reply`: a human answered (an SMS reply,
    a WeChat message or button); `sender` is the phone / openid it came from, matched to the newest open
    delivery to that address by the ack stage. A link being opened is never an ack (scanners open links).
    """

    provider: str
    kind: Literal["status", "reply"]
    at: float
    delivery_id: str | None = None
    state: DeliveryState | None = None  # status: sent | delivered | failed
    reason: str | None = None
    sender: str | None = None
    text: str | None = None
    provider_ref: str | None = None
    ack_hint: bool | None = None  # reply: the text is a recognised acknowledgement ("1", "收到", "ok"…)


def encode(record: BaseModel) -> bytes:
    return record.model_dump_json(exclude_none=True).encode()


def decode(kind: type[M], raw: bytes, reason: str) -> M:
    """One record of a pydantic type, or BadInput(reason) naming what was wrong."""
    try:
        return kind.model_validate_json(raw)
    except ValidationError as err:
        raise BadInput(reason, _first_error(err)) from err


def decode_warning(raw: bytes) -> HazardWarning:
    return decode(HazardWarning, raw, "bad_warning")


def decode_village_task(raw: bytes) -> VillageTask:
    return decode(VillageTask, raw, "bad_village_task")


def decode_ack_batch(raw: bytes) -> list[SpeakerAck]:
    return decode(AckBatch, raw, "bad_ack_batch").acks


def decode_app_ack(raw: bytes) -> AppAck:
    return decode(AppAck, raw, "bad_app_ack")


def encode_channel_events(events: Sequence[ChannelEvent]) -> bytes:
    # A dataclass of str, float and StrEnum fields: JSON takes them as they are.
    return json.dumps([dataclasses.asdict(e) for e in events], ensure_ascii=False).encode()


def decode_channel_events(raw: bytes) -> list[ChannelEvent]:
    """A `warnengine.channel-events` record: a JSON list of ChannelEvent fields."""
    try:
        rows = json.loads(raw)
    except ValueError as err:
        raise BadInput("bad_channel_event", str(err)) from err
    if not isinstance(rows, list):
        raise BadInput("bad_channel_event", "channel events must be a JSON list")
    return [_channel_event(r) for r in rows]


def _channel_event(r: object) -> ChannelEvent:
    if not isinstance(r, dict) or r.get("kind") not in ("status", "reply"):
        raise BadInput("bad_channel_event", f"not a channel event: {str(r)[:200]}")
    fields = {k: v for k, v in r.items() if k in _EVENT_FIELDS}
    try:
        fields["state"] = DeliveryState(r["state"]) if r.get("state") else None
        return ChannelEvent(**fields)
    except (TypeError, ValueError) as err:
        raise BadInput("bad_channel_event", str(err)) from err


_EVENT_FIELDS = frozenset(f.name for f in dataclasses.fields(ChannelEvent))


def _first_error(err: ValidationError) -> str:
    e = err.errors()[0]
    where = ".".join(str(p) for p in e.get("loc", ())) or "record"
    return f"{where}: {e.get('msg', 'invalid')}"[:300]
