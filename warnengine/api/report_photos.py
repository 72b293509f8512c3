"""Photos of a field report: the body is the image itself (Content-Type image/jpeg, image/png or
image/webp), checked by its first bytes — a declared type the bytes do not bear out is refused (415) —
and size (413, read in chunks: nothing past the limit is held). Stored once under the data dir by content
hash (<data_dir>/field_reports/<sha256>); the record keeps the hash, type and size."""

from __future__ import annotations

import os
from hashlib import sha256
from pathlib import Path

from aiohttp import web
from pydantic import BaseModel

from warnengine.api.audit import record
from warnengine.api.context import ctx
from warnengine.api.errors import ApiError, conflict, not_found
from warnengine.api.routing import user

TYPES = ("image/jpeg", "image/png", "image/webp")
_CHUNK = 64 * 1024


class PhotoAdded(BaseModel):
    report_id: str
    sha256: str
    content_type: str
    size: int


def sniff(data: bytes) -> str | None:
    """The image type the bytes are, by their magic numbers (None: not an image we take)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def photo_path(data_dir: Path, sha: str) -> Path:
    return data_dir / "field_reports" / sha


async def _read_capped(request: web.Request, limit: int) -> bytes:
    too_big = ApiError(413, "photo_too_large", f"photo: over {limit} bytes", "photo")
    if request.content_length is not None and request.content_length > limit:
        raise too_big
    data = bytearray()
    while chunk := await request.content.read(_CHUNK):
        data += chunk
        if len(data) > limit:
            raise too_big
    return bytes(data)


def _save(data_dir: Path, sha: str, data: bytes) -> None:
    """Written to a temporary name then renamed: a reader never sees half a photo."""
    path = photo_path(data_dir, sha)
    if path.exists():
        return  # the same bytes, already kept (content-addressed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


async def add_field_report_photo_op(request: web.Request) -> web.Response:
    c = ctx(request)
    rid = request.match_info["report_id"]
    declared = request.content_type
    if declared not in TYPES:
        raise ApiError(415, "photo_type", f"photo: Content-Type must be one of {', '.join(TYPES)}", "photo")
    data = await _read_capped(request, c.settings.field_report_photo_max_bytes)
    found = sniff(data)
    if found != declared:
        what = "not an image" if found is None else f"a {found}"
        raise ApiError(415, "photo_type", f"photo: declared {declared} but the bytes are {what}", "photo")
    sha = sha256(data).hexdigest()
    now = c.store.clock.now()
    most = c.settings.field_report_max_photos
    done = await c.store.add_field_report_photo(rid, sha, found, len(data), user(request).username, now, most)
    if done == "missing":
        raise not_found(f"field report {rid}")
    if done == "full":
        raise conflict("too_many_photos", f"photo: a report keeps at most {most} photos")
    if done == "added":
        _save(c.settings.data_dir, sha, data)
        await record(request, "field_report.photo", rid, sha256=sha, size=len(data), content_type=found)
    return web.json_response(
        PhotoAdded(report_id=rid, sha256=sha, content_type=found, size=len(data)).model_dump(),
        status=201 if done == "added" else 200,
    )


async def get_field_report_photo(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    sha = request.match_info["sha256"]
    kind = await c.store.field_report_photo(sha)
    path = photo_path(c.settings.data_dir, sha)
    if kind is None or not path.exists():
        raise not_found(f"photo {sha}")
    return web.Response(body=path.read_bytes(), content_type=kind)
