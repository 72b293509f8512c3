"""What an import changes, compared with the record: a round trip through files changes nothing."""

from __future__ import annotations

from pathlib import Path

from warnengine.directory import County, read_county, write_county
from warnengine.directory.diff import diff_county


def test_a_round_trip_through_files_changes_nothing(small_county: County, tmp_path: Path) -> None:
    write_county(small_county, tmp_path)
    diff = diff_county(small_county, read_county(tmp_path))
    assert diff.totals()["changed"] == diff.totals()["added"] == 0
    assert diff.totals()["unchanged"] > len(small_county.people) and not diff.changes
    assert diff.county.people == [] and diff.county.cells == []


def test_only_the_edited_rows_are_written_with_before_and_after(small_county: County) -> None:
    person = small_county.people[3]
    moved = small_county.households[0].model_copy(update={"lon": small_county.households[0].lon + 1e-4})
    nudged = small_county.households[1].model_copy(update={"lat": small_county.households[1].lat + 1e-8})
    new = County(
        small_county.cells,
        [moved, nudged, *small_county.households[2:]],
        [person.model_copy(update={"phone": "+8613900000000"}), *small_county.people[:3]],
        small_county.devices,
        small_county.points,
    )
    diff = diff_county(small_county, new)
    assert [(c.table, c.key) for c in diff.changes] == [
        ("households", moved.household_id),  # 1e-8 degrees (1 mm) is below what files carry: unchanged
        ("people", person.person_id),
    ]
    change = diff.changes[1]
    assert change.before == {"phone": person.phone} and change.after == {"phone": "+8613900000000"}
    assert diff.county.people == [new.people[0]] and diff.county.households == [moved]
    assert diff.counts["people"] == {"added": 0, "changed": 1, "unchanged": 3}


def test_everything_is_added_without_a_record(small_county: County) -> None:
    diff = diff_county(None, small_county)
    assert diff.totals()["added"] == len(diff.changes) and diff.county.cells == small_county.cells
    cell = next(c for c in diff.changes if c.table == "cells")
    assert cell.before is None and cell.after["geometry"] == "(boundary)"  # the audit says it, not how
