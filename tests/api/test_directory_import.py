"""The console's directory upload: the same checks and the same partial, diffed import as `grid import`,
its problem list as a spreadsheet, the last import's summary, and every bad request refused by name."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from aiohttp import FormData
from openpyxl import load_workbook

from tests.api.conftest import Api, api_settings
from warnengine.api.app import create_app
from warnengine.directory import County
from warnengine.directory.export import write_county_xlsx

URL = "/api/v1/directory/import"


def _people(county: County, tmp: Path, edit: tuple[int, str, str] | None = None) -> bytes:
    """people.xlsx as `grid export --format xlsx` writes it, with one cell changed (row, column, value)."""
    write_county_xlsx(county, tmp)
    wb = load_workbook(tmp / "people.xlsx")
    ws = wb.active
    assert ws is not None
    if edit is not None:
        row, column, value = edit
        header = [c.value for c in ws[1]]
        ws.cell(row=row, column=header.index(column) + 1, value=value)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _form(files: dict[str, bytes], **fields: str) -> FormData:
    form = FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for name, data in files.items():
        form.add_field("files", data, filename=name, content_type="application/octet-stream")
    return form


async def test_an_edited_row_is_all_that_changes_and_the_last_import_says_so(
    api: Api, small_county: County, tmp_path: Path
) -> None:
    data = _people(small_county, tmp_path, (3, "name", "改过的名字"))
    status, out = await api.call("POST", URL, "admin", data=_form({"people.xlsx": data}))
    assert status == 200 and out["imported"], out
    assert (out["summary"]["changed"], out["summary"]["added"]) == (1, 0)
    assert "households" in out["summary"]["kept"] and not out["errors_url"]
    assert any(line.startswith("people: 新增 0 / added, 修改 1") for line in out["lines"])
    status, last = await api.call("GET", "/api/v1/directory/imports/last", "admin")
    assert status == 200 and last["actor"] == "admin"
    assert last["detail"]["changes"]["people"]["changed"] == 1 and "changed_rows" not in last["detail"]
    assert not list((tmp_path / "imports").iterdir())  # no second copy of the residents' phones


async def test_problems_import_nothing_and_come_as_a_spreadsheet(
    api: Api, small_county: County, tmp_path: Path
) -> None:
    data = _people(small_county, tmp_path, (4, "phone", "12345"))
    status, out = await api.call("POST", URL, "admin", data=_form({"people.xlsx": data}))
    assert status == 200 and not out["imported"] and out["problems"] == 1
    [problem] = out["first_problems"]
    assert (problem["file"], problem["line"], problem["column"]) == ("people.xlsx", 4, "phone")
    async with api.client.get(out["errors_url"], headers=api.auth("admin")) as r:
        assert r.status == 200 and r.content_type.endswith("spreadsheetml.sheet")
        sheet = load_workbook(io.BytesIO(await r.read())).active
    assert sheet is not None and [c.value for c in sheet[2]][:3] == ["people.xlsx", 4, "phone"]
    status, last = await api.call("GET", "/api/v1/directory/imports/last", "admin")
    assert last["actor"] == "grid import"  # still the fixture's own import: nothing was imported
    status, out = await api.call(
        "POST", URL, "admin", data=_form({"people.xlsx": data}, skip_bad_rows="true")
    )
    assert out["imported"] and out["summary"]["skipped"] == 1


async def test_bad_requests_are_refused_by_name(api: Api, small_county: County, tmp_path: Path) -> None:
    people = _people(small_county, tmp_path)
    cases: list[tuple[Any, str, int, str]] = [
        (_form({"setup.exe": b"MZ"}), "admin", 400, "unknown_file"),
        (_form({}, crs="wgs84"), "admin", 400, "invalid_form"),
        (_form({"people.xlsx": people}, crs="mercator"), "admin", 400, "invalid_field"),
        (_form({"people.xlsx": people}, encoding="klingon"), "admin", 400, "invalid_field"),
        (_form({"people.xlsx": people}, owner="me"), "admin", 400, "invalid_field"),
        (_form({"people.xlsx": people}), "disp", 403, "forbidden"),
    ]
    for form, who, status, code in cases:
        got, out = await api.call("POST", URL, who, data=form)
        assert (got, out["error"]["code"]) == (status, code), out
    got, out = await api.call("POST", URL, "admin", json={"files": []})
    assert (got, out["error"]["code"]) == (400, "invalid_form")
    got, _ = await api.call("GET", "/api/v1/directory/imports/0123456789abcdef/errors", "admin")
    assert got == 404


async def test_an_upload_over_the_limit_is_413(api: Api, small_county: County, tmp_path: Path) -> None:
    app = create_app(api.store, api_settings(tmp_path, api_max_upload_bytes=1000), api.publisher)
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(app)) as client:
        form = _form({"people.xlsx": _people(small_county, tmp_path)})
        async with client.post(URL, data=form, headers=api.auth("admin")) as r:
            assert r.status == 413 and (await r.json())["error"]["code"] == "body_too_large"
    assert not (tmp_path / "imports").exists() or not list((tmp_path / "imports").iterdir())
