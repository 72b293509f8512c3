"""The one small interface every channel adapter implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from warnengine.model import Channel, HazardWarning
from warnengine.wire.records import ChannelEvent

__all__ = [
    "ChannelAdapter",
    "ChannelEvent",
    "GroupChannel",
    "GroupOutgoing",
    "LinkHealth",
    "Outgoing",
    "SendResult",
]


@dataclass(frozen=True)
class Outgoing:
    """One delivery handed to a channel: `body` is the channel's message, already composed (and signed)."""

    delivery_id: str
    recipient: str  # device id, E.164 phone, openid, app token...
    village_code: str
    body: dict[str, Any]
    expires_at: float
    # The warning version it carries, for adapters that speak a message format of their own (the EB
    # platform's EBM: channels/eb_platform.py); None where the dispatch layer does not set it.
    warning: HazardWarning | None = None
    # A person's address per token kind, when they have more than one (app push: {"jpush": id, "fcm":
    # token}): a provider declaring `token_kind` gets its own (the pool swaps it into `recipient`), one of
    # another kind is skipped for it; None: `recipient` for every provider.
    addresses: Mapping[str, str] | None = None


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
    # An ambiguous send (the request went out, no usable answer came back) that the adapter looked up at the
    # provider: "found" (ok, provider_ref from the lookup), "not_found" (nothing was created: retryable),
    # "unresolved" (the lookup failed too: code="ambiguous", final, never sent again). None: not ambiguous.
    lookup: str | None = None


@dataclass(frozen=True)
class GroupOutgoing:
    """One signed command for every terminal under a cell (a county, township or village code)."""

    cell: str
    body: dict[str, Any]
    expires_at: float


@runtime_checkable
class GroupChannel(Protocol):
    """A loudspeaker channel that can also publish group commands (channels/loudspeaker.py)."""

    async def send_groups(self, batch: Sequence[GroupOutgoing]) -> list[str | None]:
        """Publish each group command once. Per input, in order: None if the broker took it, else why not."""
        ...


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


@runtime_checkable
class LinkHealth(Protocol):
    """An adapter with a standing connection (the loudspeakers' MQTT link) says whether it is up; the
    worker's /ready reports it. HTTP providers have none and do not implement it."""

    @property
    def connected(self) -> bool: ...
