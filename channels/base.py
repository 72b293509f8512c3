"""The one small interface every channel adapter implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from warnengine.model import Channel, DeliveryState


@dataclass(frozen=True)
class Outgoing:
    """One delivery handed to a channel: `body` is the channel's message, already composed (and signed)."""

    delivery_id: str
    recipient: str  # device id, E.164 phone, openid, app token...
    village_code: str
    body: dict[str, Any]
    expires_at: float


@dataclass(frozen=True)
class SendResult:
    delivery_id: str
    ok: bool
    retryable: bool = False
    reason: str | None = None
    provider_ref: str | None = None
    # Optional, for the dispatch layer (warnengine/dispatch/sender.py); adapters that leave them unset
    # get the plain behaviour: retry if `retryable`, otherwise final.
    code: str | None = None  # bounded machine-readable cause (a metric label): invalid_number, rate_limited…
    retry_after_s: float | None = None  # the provider asked us to wait this long (HTTP Retry-After)
    provider_fault: bool = False  # the provider/account failed, not the recipient: another provider may work
    segments: int | None = None  # SMS segments billed for this message


@dataclass(frozen=True)
class ChannelEvent:
    """What a provider tells us after a send, parsed from its callback (webhook).

    `status`: the provider's delivery receipt for one of our deliveries (we put the delivery id into the
    callback URL, so no lookup by provider reference is needed). `reply`: a human answered (an SMS reply,
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


@runtime_checkable
class ChannelAdapter(Protocol):
    kind: Channel
    name: str
    batch_size: int  # the most deliveries one send_batch call should carry
    rate_per_s: float | None  # provider's declared limit; the dispatch layer enforces it

    async def start(self) -> None: ...

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        """Send every delivery once; one result per input, in order. Never raises for one bad recipient."""
        ...

    async def stop(self) -> None: ...
