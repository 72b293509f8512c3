"""Delivery rows the ladder plans: one per channel a person has an address on."""

from __future__ import annotations

from warnengine.model import Channel, HazardWarning, steps
from warnengine.plan.plan import address, person_delivery_id
from warnengine.resolve.directory import Contact

CALL_STEP = steps.CALL.start  # the step number of 叫应 calls to superiors (ladder steps are 1..n)
CALL_STEPS = steps.CALL.end - steps.CALL.start  # a person's k-th 叫应 is step CALL_STEP + k


def _best(c: Contact) -> tuple[Channel, ...]:
    """A visitor's best channel: the phone first (it rings), then WeChat, then the app."""
    return tuple(ch for ch in (Channel.SMS, Channel.WECHAT, Channel.APP) if address(c, ch))[:1]


def _rows(
    w: HazardWarning,
    c: Contact,
    channels: tuple[Channel, ...],
    step: int,
    village: str,
    household: str | None,
    text: str | None,
    now: float,
) -> list[tuple[object, ...]]:
    expires = w.expires.timestamp() if w.expires else now + 6 * 3600
    out: list[tuple[object, ...]] = []
    for ch in channels:
        addr = address(c, ch)
        if addr:
            did = person_delivery_id(w.warning_id, w.version, c.person_id, ch.value, step)
            out.append(
                (
                    did,
                    w.warning_id,
                    w.version,
                    village,
                    ch.value,
                    addr,
                    "pending",
                    0,
                    now,
                    expires,
                    c.person_id,
                    household,
                    step,
                    text,
                )
            )
    return out
