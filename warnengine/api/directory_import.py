"""The console's directory upload: the files an office keeps (xlsx, GB18030 CSV, a shapefile), checked and
imported exactly as `warnengine grid import` does (warnengine/directory/importer.py), by an admin.

Each upload lands in `<data_dir>/imports/<id>/`; when it has problems the full list is written there as
`import-errors.xlsx`, downloadable beside the summary. The last import's summary comes from the audit log,
so it shows imports from the command line too.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel

from warnengine.api.auth import ApiRole
from warnengine.api.context import ctx
from warnengine.api.errors import ApiError, bad_request, not_found
from warnengine.api.routing import Op, json_out, user
from warnengine.directory import ReadOptions
from warnengine.directory.errors import write_errors
from warnengine.directory.importer import change_lines, import_folder

ADMINS = frozenset({ApiRole.ADMIN})
# The directory's file names, as `grid import` reads them (the grid as GeoJSON or a shapefile's parts).
_NAME = re.compile(r"^(grid\.(geojson|shp|shx|dbf|prj|cpg)|[a-z_]{2,32}\.(csv|xlsx))$")
_FIELDS = {"skip_bad_rows", "crs", "encoding", "sheet"}
_CRS = {"wgs84", "cgcs2000", "gcj02", "bd09"}
_ID = re.compile(r"^[0-9a-f]{16}$")
_SHOWN = 20
ERRORS_FILE = "import-errors.xlsx"


class ProblemOut(BaseModel):
    file: str
    line: int
    column: str
    value: str
    message: str


class ImportOut(BaseModel):
    import_id: str
    imported: bool
    summary: dict[str, Any]
    lines: list[str]
    problems: int
    first_problems: list[ProblemOut]
    errors_url: str | None


class LastImport(BaseModel):
    at: float | None
    at_local: str | None  # YYYY-MM-DD HH:MM in the county's time zone
    actor: str | None
    detail: dict[str, Any]


FORM = {
    "type": "object",
    "required": ["files"],
    "properties": {
        "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "skip_bad_rows": {"type": "string", "enum": ["true", "false"]},
        "crs": {"type": "string", "enum": sorted(_CRS)},
        "encoding": {"type": "string", "maxLength": 32},
        "sheet": {"type": "string", "maxLength": 64},
    },
}


async def upload_directory(request: web.Request) -> web.Response:
    c = ctx(request)
    import_id = secrets.token_hex(8)
    folder = c.settings.data_dir / "imports" / import_id
    folder.mkdir(parents=True)
    try:
        fields = await _receive(request, folder, c.settings.api_max_upload_bytes)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    options = ReadOptions(
        encoding=fields.get("encoding") or None,
        sheet=fields.get("sheet") or None,
        crs=fields.get("crs") or "wgs84",
        crs_given="crs" in fields,
        phone_region=c.settings.phone_region,
        time_zone=c.settings.time_zone,
    )
    skip = fields.get("skip_bad_rows") == "true"
    result = await import_folder(c.store, folder, options, skip_bad_rows=skip, actor=user(request).username)
    errors_url = None
    if result.problems:
        write_errors(result.problems, folder / ERRORS_FILE)
        errors_url = f"/api/v1/directory/imports/{import_id}/errors"
    _drop_uploads(folder)
    shown = [
        ProblemOut(file=p.file, line=p.line, column=p.column, value=str(p.value), message=p.message)
        for p in result.problems[:_SHOWN]
    ]
    out = ImportOut(
        import_id=import_id,
        imported=result.imported,
        summary=result.summary() if result.imported else {},
        lines=change_lines(result) if result.imported else [],
        problems=len(result.problems),
        first_problems=shown,
        errors_url=errors_url,
    )
    return json_out(out)  # checked either way: `imported` and the problems say how it went


def _drop_uploads(folder: Path) -> None:
    """The record has what was imported; residents' phone numbers do not stay in a second copy."""
    for path in folder.iterdir():
        if path.name != ERRORS_FILE:
            path.unlink()
    if not any(folder.iterdir()):
        folder.rmdir()


