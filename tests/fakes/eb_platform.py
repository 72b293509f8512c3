"""A local county emergency-broadcast platform (县级应急广播平台) as warnengine's EB adapter meets it.

`POST /eb/ebd` takes an EBD package (multipart field `file`, or the tar as the body): a tar of
`EBDB_<EBDID>.xml` and `EBDS_EBDB_<EBDID>.xml`. It checks the detached signature against the release
side's configured public key and certificate serial with gmssl (an SM2/SM3 implementation that is not
warnengine's wrapper), then answers a signed EBDResponse tar: 1 received, 2 not a tar/XML, 4 signature
failure. For an EBM it then reports back the way the platforms do, by posting signed packages to the
release side's report URL (`report_url`, or the EBD's SRC/URL): EBRDTState for the terminals of the
covered areas, EBMStateResponse 2 (播发中), then 3 (播发成功) with CoverageRate per area. Each report's
EBDResponse from warnengine is kept in `report_answers`.

Faults (change them while it runs): `down` (connection refused, via FakeServer.set_down), `hang_s`
(answer that late: the client's timeout), `errors` (the next n requests get 503), `garbage_answer`
(answer bytes that are not a tar), `forge_reports` (answers and reports signed with a key that is not
the platform's), `coverage` (area → percent, partial coverage), `faulty` (terminals reported 3 故障),
`final_state` (the last BrdStateCode: 4 failed, 5 cancelled), `log_only` (the final state comes in a
broadcast log, EBMBrdLog, instead of an EBMStateResponse).
"""

from __future__ import annotations

import asyncio
import base64
import io
import secrets
import tarfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web
from gmssl import sm2 as gm

from tests.fakes.faults import FakeServer
from warnengine.wire.eb import (
    CST,
    AreaCoverage,
    BadEbd,
    Body,
    BroadcastLog,
    Ebd,
    EbdResponse,
    Ebm,
    EbmState,
    Header,
    TerminalState,
    TerminalStates,
    ebd_id,
    to_xml,
)
from warnengine.wire.eb_parse import parse_ebd, parse_signature_xml

PLATFORM_EBRID = "30000000000001020000001"  # 23 digits: the county platform's resource code
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


class GmKey:
    """An SM2 key pair held by gmssl (never warnengine's signing module)."""

    def __init__(self) -> None:
        self.private = f"{secrets.randbelow(N - 2) + 1:064x}"
        c = gm.CryptSM2(private_key=self.private, public_key="")
        self.public: str = c._kg(int(self.private, 16), gm.default_ecc_table["g"])
        self._crypt = _crypt(self.private, self.public)

    def sign(self, data: bytes) -> bytes:
        while True:
            sig = self._crypt.sign_with_sm3(data, f"{secrets.randbelow(N - 1) + 1:064x}")
            if sig:
                return bytes.fromhex(sig)


def _crypt(private: str, public: str) -> Any:
    c = gm.CryptSM2(private_key=private, public_key="")
    c.public_key = public  # the constructor strips leading 0/4 digits from the key
    return c


def gm_verify(public: str, data: bytes, sig: bytes) -> bool:
    if len(sig) != 64:
        return False
    key = public.removeprefix("04")
    try:
        return bool(_crypt("", key).verify_with_sm3(sig.hex(), data))
    except TypeError:
        # gmssl's Jacobian point addition returns None for rare scalars (seen once in ~1,300 tests) and then
        # crashes: a second implementation decides that signature instead of failing the test at random.
        from gmalglib.sm2 import SM2

        return bool(SM2(pk=bytes.fromhex("04" + key)).verify(data, sig))


