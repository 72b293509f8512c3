"""Meteorological warning-signal types per province (config/feeds/meteo_signals.yaml).

    active: national                  # the table used when a message names no "province"
    tables:
      national:
        types:
          暴雨: {colours: [蓝, 黄, 橙, 红]}                    # hazard defaults to meteo
          大风: {colours: [蓝, 黄, 橙, 红], code: 11B06}       # code: matched like the name
          森林火险: {colours: [黄, 橙, 红], hazard: forest_fire, aliases: [森林火险气象]}
      某省:
        extends: national             # start from another table, then override or add types
        types:
          寒潮: {colours: [蓝, 黄, 橙]}

Colours may be written 蓝/黄/橙/红 (with or without 色) or blue/yellow/orange/red. Provinces differ
(some have no red 寒潮, some have no blue 暴雨), so the allowed colours are whatever the table says.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from warnengine.model import Hazard, Severity
from warnengine.normalise.errors import FeedError
from warnengine.normalise.feeds.base import Colour

DEFAULT_PATH = Path("config/feeds/meteo_signals.yaml")  # relative to the working directory, like county_dir
PATH_ENV = "WARNENGINE_METEO_SIGNALS"


class SignalTableError(ValueError):
    """The signal table file is unreadable or inconsistent."""


class _TypeEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    colours: Annotated[list[Colour], Field(min_length=1)]
    hazard: Hazard = Hazard.METEO
    code: str | None = None
    aliases: list[str] = Field(default_factory=list)


class _TableEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    extends: str | None = None
    types: dict[str, _TypeEntry] = Field(default_factory=dict)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: str
    tables: dict[str, _TableEntry]


@dataclass(frozen=True)
class SignalType:
    name: str
    colours: frozenset[Severity]
    hazard: Hazard = Hazard.METEO
    code: str | None = None


@dataclass(frozen=True)
class SignalTable:
    """Every province's table; `lookup` finds a type by name, code or alias."""

    active: str
    tables: dict[str, dict[str, SignalType]]  # table → key (name, code, alias) → type

    @classmethod
    def load(cls, path: str | Path) -> SignalTable:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise SignalTableError(f"{path}: {exc}") from exc
        return cls.from_dict(data, origin=str(path))

    @classmethod
    def from_dict(cls, data: Any, *, origin: str = "meteo_signals") -> SignalTable:
        try:
            parsed = _File.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise SignalTableError(f"{origin}: {where}: {first['msg']}") from exc
        tables = {name: _resolve(name, parsed.tables, origin, ()) for name in parsed.tables}
        if parsed.active not in tables:
            raise SignalTableError(f"{origin}: active table {parsed.active!r} is not defined")
        return cls(parsed.active, {name: _index(types) for name, types in tables.items()})

    def lookup(self, signal: str, province: str | None) -> tuple[str, SignalType | None]:
        """(table name, type or None). Raises FeedError when the province has no table."""
        table_name = province or self.active
        table = self.tables.get(table_name)
        if table is None:
            raise FeedError(
                "invalid_field", f"province: no signal table {table_name!r} (known: {sorted(self.tables)})"
            )
        return table_name, table.get(signal.strip())


def _resolve(
    name: str, entries: dict[str, _TableEntry], origin: str, seen: tuple[str, ...]
) -> dict[str, _TypeEntry]:
    if name in seen:
        raise SignalTableError(f"{origin}: tables extend each other in a loop: {' → '.join((*seen, name))}")
    entry = entries.get(name)
    if entry is None:
        raise SignalTableError(f"{origin}: {seen[-1]!r} extends unknown table {name!r}")
    base = _resolve(entry.extends, entries, origin, (*seen, name)) if entry.extends else {}
    return {**base, **entry.types}


def _index(types: dict[str, _TypeEntry]) -> dict[str, SignalType]:
    index: dict[str, SignalType] = {}
    for name, entry in types.items():
        signal = SignalType(name, frozenset(entry.colours), entry.hazard, entry.code)
        for key in (name, entry.code, *entry.aliases):
            if key:
                index[key] = signal
    return index


@functools.cache
def default_signal_table() -> SignalTable:
    """The table at $WARNENGINE_METEO_SIGNALS, else config/feeds/meteo_signals.yaml; loaded once.

    A missing or broken file rejects meteo messages with config_error (dead-lettered, so they can be
    replayed once the file is fixed) rather than stopping the normalise agent.
    """
    path = Path(os.environ.get(PATH_ENV) or DEFAULT_PATH)
    try:
        return SignalTable.load(path)
    except SignalTableError as exc:
        raise FeedError("config_error", str(exc)) from exc
