from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from warnengine.directory import County, DirectoryError, generate_county, read_county, write_county
from warnengine.model import Level

SAMPLE = Path(__file__).resolve().parents[2] / "config" / "county"


def test_round_trip(county: County, tmp_path: Path) -> None:
    write_county(county, tmp_path)
    assert read_county(tmp_path) == county


def test_file_formats(small_county: County, tmp_path: Path) -> None:
    write_county(small_county, tmp_path)
    with open(tmp_path / "households.csv", encoding="utf-8", newline="") as f:
        assert next(csv.reader(f)) == ["household_id", "cell_code", "lon", "lat", "members", "vulnerable"]
    with open(tmp_path / "people.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == [
        "person_id",
        "household_id",
        "cell_code",
        "name",
        "role",
        "phone",
        "wechat_openid",
        "app_token",
        "drill_opt_in",
        "wecom_userid",  # optional: generated staff on WeChat have one
    ]
    assert rows[1][1] == "" and rows[1][4] == "grid_head"  # staff: empty household_id
    with open(tmp_path / "devices.csv", encoding="utf-8", newline="") as f:
        header = ["device_id", "cell_code", "lon", "lat", "kind", "drill_opt_in", "sig_alg", "responsible_id"]
        assert next(csv.reader(f)) == header
    with open(tmp_path / "points.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["point_id", "cell_code", "name", "lon", "lat", "kind", "lead_person_id", "households"]
    assert len(rows) > 1 and all(r[7] for r in rows[1:])  # every point threatens someone
    grid = json.loads((tmp_path / "grid.geojson").read_text(encoding="utf-8"))
    assert grid["type"] == "FeatureCollection"
    first = grid["features"][0]
    assert first["properties"] == {
        "code": small_county.cells[0].code,
        "level": "county",
        "parent": None,
        "name": "示范县",
    }
    for feature in grid["features"]:
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert set(feature["properties"]) == {"code", "level", "parent", "name"}
    lon, lat = first["geometry"]["coordinates"][0][0]
    assert round(lon, 6) == lon and round(lat, 6) == lat


def test_committed_sample_is_current(county: County) -> None:
    assert read_county(SAMPLE) == county, "regenerate: warnengine gen-county --out config/county"
    size = sum(p.stat().st_size for p in SAMPLE.iterdir())
    assert size < 5_000_000


FEATURE = (
    '{{"type":"Feature","properties":{{"code":"{code}","level":"{level}","parent":{parent},'
    '"name":"{name}"}},"geometry":{{"type":"Polygon","coordinates":[[[114.5,35.5],[114.6,35.5],'
    "[114.6,35.6],[114.5,35.5]]]}}}}"
)


def _feature(code: str, level: str, parent: str | None, name: str) -> str:
    return FEATURE.format(code=code, level=level, parent=json.dumps(parent), name=name)


def _write_broken(directory: Path) -> None:
    features = [
        _feature("410526000000", "county", None, "示范县"),  # line 2
        _feature("410526100000", "township", "410526000000", "城关镇"),  # line 3
        _feature("410526100200", "village", "410526100000", "王庄村"),  # line 4
        _feature("41052610020001", "group", "410526100200", "第一村民小组"),  # line 5
        _feature("410526100200", "village", "410526100000", "李庄村"),  # line 6: duplicate code
        _feature("410526101200", "village", "410526101000", "张庄村"),  # line 7: unknown parent
        _feature("410526102000", "hamlet", "410526000000", "赵庄"),  # line 8: unknown level
    ]
    (directory / "grid.geojson").write_text(
        '{"type":"FeatureCollection","features":[\n' + ",\n".join(features) + "\n]}\n", encoding="utf-8"
    )
    (directory / "households.csv").write_text(
        "household_id,cell_code,lon,lat,members,vulnerable\n"
        "h1,41052610020001,114.55,35.55,3,0\n"
        "h2,41052699999901,114.55,35.55,2,0\n"  # line 3: unknown cell
        "h3,41052610020001,abc,35.55,2,0\n"  # line 4: bad number
        "h1,41052610020001,114.55,35.55,2,1\n"  # line 5: duplicate id
        "h4,410526100200,114.55,35.55,2,0\n"  # line 6: a village, not a group
        "h5,41052610020001,114.55,35.55,two,maybe\n",  # line 7: bad members and vulnerable
        encoding="utf-8",
    )
    (directory / "people.csv").write_text(
        "person_id,household_id,cell_code,name,role,phone,wechat_openid,app_token\n"
        "p1,h1,41052610020001,王伟,resident,+8613812345678,,\n"
        "p2,h1,41052610020001,李娜,resident,12345,,\n"  # line 3: not a phone number
        "p3,,410526100200,张强,village_chief,+8613912345678,,\n"  # line 4: unknown role
        "p4,h9,41052610020001,赵敏,resident,,,\n"  # line 5: unknown household
        "p1,,410526000000,刘洋,dispatcher,+8615012345678,,\n"  # line 6: duplicate id
        "p5,,410526999999,陈静,grid_head,+8615112345678,,\n",  # line 7: unknown cell
        encoding="utf-8",
    )
    (directory / "devices.csv").write_text(
        "device_id,cell_code,lon,lat,kind\n"
        "spk-410526100200-1,410526100200,114.55,35.55,loudspeaker\n"
        "spk-410526999200-1,410526999200,114.55,35.55,loudspeaker\n"  # line 3: unknown cell
        "spk-410526100200-2,410526100200,114.55,95,loudspeaker\n",  # line 4: latitude out of range
        encoding="utf-8",
    )


def test_read_reports_every_problem_with_its_line(tmp_path: Path) -> None:
    _write_broken(tmp_path)
    with pytest.raises(DirectoryError) as caught:
        read_county(tmp_path)
    problems = caught.value.problems
    expected = [
        ("grid.geojson", 6, "duplicate code 410526100200"),
        ("grid.geojson", 7, "unknown parent '410526101000'"),
        ("grid.geojson", 8, "unknown level 'hamlet'"),
        ("households.csv", 3, "unknown cell '41052699999901'"),
        ("households.csv", 4, "bad number in lon"),
        ("households.csv", 5, "duplicate household_id h1"),
        ("households.csv", 6, "expected a group"),
        ("households.csv", 7, "bad number in members"),
        ("households.csv", 7, "vulnerable must be 0 or 1"),
        ("people.csv", 3, "phone '12345'"),
        ("people.csv", 4, "unknown role 'village_chief'"),
        ("people.csv", 5, "unknown household h9"),
        ("people.csv", 6, "duplicate person_id p1"),
        ("people.csv", 7, "unknown cell '410526999999'"),
        ("devices.csv", 3, "unknown cell '410526999200'"),
        ("devices.csv", 4, "lat 95.0 out of range"),
    ]
    for file, line, text in expected:
        found = any(p.file == file and p.line == line and text in p.message for p in problems)
        assert found, (file, line, text, problems)
    assert len(problems) == len(expected), problems  # nothing reported twice, valid rows not reported
    assert "people.csv:4: 未知角色 / unknown role" in str(caught.value)


def test_grid_lines_in_pretty_printed_file(small_county: County, tmp_path: Path) -> None:
    write_county(small_county, tmp_path)
    grid = json.loads((tmp_path / "grid.geojson").read_text(encoding="utf-8"))
    grid["features"][2]["properties"]["parent"] = "999999999999"
    text = json.dumps(grid, ensure_ascii=False, indent=1)
    (tmp_path / "grid.geojson").write_text(text, encoding="utf-8")
    with pytest.raises(DirectoryError) as caught:
        read_county(tmp_path)
    [(file, line, message, *_)] = caught.value.problems
    assert file == "grid.geojson" and "unknown parent '999999999999'" in message
    starts = [i for i, s in enumerate(text.splitlines(), 1) if s.strip() == "{"]
    assert line == starts[3]  # the third feature's opening brace (the first "{" is the collection)


def test_unreadable_files(small_county: County, tmp_path: Path) -> None:
    write_county(small_county, tmp_path)
    broken = '{"type": "FeatureCollection",\n "features": [\n'
    (tmp_path / "grid.geojson").write_text(broken, encoding="utf-8")
    (tmp_path / "devices.csv").unlink()
    (tmp_path / "people.csv").write_text("id,name\n", encoding="utf-8")
    with pytest.raises(DirectoryError) as caught:
        read_county(tmp_path)
    # Reported once each; households.csv is not flagged for cells the unreadable grid would have held.
    assert {(p.file, p.line) for p in caught.value.problems} == {
        ("grid.geojson", 3),  # where the JSON breaks off
        ("devices.csv", 0),
        ("people.csv", 1),
    }


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    for run in ("a", "b"):
        county = generate_county(
            seed=5, townships=2, villages=10, groups_per_village=(1, 2), households_per_group=(2, 3)
        )
        write_county(county, tmp_path / run)
    for name in ("grid.geojson", "households.csv", "people.csv", "devices.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def _devices(directory: Path, small_county: County, text: str) -> None:
    write_county(small_county, directory)
    village = next(c.code for c in small_county.cells if c.level is Level.VILLAGE)
    (directory / "devices.csv").write_text(text.replace("V", village), encoding="utf-8")


def test_sig_alg_is_checked_per_line(small_county: County, tmp_path: Path) -> None:
    _devices(
        tmp_path,
        small_county,
        "device_id,cell_code,lon,lat,kind,drill_opt_in,sig_alg\n"
        "spk-1,V,114.55,35.55,loudspeaker,1,sm2-sm3\n"
        "spk-2,V,114.55,35.55,loudspeaker,1,sm2\n"  # line 3: not an algorithm
        "spk-3,V,114.55,35.55,loudspeaker,0,\n"  # empty: the default
        "spk-4,V,114.55,35.55,loudspeaker,maybe,ED25519\n",  # line 5: both optional fields wrong
    )
    with pytest.raises(DirectoryError) as caught:
        read_county(tmp_path)
    assert [p[:3] for p in caught.value.problems] == [
        ("devices.csv", 3, "sig_alg must be ed25519 or sm2-sm3, got 'sm2'"),
        ("devices.csv", 5, "drill_opt_in must be 0 or 1, got 'maybe'"),
        ("devices.csv", 5, "sig_alg must be ed25519 or sm2-sm3, got 'ED25519'"),
    ]
    assert "devices.csv:3: sig_alg must be" in str(caught.value)


def test_responsible_person_is_read_under_a_chinese_header_and_checked_per_line(
    small_county: County, tmp_path: Path
) -> None:
    """专人 (issue 18): the person responsible for a terminal is a person of people.csv; an unknown one is
    refused on its own line, an empty cell names nobody."""
    person = small_county.people[0].person_id
    _devices(
        tmp_path,
        small_county,
        "设备编号,所属网格,经度,纬度,类型,专人\n"
        f"spk-1,V,114.55,35.55,loudspeaker,{person}\n"
        "spk-2,V,114.55,35.55,loudspeaker,p-nobody\n"  # line 3: not in people.csv
        "spk-3,V,114.55,35.55,loudspeaker,\n",
    )
    with pytest.raises(DirectoryError) as caught:
        read_county(tmp_path)
    assert [(p.file, p.line, p.column, p.value) for p in caught.value.problems] == [
        ("devices.csv", 3, "responsible_id", "p-nobody")
    ]
    assert "专人" in caught.value.problems[0].message
    _devices(
        tmp_path,
        small_county,
        f"设备编号,所属网格,经度,纬度,类型,专人\nspk-1,V,114.55,35.55,loudspeaker,{person}\nspk-3,V,114.55,35.55,loudspeaker,\n",
    )
    county = read_county(tmp_path)
    assert [(d.device_id, d.responsible_id) for d in county.devices] == [("spk-1", person), ("spk-3", None)]
    write_county(county, tmp_path / "again")  # and back out under the project's own name
    assert read_county(tmp_path / "again").devices == county.devices


def test_device_ids_that_cannot_be_a_topic_level_are_refused(small_county: County, tmp_path: Path) -> None:
    _devices(
        tmp_path,
        small_county,
        "device_id,cell_code,lon,lat,kind\n"
        "spk-1,V,114.55,35.55,loudspeaker\n"
        "spk/2,V,114.55,35.55,loudspeaker\n"  # line 3: a slash adds a topic level
        "group,V,114.55,35.55,loudspeaker\n"  # line 4: the village's group topic
        "spk-+,V,114.55,35.55,loudspeaker\n",  # line 5: a wildcard
    )
    with pytest.raises(DirectoryError) as caught:
        read_county(tmp_path)
    assert [(p.file, p.line, p.column) for p in caught.value.problems] == [
        ("devices.csv", 3, "device_id"),
        ("devices.csv", 4, "device_id"),
        ("devices.csv", 5, "device_id"),
    ]


@pytest.mark.parametrize(
    ("header", "row", "opt_in", "alg"),
    [
        ("", "", True, "ed25519"),  # an export from before either column
        (",drill_opt_in", ",0", False, "ed25519"),  # from before sig_alg
        (",sig_alg", ",sm2-sm3", True, "sm2-sm3"),  # sig_alg without drill_opt_in
        (",drill_opt_in,sig_alg", ",0,sm2-sm3", False, "sm2-sm3"),
    ],
)
def test_optional_device_columns(
    small_county: County, tmp_path: Path, header: str, row: str, opt_in: bool, alg: str
) -> None:
    _devices(
        tmp_path, small_county, f"device_id,cell_code,lon,lat,kind{header}\nspk-1,V,114.55,35.55,ls{row}\n"
    )
    [device] = read_county(tmp_path).devices
    assert (device.drill_opt_in, device.sig_alg) == (opt_in, alg)


def test_provider_column_routes_terminals_to_the_eb_platform(small_county: County, tmp_path: Path) -> None:
    _devices(
        tmp_path,
        small_county,
        "device_id,cell_code,lon,lat,kind,provider\n"
        "spk-1,V,114.55,35.55,loudspeaker,mqtt\n"
        "43411221002011000000001,V,114.55,35.55,loudspeaker,EB\n"  # the platform's EBRID; any case
        "spk-3,V,114.55,35.55,loudspeaker,\n",  # empty: the default, MQTT
    )
    assert [d.provider for d in read_county(tmp_path).devices] == ["mqtt", "eb", "mqtt"]
    county = read_county(tmp_path)
    write_county(county, tmp_path / "again")  # an export keeps the column, and reads back the same
    assert read_county(tmp_path / "again").devices == county.devices
    (tmp_path / "devices.csv").write_text(
        (tmp_path / "devices.csv").read_text(encoding="utf-8").replace(",EB", ",dab"), encoding="utf-8"
    )
    with pytest.raises(DirectoryError) as caught:
        read_county(tmp_path)
    assert [p[:3] for p in caught.value.problems] == [
        ("devices.csv", 3, "接入方式 / provider must be mqtt or eb, got 'dab'"),
    ]


@pytest.mark.parametrize("header", [",sig_alg,drill_opt_in", ",signature,备注"])
def test_device_columns_in_any_order_others_ignored(
    small_county: County, tmp_path: Path, header: str
) -> None:
    _devices(tmp_path, small_county, f"device_id,cell_code,lon,lat,kind{header}\n")
    assert read_county(tmp_path).devices == []


def test_device_column_given_twice(small_county: County, tmp_path: Path) -> None:
    _devices(tmp_path, small_county, "device_id,cell_code,lon,lat,kind,sig_alg,签名算法\n")
    with pytest.raises(DirectoryError) as caught:
        read_county(tmp_path)
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.column) == ("devices.csv", 1, "sig_alg")
    assert "column sig_alg given twice" in problem.message


def test_sig_alg_round_trip(small_county: County, tmp_path: Path) -> None:
    devices = [
        d.model_copy(update={"sig_alg": "sm2-sm3"}) if i % 3 == 0 else d
        for i, d in enumerate(small_county.devices)
    ]
    county = County(
        small_county.cells, small_county.households, small_county.people, devices, small_county.points
    )
    write_county(county, tmp_path)
    back = read_county(tmp_path)
    assert back.devices == devices and sum(d.sig_alg == "sm2-sm3" for d in back.devices) > 1
    with open(tmp_path / "devices.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert {r[6] for r in rows[1:]} == {"ed25519", "sm2-sm3"}  # written out, the default too
