"""Settling an ambiguous send with the provider's own message lookup.

Ambiguous: the request went out and no usable answer came back (a 5xx to a create, a read timeout, a reset
connection, an unreadable success). The provider may have created the message, and SMS APIs have no
idempotency key, so sending again could text the person twice. An adapter that can look the message up
turns the ambiguous result into one of three (`SendResult.lookup`):

- found: it was created; recorded as sent with the provider's message id;
- not_found: it was not created; safe to send again (here, or at another provider);
- unresolved: the lookup failed as well; final, never sent again, flagged for the duty room.
"""

from __future__ import annotations

from channels.base import SendResult

FOUND, NOT_FOUND, UNRESOLVED = "found", "not_found", "unresolved"


def found(delivery_id: str, provider_ref: str | None, why: str, segments: int | None = None) -> SendResult:
    return SendResult(
        delivery_id,
        ok=True,
        provider_ref=provider_ref,
        segments=segments,
        reason=f"ambiguous, found by lookup: {why}",
        lookup=FOUND,
    )


def not_found(delivery_id: str, why: str) -> SendResult:
    # Nothing was created: as safe to retry (or fail over) as a 5xx the provider answered before creating.
    return SendResult(
        delivery_id,
        ok=False,
        retryable=True,
        provider_fault=True,
        code="server_error",
        reason=f"{why}; looked up: not created",
        lookup=NOT_FOUND,
    )


def unresolved(delivery_id: str, why: str, lookup_error: str) -> SendResult:
    return SendResult(
        delivery_id,
        ok=False,
        code="ambiguous",
        reason=f"ambiguous: {why}; lookup failed: {lookup_error}",
        lookup=UNRESOLVED,
    )
