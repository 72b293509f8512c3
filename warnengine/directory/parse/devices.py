"""devices(.csv|.xlsx): the loudspeaker terminals, one per row, each in a village, inside it."""

from __future__ import annotations

from collections.abc import Container

from warnengine.directory.parse.fields import (
    DEVICE_FIELDS,
    OPT_IN_FIELD,
    PROVIDER_FIELD,
    RESPONSIBLE_FIELD,
    SIG_ALG_FIELD,
    Problem,
    check_cell,
    check_unique,
    read_opt_in,
    read_provider,
    read_sig_alg,
)
from warnengine.directory.parse.place import Place
from warnengine.directory.parse.tables import Table
from warnengine.model import Device, Level

# A device id is the user name and a topic level of its terminal's MQTT topics: a wildcard or a slash would
# let it read other terminals' commands, and "group" is the device segment of a village's group topic.
_NOT_IN_ID = ("/", "+", "#", "\x00")
_RESERVED_ID = "group"


def _check_device_id(did: str, name: str, line: int, problems: list[Problem]) -> None:
    if any(c in did for c in _NOT_IN_ID) or did.strip().lower() == _RESERVED_ID or did != did.strip():
        why = f"设备编号不可用 / device_id {did!r} cannot name an MQTT topic level"
        problems.append(Problem(name, line, why, "device_id", did))


def _responsible(
    row: list[str], at: int, people: Container[str] | None, name: str, line: int, problems: list[Problem]
) -> str | None:
    """The optional 专人 column: a person_id of people.csv, or empty (nobody named)."""
    pid = row[at].strip() if at < len(row) else ""
    if not pid:
        return None
    if people is not None and pid not in people:
        why = f"没有该专人 / unknown responsible_id {pid} (not in people.csv)"
        problems.append(Problem(name, line, why, RESPONSIBLE_FIELD, pid))
    return pid


def read_devices(
    table: Table | None,
    levels: dict[str, Level] | None,
    place: Place,
    problems: list[Problem],
    people: Container[str] | None = None,
) -> list[Device]:
    """`people`: the person ids of people.csv (None when it could not be read: that is reported)."""
    if table is None:
        return []
    name, header, out, seen = table.name, table.header, [], set[str]()
    width = len(DEVICE_FIELDS)
    # Either optional column may be left out (an absent column has an index past the row's end).
    opt_in_at = header.index(OPT_IN_FIELD) if OPT_IN_FIELD in header else len(header)
    sig_alg_at = header.index(SIG_ALG_FIELD) if SIG_ALG_FIELD in header else len(header)
    responsible_at = header.index(RESPONSIBLE_FIELD) if RESPONSIBLE_FIELD in header else len(header)
    provider_at = header.index(PROVIDER_FIELD) if PROVIDER_FIELD in header else len(header)
    for line, row in table.rows:
        did, cell, lon, lat, kind = row[:width]
        here = len(problems)
        opt_in = read_opt_in(row, opt_in_at, True, name, line, problems)
        sig_alg = read_sig_alg(row, sig_alg_at, name, line, problems)
        responsible = _responsible(row, responsible_at, people, name, line, problems)
        provider = read_provider(row, provider_at, name, line, problems)
        check_unique(did, seen, "device_id", name, line, problems)
        if did:
            _check_device_id(did, name, line, problems)
        seen.add(did)
        check_cell(cell, Level.VILLAGE, levels, name, line, problems)
        x, y, ok = place.coord(lon, lat, name, line, problems)
        if ok and len(problems) == here:
            place.inside(cell, x, y, name, line, problems)
        if not kind:
            problems.append(Problem(name, line, "缺少类型 / missing kind", "kind"))
        if len(problems) == here:
            out.append(
                Device(
                    device_id=did,
                    cell_code=cell,
                    lon=x,
                    lat=y,
                    kind=kind,
                    drill_opt_in=opt_in,
                    sig_alg=sig_alg,
                    responsible_id=responsible,
                    provider=provider,
                )
            )
    return out
