"""The EB platform's documents and packages: every type round-trips; what a platform may send that is
not a document, not a package, or not one we take is refused with a bounded reason."""

from __future__ import annotations

import io
import tarfile
from datetime import UTC, date, datetime

import pytest

from warnengine.wire.eb import (
    AreaCoverage,
    BadEbd,
    Body,
    BroadcastLog,
    ConnectionCheck,
    Ebd,
    EbdResponse,
    Ebm,
    EbmState,
    Header,
    TerminalState,
    TerminalStates,
    connection_check_id,
    ebd_id,
    ebm_id,
    to_xml,
)
from warnengine.wire.eb_parse import parse_ebd
from warnengine.wire.eb_tar import MAX_PACKAGE_BYTES, Package, pack, unpack

EBRID = "33411220000000100000001"
NOW = datetime(2026, 7, 1, 8, 30, tzinfo=UTC)
EBM = Ebm(
    ebm_id=ebm_id(EBRID, date(2026, 7, 1), 7),
    msg_type="1",
    sender_name="某县应急管理局",
    sender_code=EBRID,
    sent_time=NOW,
    event_type="11B00",
    severity="1",
    start_time=NOW,
    end_time=None,
    title="暴雨红色预警",
    text="请立即转移 & 注意 <安全>",
    area_codes=("341122100201", "341122100202"),
    related_ebm_id="3" * 35,
    audio_url="http://10.0.0.1/a.mp3",
)
BODIES: list[Body] = [
    ConnectionCheck(NOW),
    EBM,
    EbdResponse(4, "签名验证失败"),
    EbmState(EBM.ebm_id, NOW, 3, "播发成功", (AreaCoverage("341122100201", 62.5),)),
    TerminalStates((TerminalState("4341122100201" + "1" * 10, 3, "故障", NOW),)),
    BroadcastLog((EbmState(EBM.ebm_id, NOW, 4, "部分失败", (AreaCoverage("341122100202", 10),)),)),
]
TYPES = ["ConnectionCheck", "EBM", "EBDResponse", "EBMStateResponse", "EBRDTState", "EBMBrdLog"]


def doc(body: Body, kind: str) -> bytes:
    return to_xml(Ebd(Header(ebd_id(EBRID, date(2026, 7, 1), 1), kind, EBRID, "0" * 23, NOW, "1" * 41), body))


def test_ids_have_the_standard_digit_formats() -> None:
    assert ebd_id(EBRID, date(2026, 7, 1), 12) == "10" + EBRID + "20260701" + "00000012"
    assert connection_check_id(EBRID) == "01" + EBRID + "0" * 16
    assert len(ebm_id(EBRID, date(2026, 7, 1), 3)) == 35
    with pytest.raises(ValueError):
        ebd_id("12345", date(2026, 7, 1), 1)


@pytest.mark.parametrize(("body", "kind"), list(zip(BODIES, TYPES, strict=True)))
def test_every_type_round_trips(body: Body, kind: str) -> None:
    ebd = parse_ebd(doc(body, kind))
    assert ebd.body == body and ebd.header.ebd_type == kind and ebd.header.related_ebd_id == "1" * 41


def test_a_namespaced_document_with_several_areas_in_one_coverage() -> None:
    raw = (
        '<?xml version="1.0" encoding="utf-8"?><EBD xmlns="http://www.w3.org/2001/XMLSchema">'
        "<EBDVersion>1.0</EBDVersion><EBDID>1</EBDID><EBDType>EBMStateResponse</EBDType>"
        "<SRC><EBRID>2</EBRID></SRC><DEST><EBRID>3</EBRID></DEST><EBDTime>2026-07-01 16:30:00</EBDTime>"
        "<EBMStateResponse><RptTime>2026-07-01 16:30:00</RptTime><EBM><EBMID>9</EBMID></EBM>"
        "<BrdStateCode>3</BrdStateCode><Coverage><CoverageRate>80%</CoverageRate>"
        "<AreaCode>341122100201，341122100202</AreaCode></Coverage></EBMStateResponse></EBD>"
    ).encode()
    body = parse_ebd(raw).body
    assert isinstance(body, EbmState)
    assert body.coverage == (AreaCoverage("341122100201", 80.0), AreaCoverage("341122100202", 80.0))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not xml", "eb_not_xml"),
        (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><EBD>&a;</EBD>', "eb_not_xml"),  # entities: refused unread
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><EBD>&e;</EBD>', "eb_not_xml"),
        (b"<Other/>", "eb_not_ebd"),
        (
            doc(ConnectionCheck(NOW), "ConnectionCheck").replace(b"ConnectionCheck", b"OMDRequest"),
            "eb_unknown_type",
        ),
        (doc(EbdResponse(1), "EBDResponse").replace(b"<ResultCode>1</ResultCode>", b""), "eb_data_missing"),
        (doc(EbdResponse(1), "EBDResponse").replace(b">1</ResultCode>", b">x</ResultCode>"), "eb_bad_field"),
        (doc(BODIES[3], "EBMStateResponse").replace(b">62.5<", b">150<"), "eb_bad_field"),
        (doc(BODIES[3], "EBMStateResponse").replace(b"2026-07-01 16:30:00", b"yesterday"), "eb_bad_field"),
    ],
)
def test_bad_documents(raw: bytes, reason: str) -> None:
    with pytest.raises(BadEbd) as caught:
        parse_ebd(raw)
    assert caught.value.reason == reason


def _tar(members: dict[str, bytes], kind: bytes = tarfile.REGTYPE) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.type = len(data), kind
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_package_round_trip_and_bad_packages() -> None:
    p = Package("1" * 41, b"<EBD/>", b"<Signature/>")
    assert unpack(pack(p)) == p
    cases = {
        "eb_bad_tar": [
            b"not a tar",
            _tar({"../EBDB_1.xml": b"x", "EBDS_EBDB_1.xml": b"y"}),  # a path, not a name
            _tar({"EBDB_1.xml": b"x", "EBDB_2.xml": b"x", "EBDS_EBDB_1.xml": b"y"}),
            _tar({"README": b"x"}),
            _tar({"EBDB_1.xml": b""}, tarfile.SYMTYPE),
        ],
        "eb_unsigned": [_tar({"EBDB_1.xml": b"x"})],
        "eb_too_large": [b"\0" * (MAX_PACKAGE_BYTES + 1)],
    }
    for reason, packages in cases.items():
        for raw in packages:
            with pytest.raises(BadEbd) as caught:
                unpack(raw)
            assert caught.value.reason == reason, raw[:40]
