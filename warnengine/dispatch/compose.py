"""Compose the message each channel carries. Loudspeaker commands are signed here."""

from __future__ import annotations

import secrets
from typing import Any

from warnengine.model import HazardWarning, MsgType, Severity, SpeakerCommand, Status
from warnengine.signing import ED25519, Signer, Signers

# Higher interrupts lower; routine village broadcasting runs at 1, tests at 0.
PRIORITY = {Severity.BLUE: 3, Severity.YELLOW: 5, Severity.ORANGE: 7, Severity.RED: 9}
DRILL_PREFIX = "演练，演练。"


def speaker_command(
    w: HazardWarning,
    delivery_id: str,
    issued_at: float,
    expires_at: float,
    signer: Signer | Signers,
    device: str | None = None,
    village: str | None = None,
    alg: str = ED25519,
) -> dict[str, Any]:
    """The signed `play` command for one terminal, signed with `alg` (the terminal's `sig_alg`). Its id
    is the delivery id, so a re-send is recognisable. Raises SigningUnavailable when `alg` cannot be
    signed with now."""
    body = speaker_body(w, delivery_id, issued_at, expires_at, device, village)
    return Signers.of(signer).sign(body, alg)


def speaker_body(
    w: HazardWarning,
    delivery_id: str,
    issued_at: float,
    expires_at: float,
    device: str | None = None,
    village: str | None = None,
    group: str | None = None,
) -> dict[str, Any]:
    """The command before signing (`speaker_command`). `delivery_id` is the command's id: the dispatch
    stages pass `command_id(warning_id, version)`. `group`: a group command for every terminal under
    that cell (then no `device` nor `village`)."""
    cancel = w.msg_type == MsgType.CANCEL
    text = "" if cancel else w.broadcast_text()
    if w.status == Status.EXERCISE and not cancel:
        text = DRILL_PREFIX + text
    cmd = SpeakerCommand(
        id=delivery_id,
        warning_id=w.warning_id,
        action="stop" if cancel else "play",  # a Cancel (解除) stops the chain's playback on the terminal
        priority=9 if cancel else PRIORITY[w.severity],
        text=text,
        repeat=3 if w.severity in (Severity.RED, Severity.ORANGE) else 2,
        volume=100 if w.severity == Severity.RED else 85,
        issued_at=round(issued_at, 3),
        expires_at=round(expires_at, 3),
        nonce=secrets.token_hex(12),
        device=device,
        village=village,
        group=group,
    )
    return cmd.model_dump(exclude={"sig", "key_id", "alg"}, exclude_none=True)


# "Reply 1 on receipt; 全家 if the whole household knows": a human action is the only acknowledgement, and
# one answer can account for the household's members without a phone (model/household_reply.py).
ACK_HINT = "收到请回复1，全家已知晓回复“全家”。"
CANCEL_TEXT = "预警已解除。"
_COLOUR = {Severity.BLUE: "蓝色", Severity.YELLOW: "黄色", Severity.ORANGE: "橙色", Severity.RED: "红色"}


def people_message(w: HazardWarning, expires_at: float) -> dict[str, Any]:
    """The body SMS, WeChat and app adapters turn into their own format (see channels/base.py)."""
    cancel = w.msg_type == MsgType.CANCEL
    title = w.headline or f"{w.event}{_COLOUR[w.severity]}预警"
    text = CANCEL_TEXT if cancel else w.broadcast_text() + ACK_HINT
    if w.status == Status.EXERCISE:
        title, text = "【演练】" + title, DRILL_PREFIX + text
    return {
        "title": title,
        "text": text,
        "warning_id": w.warning_id,
        "severity": w.severity.value,
        "hazard": w.hazard.value,
        "expires_at": expires_at,
    }
