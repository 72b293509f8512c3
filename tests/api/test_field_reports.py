"""The field-report inbox through the API (issue 17): staff post a report with photos, a duty person takes
it once (409 to the second), closes it handled or forwarded; every step audited. Bad input names the field:
an unknown household, a photo that is not an image whatever its Content-Type says, one too large, too many."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from tests.api.conftest import Api
from tests.api.test_visits import visits_due
from warnengine.directory import County


def png() -> bytes:
    """A real 1×1 PNG (signature, IHDR, IDAT, IEND)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


async def post(api: Api, small_county: County, **extra: object) -> dict[str, object]:
    home = small_county.households[0]
    doc = {"kind": "disaster", "text": "后山滑坡，道路中断", "household_id": home.household_id, **extra}
    status, out = await api.call("POST", "/api/v1/field-reports", "grid", json=doc)
    assert status == 201, out
    return dict(out)


async def test_post_take_once_close_audited(api: Api, small_county: County) -> None:
    home = small_county.households[0]
    out = await post(api, small_county, lon=110.1, lat=33.2)
    rid = str(out["report_id"])
    assert out["state"] == "open" and out["source"] == "staff" and out["reporter"] == "grid"
    assert out["village_code"] == home.cell_code[:12] and out["due_at"] == out["created_at"] + 600  # type: ignore[operator]
    status, inbox = await api.call("GET", "/api/v1/field-reports?state=open", "disp")
    assert status == 200 and inbox["open"] == 1 and inbox["reports"][0]["report_id"] == rid
    status, taken = await api.call("POST", f"/api/v1/field-reports/{rid}/take", "disp")
    assert status == 200 and taken["state"] == "taken" and taken["taken_by"] == "disp"
    status, err = await api.call("POST", f"/api/v1/field-reports/{rid}/take", "disp2")
    assert status == 409 and err["error"]["code"] == "already_taken" and "disp" in err["error"]["message"]
    status, err = await api.call(
        "POST", f"/api/v1/field-reports/{rid}/close", "disp", json={"outcome": "forwarded"}
    )
    assert status == 400 and "to whom" in err["error"]["message"]
    close = {"outcome": "forwarded", "note": "转报城关镇应急办"}
    status, done = await api.call("POST", f"/api/v1/field-reports/{rid}/close", "disp", json=close)
    assert status == 200 and done["state"] == "forwarded" and done["outcome_note"] == "转报城关镇应急办"
    status, err = await api.call("POST", f"/api/v1/field-reports/{rid}/close", "disp", json=close)
    assert status == 409 and err["error"]["code"] == "not_taken"
    status, audit = await api.call("GET", f"/api/v1/audit?subject={rid}", "admin")
    actions = [e["action"] for e in audit["entries"]]
    assert sorted(actions) == sorted(
        ["field_report.create", "field_report.take", "field_report.take.refused", "field_report.forwarded"]
    )


async def test_bad_reports_name_the_field(api: Api, small_county: County) -> None:
    doc = {"kind": "needs_help", "text": "老人走不动", "household_id": "nosuchhome"}
    status, err = await api.call("POST", "/api/v1/field-reports", "grid", json=doc)
    assert status == 422 and err["error"]["field"] == "household_id"
    status, err = await api.call("POST", "/api/v1/field-reports", "grid", json={**doc, "household_id": "h/1"})
    assert status == 400 and err["error"]["field"] == "household_id"
    lone: dict[str, object] = {"kind": "disaster", "text": "x", "lon": 110.0}
    status, err = await api.call("POST", "/api/v1/field-reports", "grid", json=lone)
    assert status == 400 and "lat" in err["error"]["message"]
    status, err = await api.call(
        "POST", "/api/v1/field-reports", "grid", json={"kind": "rumour", "text": "x"}
    )
    assert status == 400 and err["error"]["field"] == "kind"
    assert (await api.call("GET", "/api/v1/field-reports", "disp"))[1]["reports"] == []
    status, _ = await api.call("POST", "/api/v1/field-reports/fr-00000000000000000000/take", "disp")
    assert status == 404


async def test_photos_checked_by_their_bytes(api: Api, small_county: County, tmp_path: Path) -> None:
    rid = (await post(api, small_county))["report_id"]
    path = f"/api/v1/field-reports/{rid}/photos"
    image = png()
    # A text file declared as a PNG, an image declared as something else, a JPEG header with PNG declared.
    for data, ctype in (
        (b"hello, not an image", "image/png"),
        (image, "text/plain"),
        (b"\xff\xd8\xff" + b"0" * 10, "image/png"),
    ):
        status, err = await api.call("POST", path, "grid", data=data, headers={"Content-Type": ctype})
        assert status == 415 and err["error"]["field"] == "photo", (ctype, err)
    huge = b"\xff\xd8\xff" + b"\x00" * (4 * 1024 * 1024)
    jpeg = {"Content-Type": "image/jpeg"}
    status, err = await api.call("POST", path, "grid", data=io.BytesIO(huge), headers=jpeg)
    assert status == 413 and err["error"]["field"] == "photo"
    status, added = await api.call("POST", path, "grid", data=image, headers={"Content-Type": "image/png"})
    assert status == 201 and added["size"] == len(image)
    sha = added["sha256"]
    assert (tmp_path / "field_reports" / sha).read_bytes() == image  # outside the rows, by content hash
    status, same = await api.call("POST", path, "grid", data=image, headers={"Content-Type": "image/png"})
    assert status == 200 and same["sha256"] == sha  # the same photo again: kept once
    for i in range(3):
        other = image + b"\x00" * (i + 1)  # trailing bytes: another file, still a PNG by its header
        status, _ = await api.call("POST", path, "grid", data=other, headers={"Content-Type": "image/png"})
        assert status == 201
    status, err = await api.call(
        "POST", path, "grid", data=image + b"!", headers={"Content-Type": "image/png"}
    )
    assert status == 409 and err["error"]["code"] == "too_many_photos"
    status, one = await api.call("GET", f"/api/v1/field-reports/{rid}", "disp")
    assert status == 200 and one["photos"][0] == sha and len(one["photos"]) == 4
    async with api.client.get(f"/api/v1/field-reports/photos/{sha}", headers=api.auth("disp")) as r:
        assert r.status == 200 and r.content_type == "image/png" and await r.read() == image


async def test_visit_needs_help_and_refusal_reach_the_inbox(api: Api, small_county: County) -> None:
    warning_id = await visits_due(api, small_county)
    _, out = await api.call("GET", f"/api/v1/warnings/{warning_id}/visits", "grid")
    task = out["tasks"][0]
    homes = [h["household_id"] for h in task["households"]]
    for home, outcome in ((homes[0], "needs_help"), (homes[1], "refused"), (homes[1], "refused")):
        path = f"/api/v1/visits/{task['task_id']}/households/{home}"
        status, _ = await api.call("POST", path, "grid", json={"outcome": outcome, "note": "行动不便"})
        assert status == 200
    status, inbox = await api.call("GET", f"/api/v1/field-reports?warning_id={warning_id}", "disp")
    assert status == 200 and inbox["open"] == 2  # the refusal recorded twice is one report
    assert {(r["household_id"], r["kind"]) for r in inbox["reports"]} == {
        (homes[0], "needs_help"),
        (homes[1], "refused"),
    }
