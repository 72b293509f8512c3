"""What every native JSON feed adapter shares: the envelope fields, Beijing-time defaults, chain ids and
versions, and turning pydantic errors into FeedError.

Chain ids. A feed message warns about an *episode* (one signal, one station's exceedance, one bulletin,
one earthquake). `warning_id = chain_id(sender, episode_key)`, where the key is the feed's own id when it
sends one and otherwise derived from its ids (each adapter documents how). The first message's
identifier is the key itself; later ones are "<key>#<tag>" and reference "sender,key," — the same form
the national dialect uses, so Update and Cancel join the chain whatever order they arrive in.

Versions. The warning store orders a chain by version and treats an equal (warning_id, version) as a
redelivery, so each adapter picks versions that grow with what should be re-broadcast:
- level feeds (hydro, forest fire, geohazard): the severity rank — repeated readings at the same level
  are duplicates, an escalation supersedes, a lower level is recorded but never re-broadcast;
- meteo signal changes and every Cancel: seconds since 2020-01-01 of the message's own time;
- earthquake early warning: the report number.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from warnengine.model import MsgType, Severity, Status
from warnengine.model.warning import chain_id
from warnengine.normalise.common import colour_exact, feed_error
from warnengine.normalise.errors import FeedError

BEIJING = timezone(timedelta(hours=8), "CST")
_VERSION_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)

COLOUR_ZH = {Severity.BLUE: "蓝", Severity.YELLOW: "黄", Severity.ORANGE: "橙", Severity.RED: "红"}


def _beijing_if_naive(value: datetime) -> datetime:
    # Live feeds: a year outside this range is garbage, and near year 1 or 9999 the time arithmetic
    # below (Beijing dates, expiry = origin + 10 min) would overflow instead of failing cleanly.
    if not 1970 <= value.year <= 2200:
        raise ValueError(f"year {value.year} is outside 1970-2200")
    # Chinese feeds often send "2024-07-01 08:00:00": local time, as the national dialect assumes too.
    return value if value.tzinfo is not None else value.replace(tzinfo=BEIJING)


Time = Annotated[datetime, AfterValidator(_beijing_if_naive)]
NonEmpty = Annotated[str, Field(min_length=1)]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class Lifecycle(StrEnum):
    ISSUED = "issued"
    UPDATED = "updated"
    LIFTED = "lifted"


_LIFECYCLE_WORDS = {
    "issued": Lifecycle.ISSUED,
    "issue": Lifecycle.ISSUED,
    "active": Lifecycle.ISSUED,
    "发布": Lifecycle.ISSUED,
    "updated": Lifecycle.UPDATED,
    "update": Lifecycle.UPDATED,
    "变更": Lifecycle.UPDATED,
    "更新": Lifecycle.UPDATED,
    "lifted": Lifecycle.LIFTED,
    "lift": Lifecycle.LIFTED,
    "cancelled": Lifecycle.LIFTED,
    "canceled": Lifecycle.LIFTED,
    "解除": Lifecycle.LIFTED,
    "取消": Lifecycle.LIFTED,
}
_MSG_TYPES = {
    Lifecycle.ISSUED: MsgType.ALERT,
    Lifecycle.UPDATED: MsgType.UPDATE,
    Lifecycle.LIFTED: MsgType.CANCEL,
}


def _to_lifecycle(value: Any) -> Any:
    if isinstance(value, str):
        return _LIFECYCLE_WORDS.get(value.strip().lower(), value)
    return value  # left for the enum check to reject with the field's name


def _to_colour(value: Any) -> Any:
    if isinstance(value, str) and (colour := colour_exact(value)) is not None:
        return colour
    return value


Colour = Annotated[Severity, BeforeValidator(_to_colour)]


class Envelope(BaseModel):
    """Fields every native feed message may carry besides its own."""

    model_config = ConfigDict(str_strip_whitespace=True)  # unknown keys ignored: producers may add fields

    sender: NonEmpty | None = None
    id: NonEmpty | None = None  # the feed's id of the episode, the same on issue, update and lift
    status: Annotated[Lifecycle, BeforeValidator(_to_lifecycle)] = Lifecycle.ISSUED
    drill: bool = False  # 演练: becomes CAP status Exercise and runs the whole chain
    headline: str = ""
    text: str = ""
    instruction: str = ""

    @property
    def msg_type(self) -> MsgType:
        return _MSG_TYPES[self.status]

    @property
    def cap_status(self) -> Status:
        return Status.EXERCISE if self.drill else Status.ACTUAL


def stamp_version(at: datetime) -> int:
    """Seconds since 2020-01-01 (≥ 2, so it always supersedes an Alert's version 1)."""
    return max(2, 1 + int((at - _VERSION_EPOCH).total_seconds()))


def chain_fields(sender: str, key: str, msg_type: MsgType, version: int, tag: str | None) -> dict[str, Any]:
    """warning_id, version, sender, identifier, msg_type and references of one message of a chain."""
    return {
        "warning_id": chain_id(sender, key),
        "version": version,
        "sender": sender,
        "identifier": key if tag is None else f"{key}#{tag}",
        "msg_type": msg_type,
        "references": [] if msg_type is MsgType.ALERT else [f"{sender},{key},"],
    }


def level_chain(
    envelope: Envelope, sender: str, key: str, severity: Severity, at: datetime
) -> dict[str, Any]:
    """Chain fields for a level feed: version = severity rank; a lift is a Cancel stamped with its time."""
    if envelope.status is Lifecycle.LIFTED:
        return chain_fields(sender, key, MsgType.CANCEL, stamp_version(at), "lifted")
    return chain_fields(sender, key, envelope.msg_type, severity.rank, severity.value)


_M = TypeVar("_M", bound=BaseModel)


def validate(model: type[_M], body: bytes, severity_fields: frozenset[str] = frozenset()) -> _M:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise feed_error(exc, severity_fields) from exc


def not_a_warning(detail: str) -> FeedError:
    return FeedError("not_a_warning", detail)


def require(condition: bool, field: str, message: str) -> None:
    """A cross-field rule pydantic cannot name a field for: missing_field naming `field`."""
    if not condition:
        raise FeedError("missing_field", f"{field}: {message}")