async def _receive(request: web.Request, folder: Path, limit: int) -> dict[str, str]:
    """The form's files written into `folder` (names checked, total size bounded) and its text fields."""
    if not request.content_type.startswith("multipart/"):
        raise bad_request("invalid_form", "expected multipart/form-data with the directory's files")
    try:
        return await _read_parts(request, folder, limit)
    except (ValueError, AssertionError, HttpProcessingError) as e:  # a malformed body, headers or parts
        raise bad_request("invalid_form", f"not a readable multipart body: {e}") from e


async def _read_parts(request: web.Request, folder: Path, limit: int) -> dict[str, str]:
    reader = await request.multipart()
    fields: dict[str, str] = {}
    total, names = 0, 0
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            raise bad_request("invalid_form", "nested multipart bodies are not accepted")
        if part.filename is None:
            name = part.name or ""
            if name not in _FIELDS:
                raise bad_request("invalid_field", f"unknown form field {name!r}", name)
            fields[name] = (await part.read(decode=True))[:200].decode(errors="replace").strip()
            continue
        name = Path(part.filename).name
        if not _NAME.match(name):
            why = f"不是目录文件 / not a directory file name: {name!r} (people.xlsx, grid.geojson …)"
            raise bad_request("unknown_file", why, "files")
        total += await _save(part, folder / name, limit - total)
        names += 1
    if not names:
        raise bad_request("invalid_form", "no files uploaded", "files")
    _check_fields(fields)
    return fields


async def _save(part: BodyPartReader, path: Path, room: int) -> int:
    size = 0
    f = await asyncio.to_thread(path.open, "wb")
    try:
        while chunk := await part.read_chunk(256 * 1024):
            size += len(chunk)
            if size > room:
                raise ApiError(413, "body_too_large", "upload over api_max_upload_bytes")
            await asyncio.to_thread(f.write, chunk)
    finally:
        await asyncio.to_thread(f.close)
    return size


def _check_fields(fields: dict[str, str]) -> None:
    if fields.get("skip_bad_rows", "false") not in ("true", "false"):
        raise bad_request("invalid_field", "skip_bad_rows must be true or false", "skip_bad_rows")
    if "crs" in fields and fields["crs"] not in _CRS:
        raise bad_request("invalid_field", f"crs must be one of {sorted(_CRS)}", "crs")
    if fields.get("encoding"):
        try:
            "".encode(fields["encoding"])
        except LookupError as e:
            raise bad_request("invalid_field", f"unknown encoding {fields['encoding']!r}", "encoding") from e


async def import_errors(request: web.Request) -> web.StreamResponse:
    import_id = request.match_info["import_id"]
    path = ctx(request).settings.data_dir / "imports" / import_id / ERRORS_FILE
    if not _ID.match(import_id) or not path.is_file():
        raise not_found(f"import {import_id}'s problem list")
    disposition = f'attachment; filename="import-errors-{import_id}.xlsx"'
    return web.FileResponse(path, headers={"Content-Disposition": disposition, "Content-Type": XLSX})


async def last_import(request: web.Request) -> web.Response:
    row = await ctx(request).store.last_audit("directory.import")
    if row is None:
        return json_out(LastImport(at=None, at_local=None, actor=None, detail={}))
    detail = json.loads(row["detail"]) if row["detail"] else {}
    detail.pop("changed_rows", None)  # the audit log has them; the summary stays small
    tz = ZoneInfo(ctx(request).settings.time_zone)
    local = datetime.fromtimestamp(row["at"], tz).strftime("%Y-%m-%d %H:%M")
    return json_out(LastImport(at=row["at"], at_local=local, actor=row["actor"], detail=detail))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
OPS = [
    Op(
        "POST",
        "/api/v1/directory/import",
        upload_directory,
        "Upload and import directory files (导入名册), checked like `grid import`",
        "directory",
        ADMINS,
        form=FORM,
        response=ImportOut,
        errors=(413,),
    ),
    Op(
        "GET",
        "/api/v1/directory/imports/last",
        last_import,
        "The last directory import: who, when, what changed",
        "directory",
        ADMINS,
        response=LastImport,
    ),
    Op(
        "GET",
        "/api/v1/directory/imports/{import_id}/errors",
        import_errors,
        "An upload's full problem list (xlsx: file, row, column, value, reason)",
        "directory",
        ADMINS,
        response={"type": "string", "format": "binary"},
        content_type=XLSX,
        errors=(404,),
        path_params={"import_id": {"type": "string", "pattern": "^[0-9a-f]{16}$"}},
    ),
]
