"""How an ack is judged against its delivery: from the terminal the command was for, moving the
delivery forward only (DeliveryQueries.apply_acks applies the verdicts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from warnengine.model import Channel, DeliveryState, SpeakerAck
from warnengine.model.delivery import delivery_id, parse_command_id


@dataclass
class AckTarget:
    state: str
    channel: str
    recipient: str
    timing: tuple[str, str, float | None, float] | None


def judge(
    acks: list[SpeakerAck],
    targets: dict[str, AckTarget],
    now: float,
    counts: dict[str, int],
    mismatched: list[tuple[SpeakerAck, str]] | None,
) -> tuple[list[dict[str, Any]], dict[str, tuple[str, float, str | None]]]:
    """The `acks` rows to keep and the moves to make; mismatched acks counted and handed back."""
    ack_rows = []
    moves: dict[str, tuple[str, float, str | None]] = {}
    for a in acks:
        target = targets.get(a.cmd_id)
        if target is not None and not _from_recipient(target, a):
            counts["device_mismatch"] += 1
            if mismatched is not None:
                mismatched.append((a, target.recipient))
            continue
        verdict = _ack_verdict(target.state if target else None, a)
        if target is not None and verdict == "applied":
            target.state = a.state.value
            moves[a.cmd_id] = (a.state.value, a.at, a.reason)
        ack_rows.append(
            {
                "delivery_id": a.cmd_id,
                "state": a.state.value,
                "reason": a.reason,
                "at": a.at,
                "received_at": now,
                "verdict": verdict,
            }
        )
    return ack_rows, moves


def by_delivery(ack: SpeakerAck) -> SpeakerAck:
    """An ack of a warning version's command (a group command or its per-terminal re-send) names the
    delivery of the terminal whose ack topic it came from; an ack naming a delivery id stays as it is."""
    named = parse_command_id(ack.cmd_id)
    if named is None or not ack.device_id:
        return ack
    did = delivery_id(named[0], named[1], ack.device_id, Channel.LOUDSPEAKER)
    return ack.model_copy(update={"cmd_id": did})


def _from_recipient(target: AckTarget, ack: SpeakerAck) -> bool:
    """The ack came over the topic of the terminal the command was for (a loudspeaker delivery)."""
    return target.channel == Channel.LOUDSPEAKER.value and ack.device_id == target.recipient


def _ack_verdict(state: str | None, ack: SpeakerAck) -> str:
    """unknown_delivery, stale (the delivery is final or already as far), or applied."""
    if state is None:
        return "unknown_delivery"
    cur = DeliveryState(state)
    new = DeliveryState(ack.state.value)
    if new == DeliveryState.REJECTED and cur.rank >= DeliveryState.RECEIVED.rank:
        # The terminal took this command already: a later rejection is about another copy
        # (a replay, a forgery), kept in the acks table as evidence, not the delivery's fate.
        return "stale"
    return "stale" if cur.final or new.rank <= cur.rank else "applied"
