"""`warnengine grid import|export` and `warnengine preview`, run as a user runs them (a subprocess)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plan.conftest import directory_of
from tests.plan.org_county import with_orgs
from warnengine.directory import County, read_county, write_county
from warnengine.model import Area
from warnengine.resolve.targets import resolve_areas
from warnengine.wire.loudspeaker import group_topics


def run(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warnengine", "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )


@pytest.fixture(scope="module")
def imported(small_county: County, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose database holds the small county."""
    src, data = tmp_path_factory.mktemp("county"), tmp_path_factory.mktemp("data")
    write_county(with_orgs(small_county), src)
    done = run(data, "grid", "import", str(src))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["households"] == len(small_county.households)
    return data


def test_export_gives_back_what_was_imported(imported: Path, small_county: County, tmp_path: Path) -> None:
    done = run(imported, "grid", "export", str(tmp_path))
    assert done.returncode == 0, done.stderr
    back = read_county(tmp_path)
    assert back.points == small_county.points and back.devices == small_county.devices
    orgs = sorted(with_orgs(small_county).orgs, key=lambda o: o.org_id)  # orgs.csv goes out and back too
    assert back.orgs == [o.model_copy(update={"lon": round(o.lon, 6), "lat": round(o.lat, 6)}) for o in orgs]
    assert sorted(back.people, key=lambda p: p.person_id) == sorted(
        small_county.people, key=lambda p: p.person_id
    )
    assert {c.code: c for c in back.cells} == {c.code: c for c in small_county.cells}


def test_reimport_updates_in_place(imported: Path, small_county: County, tmp_path: Path) -> None:
    write_county(small_county, tmp_path)
    rows = list(csv.reader((tmp_path / "households.csv").read_text(encoding="utf-8").splitlines()))
    rows[1][4] = "9"  # the first household grew
    with open(tmp_path / "households.csv", "w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    assert run(imported, "grid", "import", str(tmp_path)).returncode == 0
    out = tmp_path / "out"
    assert run(imported, "grid", "export", str(out)).returncode == 0
    back = {h.household_id: h for h in read_county(out).households}
    assert len(back) == len(small_county.households) and back[rows[1][0]].members == 9


def test_import_refuses_a_bad_directory_naming_each_line(
    imported: Path, small_county: County, tmp_path: Path
) -> None:
    write_county(small_county, tmp_path)
    people = (tmp_path / "people.csv").read_text(encoding="utf-8").splitlines()
    fields = people[1].split(",")
    fields[5] = "12345"  # not a phone number
    people[1] = ",".join(fields)
    (tmp_path / "people.csv").write_text("\n".join(people) + "\n", encoding="utf-8")
    points = (tmp_path / "points.csv").read_text(encoding="utf-8").splitlines()
    fields = points[1].split(",")
    fields[3], fields[4] = "100.0", "20.0"  # far outside its cell
    points[1] = ",".join(fields)
    (tmp_path / "points.csv").write_text("\n".join(points) + "\n", encoding="utf-8")
    done = run(imported, "grid", "import", str(tmp_path))
    assert done.returncode == 2
    assert "people.csv:2: phone '12345': 号码无效" in done.stderr
    assert "points.csv:2: 点 (100.0, 20.0) 不在所属网格" in done.stderr
    assert "point (100.0, 20.0) is outside its cell" in done.stderr
    assert "nothing imported" in done.stderr


def test_preview_by_codes_circle_and_geojson(imported: Path, small_county: County, tmp_path: Path) -> None:
    village = next(c for c in small_county.cells if c.level.value == "village")
    done = run(
        imported, "preview", "--codes", village.code, "--hazard", "meteo", "--severity", "red", "--json"
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    homes = [h for h in small_county.households if h.cell_code.startswith(village.code)]
    assert out["villages"] == 1 and out["townships"] == 1 and out["households"] == len(homes)
    assert out["vulnerable"] == sum(h.vulnerable for h in homes)
    assert out["devices"] == sum(d.cell_code == village.code for d in small_county.devices)
    assert out["by_channel"]["sms"] > 0 and out["rule"] == "red" and not out["flagged"]
    assert set(out) >= {
        "townships",
        "villages",
        "groups",
        "households",
        "people",
        "vulnerable",
        "devices",
        "by_channel",
    }

    h = homes[0]
    done = run(imported, "preview", "--circle", f"{h.lat},{h.lon},0.3", "--json")
    expected = resolve_areas(
        directory_of(small_county),
        [Area.model_validate({"circles": [{"lat": h.lat, "lon": h.lon, "radius_km": 0.3}]})],
    )
    assert json.loads(done.stdout)["households"] == sum(len(v) for v in expected.households.values())

    geo = tmp_path / "area.geojson"
    geo.write_text(
        json.dumps({"type": "Feature", "geometry": village.geometry, "properties": {}}), encoding="utf-8"
    )
    done = run(imported, "preview", "--geojson", str(geo), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["households"] >= len(homes)


def test_preview_flags_an_area_that_reaches_nobody(imported: Path) -> None:
    done = run(imported, "preview", "--codes", "999999999999", "--json")
    out = json.loads(done.stdout)
    assert out["flagged"] and out["households"] == 0
    assert out["problems"] == ["area code '999999999999' matches no cell in the directory"]
    bad = run(imported, "preview", "--circle", "35.5,114.5", "--json")
    assert bad.returncode == 2 and "LAT,LON,KM" in bad.stderr and "Traceback" not in bad.stderr


def test_sig_alg_survives_import_and_export(small_county: County, tmp_path: Path) -> None:
    devices = [
        d.model_copy(update={"sig_alg": "sm2-sm3"}) if i % 2 else d
        for i, d in enumerate(small_county.devices)
    ]
    c = small_county
    write_county(County(c.cells, c.households, c.people, devices, c.points), tmp_path / "src")
    assert run(tmp_path / "data", "grid", "import", str(tmp_path / "src")).returncode == 0
    done = run(tmp_path / "data", "grid", "export", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert read_county(tmp_path / "out").devices == sorted(devices, key=lambda d: d.device_id)
    assert (
        (tmp_path / "out" / "devices.csv")
        .read_text(encoding="utf-8")
        .splitlines()[0]
        .startswith("device_id,cell_code,lon,lat,kind,drill_opt_in,sig_alg,")
    )


def test_grid_acl_gives_each_terminal_its_three_group_topics(imported: Path, small_county: County) -> None:
    done = run(imported, "grid", "acl")
    assert done.returncode == 0, done.stderr
    stanzas: dict[str, list[str]] = {}
    user = ""
    for line in done.stdout.splitlines():
        if line.startswith("user "):
            user = line.removeprefix("user ")
            stanzas[user] = []
        elif line.startswith("topic read "):
            stanzas[user].append(line.removeprefix("topic read "))
    assert stanzas == {d.device_id: group_topics(d.cell_code) for d in small_county.devices}