@dataclass
class FakeEbPlatform:
    engine_public_key: str  # the release side's SM2 public key (hex) the platform is configured with
    engine_cert_sn: str | None = None
    terminals: dict[str, list[str]] = field(default_factory=dict)  # area code → terminal EBRIDs
    report_url: str | None = None
    report_delay_s: float = 0.05
    # faults
    hang_s: float = 0.0
    errors: int = 0
    garbage_answer: bool = False
    forge_reports: bool = False
    coverage: dict[str, float] = field(default_factory=dict)
    faulty: set[str] = field(default_factory=set)
    final_state: int = 3
    log_only: bool = False  # the final state only in a broadcast log (EBMBrdLog), not an EBMStateResponse
    # what happened
    received: list[Ebd] = field(default_factory=list)  # every package whose signature verified
    refused: list[tuple[int, str]] = field(default_factory=list)  # (ResultCode, why)
    report_answers: list[EbdResponse] = field(default_factory=list)
    requests: int = 0

    def __post_init__(self) -> None:
        self.key = GmKey()
        self._forger = GmKey()
        self._seq = 0
        app = web.Application()
        app.router.add_post("/eb/ebd", self._receive)
        self.server = FakeServer(app)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/eb/ebd"

    @property
    def public_key(self) -> str:
        return self.key.public

    async def __aenter__(self) -> FakeEbPlatform:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.server.stop()

    async def settle(self) -> None:
        """Wait until every report scheduled so far was posted."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- the package endpoint -----------------------------------------------------------------------

    async def _receive(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
        if self.errors > 0:
            self.errors -= 1
            return web.Response(status=503, text="busy")
        raw = await _file_part(request)
        code, why, ebd = self._check(raw)
        if code != 1:
            self.refused.append((code, why))
        elif ebd is not None:
            self.received.append(ebd)
            if isinstance(ebd.body, Ebm):
                self._spawn(self._report(ebd))
        if self.garbage_answer:
            return web.Response(body=b"<html>gateway</html>", content_type="text/html")
        answer = self.package(EbdResponse(code, why), ebd.header.ebd_id if ebd else None)
        return web.Response(body=answer, content_type="application/x-tar")

    def _check(self, raw: bytes) -> tuple[int, str, Ebd | None]:
        try:
            files = _untar(raw)
            (ebdid,) = [n[5:-4] for n in files if n.startswith("EBDB_") and n.endswith(".xml")]
            ebdb, sig = files[f"EBDB_{ebdid}.xml"], parse_signature_xml(files[f"EBDS_EBDB_{ebdid}.xml"])
        except (tarfile.TarError, ValueError, KeyError, BadEbd) as e:
            return 2, f"接收解析失败 {e!r}"[:200], None
        if self.engine_cert_sn is not None and sig.get("CertSN") != self.engine_cert_sn:
            return 4, "签名验证失败 unknown certificate", None
        if sig["EBDID"] != ebdid or not gm_verify(
            self.engine_public_key, ebdb, base64.b64decode(sig["SignatureValue"])
        ):
            return 4, "签名验证失败", None
        try:
            return 1, "已接收完成", parse_ebd(ebdb)
        except BadEbd as e:
            return 3, f"数据内容缺失 {e.reason}", None

    # --- reports back --------------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report(self, ebd: Ebd) -> None:
        ebm = ebd.body
        assert isinstance(ebm, Ebm)
        url = self.report_url or ebd.header.src_url
        if not url:
            return
        await asyncio.sleep(self.report_delay_s)
        now = datetime.now(CST).replace(microsecond=0)
        ids = [t for a in ebm.area_codes for t in self.terminals.get(a, [])]
        states = tuple(TerminalState(t, 3 if t in self.faulty else 5, "", now) for t in ids)
        await self.post_report(url, TerminalStates(states))
        await self.post_report(url, EbmState(ebm.ebm_id, now, 2, "播发中"))
        await asyncio.sleep(self.report_delay_s)
        cover = tuple(AreaCoverage(a, self.coverage.get(a, 100.0)) for a in ebm.area_codes)
        final = EbmState(ebm.ebm_id, now, self.final_state, "播发结束", cover)
        await self.post_report(url, BroadcastLog((final,)) if self.log_only else final)

    async def post_report(self, url: str, body: Body) -> EbdResponse | None:
        """Post one signed report package; keep and return warnengine's EBDResponse."""
        form = aiohttp.FormData()
        form.add_field("file", self.package(body), filename="EBDT.tar", content_type="application/x-tar")
        async with aiohttp.ClientSession() as s, s.post(url, data=form) as resp:
            raw = await resp.read()
        try:
            files = _untar(raw)
            (name,) = [n for n in files if n.startswith("EBDB_")]
            answer = parse_ebd(files[name]).body
        except (tarfile.TarError, ValueError, BadEbd):
            return None
        assert isinstance(answer, EbdResponse)
        self.report_answers.append(answer)
        return answer

    def package(self, body: Body, related: str | None = None, *, dest: str = "0" * 23) -> bytes:
        """A signed EBD package from the platform (signed by a stranger when `forge_reports`)."""
        self._seq += 1
        now = datetime.now(CST).replace(microsecond=0)
        kind = {
            EbdResponse: "EBDResponse",
            EbmState: "EBMStateResponse",
            TerminalStates: "EBRDTState",
            BroadcastLog: "EBMBrdLog",
        }
        ebdid = ebd_id(PLATFORM_EBRID, now.date(), self._seq)
        ebdb = to_xml(Ebd(Header(ebdid, kind[type(body)], PLATFORM_EBRID, dest, now, related), body))
        key = self._forger if self.forge_reports else self.key
        sig = (
            '<?xml version="1.0" encoding="utf-8"?><Signature><Version>1.0</Version>'
            f"<RelatedEBD><EBDID>{ebdid}</EBDID></RelatedEBD><SignatureCert><CertType>1</CertType>"
            "<IssuerID>000000000001</IssuerID><CertSN>000000000002</CertSN></SignatureCert>"
            f"<SignatureTime>{int(now.timestamp()):08x}</SignatureTime><DigestAlgorithm>SM3</DigestAlgorithm>"
            "<SignatureAlgorithm>SM2</SignatureAlgorithm>"
            f"<SignatureValue>{base64.b64encode(key.sign(ebdb)).decode()}</SignatureValue></Signature>"
        ).encode()
        return make_tar({f"EBDB_{ebdid}.xml": ebdb, f"EBDS_EBDB_{ebdid}.xml": sig})


def _untar(raw: bytes) -> dict[str, bytes]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
        for m in tar.getmembers():
            f = tar.extractfile(m)
            if f is not None:
                out[m.name] = f.read()
    return out


def make_tar(files: dict[str, bytes]) -> bytes:
    """A plain tar of `files` (name → bytes), as a platform packs."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


async def _file_part(request: web.Request) -> bytes:
    if not request.content_type.startswith("multipart/"):
        return await request.read()
    async for part in await request.multipart():
        if isinstance(part, aiohttp.BodyPartReader) and part.name == "file":
            return bytes(await part.read(decode=False))
    return b""
