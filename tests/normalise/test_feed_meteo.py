"""Meteorological warning signals (feeds/meteo.py) and the per-province signal table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.normalise.feed_helpers import encode, parse, reject
from warnengine.model import Hazard, MsgType, Severity, Status
from warnengine.model.warning import chain_id
from warnengine.normalise.feeds.base import stamp_version
from warnengine.normalise.feeds.signal_table import SignalTable, SignalTableError

REPO = Path(__file__).resolve().parents[2]
TABLE = SignalTable.load(REPO / "config" / "feeds" / "meteo_signals.yaml")

SIGNAL: dict[str, Any] = {
    "kind": "meteo_signal",
    "station": "示范县气象台",
    "signal": "暴雨",
    "colour": "红",
    "issued_at": "2024-07-01 08:00:00",
    "expires_at": "2024-07-01T20:00:00+08:00",
    "codes": ["410122100201", "410122100201"],
    "text": "过去3小时降雨量已达100毫米以上",
    "id": "41012241600000_20240701080000",
}


def signal(**changes: Any) -> bytes:
    return encode(SIGNAL, **changes)


def test_issued_signal() -> None:
    w = parse(signal(), "meteo", TABLE)
    assert (w.msg_type, w.version, w.severity, w.hazard, w.status) == (
        MsgType.ALERT,
        1,
        Severity.RED,
        Hazard.METEO,
        Status.ACTUAL,
    )
    assert w.warning_id == chain_id("示范县气象台", "41012241600000_20240701080000")
    assert w.sent.isoformat() == "2024-07-01T08:00:00+08:00"  # no offset: Beijing time
    assert w.headline == "示范县气象台发布暴雨红色预警信号" and w.event == "暴雨"
    assert w.areas[0].codes == ["410122100201"] and w.source == "meteo"
    assert w.expires is not None and w.expires.hour == 20


@pytest.mark.parametrize("colour", ["red", "红色", "Red", "红"])
def test_colour_spellings(colour: str) -> None:
    assert parse(signal(colour=colour), "meteo", TABLE).severity is Severity.RED


def test_update_and_lift_join_the_chain() -> None:
    first = parse(signal(), "meteo", TABLE)
    update = parse(signal(status="变更", colour="橙", issued_at="2024-07-01T10:00:00+08:00"), "meteo", TABLE)
    lift = parse(
        signal(status="lifted", colour=None, codes=None, issued_at="2024-07-01T12:00:00+08:00"),
        "meteo",
        TABLE,
    )
    assert update.warning_id == lift.warning_id == first.warning_id
    assert update.msg_type is MsgType.UPDATE and lift.msg_type is MsgType.CANCEL
    assert 1 < update.version < lift.version  # later changes supersede, whatever their colour
    assert update.references == [f"示范县气象台,{SIGNAL['id']},"]
    assert lift.headline == "示范县气象台解除暴雨预警信号" and not lift.has_area
    assert len({first.identifier, update.identifier, lift.identifier}) == 3


def test_lift_is_never_refused_over_its_colour() -> None:
    lift = parse(signal(signal="寒潮", province="example_province", status="解除"), "meteo", TABLE)
    assert lift.msg_type is MsgType.CANCEL and lift.identifier.endswith("#lifted")


def test_redelivered_update_is_identical() -> None:
    raw = signal(status="updated", colour="橙", issued_at="2024-07-01T10:00:00+08:00")
    a, b = parse(raw, "meteo", TABLE), parse(raw, "meteo", TABLE)
    assert (a.warning_id, a.version, a.identifier) == (b.warning_id, b.version, b.identifier)


def test_without_id_each_issue_is_its_own_warning() -> None:
    a = parse(signal(id=None), "meteo", TABLE)
    b = parse(signal(id=None, issued_at="2024-07-01T09:00:00+08:00"), "meteo", TABLE)
    assert a.warning_id != b.warning_id and a.version == b.version == 1


def test_update_needs_id() -> None:
    err = reject(signal(id=None, status="updated"), "meteo", TABLE)
    assert err.reason == "missing_field" and err.detail.startswith("id:")


@pytest.mark.parametrize(
    ("changes", "reason", "field"),
    [
        ({"colour": None}, "missing_field", "colour"),
        ({"codes": None}, "missing_field", "areas"),
        ({"colour": "purple"}, "unknown_severity", "colour"),
        ({"signal": "龙卷风"}, "invalid_field", "signal"),
        ({"station": None}, "missing_field", "station"),
        ({"issued_at": "yesterday"}, "bad_time", "issued_at"),
        ({"status": "paused"}, "invalid_field", "status"),
        ({"province": "火星"}, "invalid_field", "province"),
        ({"areas": [{"polygon": [[1, 2]]}]}, "invalid_field", "areas.0.polygon"),
    ],
)
def test_bad_signal(changes: dict[str, Any], reason: str, field: str) -> None:
    err = reject(signal(**changes), "meteo", TABLE)
    assert err.reason == reason and err.detail.startswith(field), err


@pytest.mark.parametrize(
    ("signal_type", "colour", "allowed"),
    [
        ("干旱", "黄", False),
        ("干旱", "橙", True),
        ("霜冻", "红", False),
        ("霾", "橙", True),
        ("冰雹", "蓝", False),
    ],
)
def test_national_colours(signal_type: str, colour: str, allowed: bool) -> None:
    raw = signal(signal=signal_type, colour=colour)
    if allowed:
        assert parse(raw, "meteo", TABLE).event == signal_type
    else:
        err = reject(raw, "meteo", TABLE)
        assert (
            err.reason == "invalid_field" and err.detail.startswith("colour:") and signal_type in err.detail
        )


def test_province_table_overrides_colours_and_adds_types() -> None:
    assert parse(signal(signal="寒潮"), "meteo", TABLE).severity is Severity.RED  # national: red exists
    err = reject(signal(signal="寒潮", province="example_province"), "meteo", TABLE)
    assert err.reason == "invalid_field" and "allowed: 蓝、黄、橙" in err.detail
    fire = parse(signal(signal="森林火险气象", colour="橙", province="example_province"), "meteo", TABLE)
    assert fire.hazard is Hazard.FOREST_FIRE and fire.event == "森林火险"


def test_lookup_by_code() -> None:
    assert parse(signal(signal="11B06", colour="蓝"), "meteo", TABLE).event == "大风"


def test_drill_and_areas() -> None:
    raw = signal(drill=True, codes=None, areas=[{"description": "某村", "codes": ["1"]}])
    w = parse(raw, "meteo", TABLE)
    assert w.status is Status.EXERCISE and w.areas[0].description == "某村"


def test_stamp_version_orders_by_time() -> None:
    first = parse(signal(status="updated", issued_at="2024-07-01T10:00:00+08:00"), "meteo", TABLE)
    assert first.version == stamp_version(first.sent)


def test_default_table_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from warnengine.normalise.feeds.signal_table import default_signal_table

    (tmp_path / "t.yaml").write_text("active: p\ntables:\n  p:\n    types:\n      暴雨: {colours: [red]}\n")
    monkeypatch.setenv("WARNENGINE_METEO_SIGNALS", str(tmp_path / "t.yaml"))
    default_signal_table.cache_clear()
    try:
        assert parse(signal(), "meteo").severity is Severity.RED
        assert reject(signal(colour="黄"), "meteo").reason == "invalid_field"
        monkeypatch.setenv("WARNENGINE_METEO_SIGNALS", str(tmp_path / "missing.yaml"))
        default_signal_table.cache_clear()
        assert reject(signal(), "meteo").reason == "config_error"
    finally:
        default_signal_table.cache_clear()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("active: x\ntables: {}\n", "active table 'x'"),
        ("active: a\ntables:\n  a: {extends: b}\n", "unknown table 'b'"),
        ("active: a\ntables:\n  a: {extends: b}\n  b: {extends: a}\n", "loop"),
        ("active: a\ntables:\n  a:\n    types:\n      暴雨: {colours: [紫]}\n", "colours"),
        ("active: a\ntables:\n  a:\n    types:\n      暴雨: {colours: []}\n", "colours"),
        ("[", "t.yaml"),
    ],
)
def test_bad_table(tmp_path: Path, text: str, words: str) -> None:
    (tmp_path / "t.yaml").write_text(text)
    with pytest.raises(SignalTableError) as caught:
        SignalTable.load(tmp_path / "t.yaml")
    assert words in str(caught.value)
