"""A dispatcher's manual broadcast to the loudspeakers of some areas (`warnengine broadcast`).

There is deliberately no second path to the terminals. The broadcast becomes a generic-JSON warning
(docs/feeds.md) on the `warnengine.feed.manual` topic, so the normal pipeline records it, resolves the
codes to villages, signs one command per terminal, re-sends until played or expired and collects the
acks, exactly as for a warning from a feed. What reaches a loudspeaker is therefore always in the
record, always signed by the engine's key, and a Cancel of the chain stops it like any warning.

Priority → severity (the inverse of `warnengine.dispatch.compose.PRIORITY`, so the command carries the
priority the dispatcher asked for):

    priority   severity   repeat   volume
    9          red        3        100
    7          orange     3        85
    5          yellow     2        85
    3          blue       2        85

Other priorities are refused: routine broadcasting (1) and tests (0) are not warnings, and the pipeline
only knows warning colours. The default is 7: it interrupts blue and yellow warnings and routine
playback, but never a red warning being played (equal or lower priority never interrupts); a dispatcher
who means red says `--priority 9`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from warnengine.dispatch.compose import PRIORITY
from warnengine.manual.feed import ManualArea, ManualWarning
from warnengine.model import Hazard, MsgType, Severity
from warnengine.model.warning import chain_id
from warnengine.resolve.index import NOT_A_CODE, code_prefix
from warnengine.wire import topics

SEVERITY_BY_PRIORITY: dict[int, Severity] = {p: s for s, p in PRIORITY.items()}
DEFAULT_PRIORITY = 7
DEFAULT_EXPIRES_MIN = 60.0
MAX_EXPIRES_MIN = 24 * 60.0  # a manual broadcast re-sent a day later would surprise everyone
SOURCE = topics.MANUAL
EVENT = "人工广播"  # "manual broadcast"; the loudspeaker reads the headline, so this is not spoken
# A sender ends up in "sender,identifier,sent" reference triples: no commas, spaces or control characters.
_OPERATOR = re.compile(r"^[\w.@-]{1,64}$")


class BroadcastError(ValueError):
    """Bad arguments: nothing was sent."""


@dataclass(frozen=True)
class Broadcast:
    sender: str
    identifier: str
    warning_id: str
    severity: Severity
    priority: int
    expires: datetime
    codes: list[str]
    payload: bytes  # the generic-JSON warning put on the feed topic


def parse_codes(raw: str) -> list[str]:
    """ "C1,C2" → unique administrative codes in the order given; any malformed code is an error."""
    codes = list(dict.fromkeys(c.strip() for c in raw.split(",") if c.strip()))
    if not codes:
        raise BroadcastError("--codes names no area code")
    bad = [c for c in codes if code_prefix(c) is None]
    if bad:
        raise BroadcastError(f"{NOT_A_CODE}: {bad}")
    return codes


def build_broadcast(
    codes: list[str],
    text: str,
    *,
    priority: int = DEFAULT_PRIORITY,
    hazard: Hazard = Hazard.OTHER,
    expires_min: float = DEFAULT_EXPIRES_MIN,
    operator: str,
    now: datetime,
    exercise: bool = False,
) -> Broadcast:
    """The generic-JSON warning for one manual broadcast. Pure: the caller sends it."""
    text = text.strip()
    if not text:
        raise BroadcastError("--text is empty")
    severity = SEVERITY_BY_PRIORITY.get(priority)
    if severity is None:
        raise BroadcastError(f"--priority must be one of {sorted(SEVERITY_BY_PRIORITY)}, not {priority}")
    if not 0 < expires_min <= MAX_EXPIRES_MIN:
        raise BroadcastError(f"--expires-min must be in (0, {MAX_EXPIRES_MIN:g}], not {expires_min:g}")
    if not _OPERATOR.match(operator):
        raise BroadcastError(f"--operator {operator!r}: letters, digits, '.', '_', '-', '@' only")
    sender = f"dispatcher:{operator}"
    # Unique per sender without coordination: time for people reading the record, randomness for two
    # dispatchers (or one quick double-press) in the same second.
    identifier = f"manual-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
    expires = now + timedelta(minutes=expires_min)
    msg = ManualWarning(
        sender=sender,
        identifier=identifier,
        sent=now,
        expires=expires,
        msg_type=MsgType.ALERT,
        drill=exercise,
        hazard=hazard,
        severity=severity,
        event=EVENT,
        # Headline only: the loudspeaker reads headline + description + instruction, so putting the text
        # in both would speak it twice.
        headline=text,
        areas=[ManualArea(EVENT, codes=codes)],
    )
    return Broadcast(
        sender=sender,
        identifier=identifier,
        warning_id=chain_id(sender, identifier),
        severity=severity,
        priority=priority,
        expires=expires,
        codes=codes,
        payload=msg.payload(),
    )
