"""Meteorological warning signal (气象预警信号), topic `meteo`, "kind": "meteo_signal".

    kind         "meteo_signal", required
    station      str, required          the issuing observatory, e.g. "示范县气象台"
    sender       str                    stable sender id; default: station
    signal       str, required          type name, code or alias from the signal table, e.g. "暴雨"
    colour       蓝|黄|橙|红 (色 optional) or blue|yellow|orange|red; required unless lifted
    province     str                    signal table to use; default: the table file's `active`
    issued_at    date-time, required    this message's time (no offset → Beijing time)
    expires_at   date-time
    areas        [{"description", "codes", "polygon", "circle"}]   as in the generic JSON format
    codes        [str]                  shorthand for one area with these codes
    text, headline, instruction   str
    id           str                    the signal's id in the feed, the same on 发布, 变更 and 解除
    status       issued|updated|lifted  (发布|变更|解除); default issued
    drill        bool                   演练 → status Exercise

Rules:
- the colour must be one the province's table allows for the type, else invalid_field (colour: ...);
- an issued/updated signal needs areas or codes; a lifted one does not;
- chain key: `id`; without it "<signal>@<issued_at>" for an issued signal (each issue is its own
  warning); updated/lifted signals must carry `id` (nothing else ties them to the signal they change);
- version: 1 when issued; otherwise seconds since 2020 of issued_at, so later changes supersede earlier
  ones and a downgrade (橙 → 黄) is re-broadcast too.
"""

from __future__ import annotations

from pydantic import Field

from warnengine.model import HazardWarning, MsgType, Severity
from warnengine.normalise.common import clean_text
from warnengine.normalise.errors import FeedError
from warnengine.normalise.feeds.base import (
    COLOUR_ZH,
    Colour,
    Envelope,
    Lifecycle,
    NonEmpty,
    Time,
    chain_fields,
    require,
    stamp_version,
    validate,
)
from warnengine.normalise.feeds.signal_table import SignalTable, default_signal_table
from warnengine.normalise.json_feed import JsonArea, to_area


class MeteoSignal(Envelope):
    station: NonEmpty
    signal: NonEmpty
    colour: Colour | None = None
    province: str | None = None
    issued_at: Time
    expires_at: Time | None = None
    areas: list[JsonArea] = Field(default_factory=list)
    codes: list[str] = Field(default_factory=list)


def parse_meteo_signal(body: bytes, table: SignalTable | None = None) -> HazardWarning:
    doc = validate(MeteoSignal, body, frozenset({"colour"}))
    if doc.status is not Lifecycle.LIFTED:
        require(doc.colour is not None, "colour", "required unless the signal is lifted")
        require(
            bool(doc.areas or doc.codes), "areas", "areas or codes are required unless the signal is lifted"
        )
    if doc.status is not Lifecycle.ISSUED:
        require(doc.id is not None, "id", f"required when status is {doc.status.value}: it names the signal")
    table_name, signal_type = (table or default_signal_table()).lookup(doc.signal, doc.province)
    if signal_type is None:
        raise FeedError(
            "invalid_field", f"signal: {doc.signal!r} is not a type in signal table {table_name!r}"
        )
    colour = doc.colour
    lifted = doc.status is Lifecycle.LIFTED
    # A lift is never refused over its colour: refusing it would leave the signal live.
    if colour is not None and not lifted and colour not in signal_type.colours:
        allowed = "、".join(COLOUR_ZH[c] for c in sorted(signal_type.colours, key=lambda c: c.rank))
        raise FeedError(
            "invalid_field",
            f"colour: {signal_type.name} has no {COLOUR_ZH[colour]}色 signal in table {table_name!r} "
            f"(allowed: {allowed})",
        )
    sender = doc.sender or doc.station
    key = doc.id or f"{signal_type.name}@{doc.issued_at.isoformat()}"
    if doc.status is Lifecycle.ISSUED:
        chain = chain_fields(sender, key, MsgType.ALERT, 1, None)
    else:
        tag = "lifted" if lifted or colour is None else f"{colour.value}@{doc.issued_at.isoformat()}"
        chain = chain_fields(sender, key, doc.msg_type, stamp_version(doc.issued_at), tag)
    areas = [to_area(a) for a in doc.areas]
    if doc.codes:
        areas.append(to_area(JsonArea(codes=doc.codes)))
    return HazardWarning(
        **chain,
        sent=doc.issued_at,
        status=doc.cap_status,
        hazard=signal_type.hazard,
        severity=colour or Severity.BLUE,  # a lift names no colour: BLUE is a placeholder, as for CAP
        event=signal_type.name,
        headline=clean_text(doc.headline) or _headline(doc.station, signal_type.name, colour, doc.status),
        description=clean_text(doc.text),
        instruction=clean_text(doc.instruction),
        expires=doc.expires_at,
        areas=areas,
    )


def _headline(station: str, signal: str, colour: Severity | None, status: Lifecycle) -> str:
    if status is Lifecycle.LIFTED or colour is None:
        return f"{station}解除{signal}预警信号"
    verb = "变更" if status is Lifecycle.UPDATED else "发布"
    return f"{station}{verb}{signal}{COLOUR_ZH[colour]}色预警信号"
