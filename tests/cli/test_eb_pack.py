"""`warnengine eb pack`: the package a platform would get, checked with signature code that is not ours —
the `openssl` command line (SM2 with SM3 and the default signer ID) and gmssl — and read back field by
field."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.eb_platform import gm_verify
from warnengine.cli.main import build_parser
from warnengine.signing.sm2_keys import sm2_public_pem
from warnengine.wire.eb import Ebm
from warnengine.wire.eb_parse import parse_ebd, parse_signature_xml

SAMPLES = Path(__file__).parents[1] / "normalise" / "samples"
EBRID = "33411220000000100000001"


def run_pack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp: Path, file: Path, *extra: str
) -> tuple[int, dict[str, Any], str]:
    monkeypatch.setenv("WARNENGINE_EB_SRC_EBRID", EBRID)
    monkeypatch.setenv("WARNENGINE_EB_CERT_SN", "000000003363")
    out = tmp / "pkg.tar"
    argv = ["--data-dir", str(tmp / "var"), "eb", "pack", str(file), "--out", str(out), "--json", *extra]
    args = build_parser().parse_args(argv)
    code = args.fn(args)
    stdout, err = capsys.readouterr()
    return code, json.loads(stdout) if stdout else {}, err


def members(tar: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers()}  # type: ignore[union-attr]


def der_signature(raw: bytes) -> bytes:
    def der_int(v: int) -> bytes:
        b = v.to_bytes(32, "big").lstrip(b"\0") or b"\0"
        b = b"\0" + b if b[0] & 0x80 else b
        return b"\x02" + bytes([len(b)]) + b

    ints = der_int(int.from_bytes(raw[:32], "big")) + der_int(int.from_bytes(raw[32:], "big"))
    return b"\x30" + bytes([len(ints)]) + ints


def test_pack_a_national_warning_verified_by_openssl_and_gmssl(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sample = SAMPLES / "cn_national_ewrs_henan_gale_blue_update_non-cap.xml"
    code, result, err = run_pack(monkeypatch, capsys, tmp_path, sample)
    assert code == 0, err
    assert set(result) == {"ebdid", "ebm_id", "area_codes", "public_key_hex"}
    files = members((tmp_path / "pkg.tar").read_bytes())
    ebdid = result["ebdid"]
    assert sorted(files) == [f"EBDB_{ebdid}.xml", f"EBDS_EBDB_{ebdid}.xml"]
    ebdb, sig = files[f"EBDB_{ebdid}.xml"], parse_signature_xml(files[f"EBDS_EBDB_{ebdid}.xml"])
    assert (sig["EBDID"], sig["CertSN"], sig["DigestAlgorithm"], sig["SignatureAlgorithm"]) == (
        ebdid,
        "000000003363",
        "SM3",
        "SM2",
    )
    raw = base64.b64decode(sig["SignatureValue"])
    assert gm_verify(result["public_key_hex"], ebdb, raw)  # gmssl
    assert not gm_verify(result["public_key_hex"], ebdb + b" ", raw)

    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is missing (Debian package openssl)")
    (tmp_path / "pub.pem").write_bytes(sm2_public_pem(result["public_key_hex"]))
    (tmp_path / "sig.der").write_bytes(der_signature(raw))
    (tmp_path / "ebdb.xml").write_bytes(ebdb)
    cmd = ["openssl", "dgst", "-sm3", "-sigopt", "distid:1234567812345678", "-verify"]
    cmd += [str(tmp_path / "pub.pem"), "-signature", str(tmp_path / "sig.der"), str(tmp_path / "ebdb.xml")]
    done = subprocess.run(cmd, capture_output=True, check=False, timeout=30)
    assert b"Verified OK" in done.stdout, done.stderr

    ebd = parse_ebd(ebdb)
    ebm = ebd.body
    assert isinstance(ebm, Ebm) and ebd.header.ebd_type == "EBM" and ebd.header.src_ebrid == EBRID
    assert ebm.ebm_id == result["ebm_id"] and list(ebm.area_codes) == result["area_codes"]
    assert ebm.severity == "4" and ebm.event_type == "11B00" and ebm.msg_type == "1"  # blue gale
    assert ebm.text and ebm.sender_code == EBRID


def test_pack_with_areas_given_and_bad_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cap = SAMPLES / "oasis_cap12_spec_appendix_A1.xml"
    code, result, _ = run_pack(
        monkeypatch, capsys, tmp_path, cap, "--area", "341122100201", "--area", "341122"
    )
    assert code == 0 and result["area_codes"] == ["341122000000", "341122100201"]
    code, _, err = run_pack(monkeypatch, capsys, tmp_path, cap, "--area", "34x")
    assert code == 2 and "34x" in err
    bad = tmp_path / "bad.xml"
    bad.write_text("<not-cap/>")
    code, _, err = run_pack(monkeypatch, capsys, tmp_path, bad)
    assert code == 2 and "bad.xml" in err
    args = build_parser().parse_args(["--data-dir", str(tmp_path), "eb", "pack", str(cap), "--out", "x.tar"])
    assert args.fn(args) == 2  # a CAP alert with polygons only: no area code
    assert "give --area" in capsys.readouterr().err
    monkeypatch.delenv("WARNENGINE_EB_SRC_EBRID")
    argv = ["--data-dir", str(tmp_path), "eb", "pack", str(cap), "--out", "x.tar", "--area", "341122"]
    args = build_parser().parse_args(argv)
    assert args.fn(args) == 2
    assert "WARNENGINE_EB_SRC_EBRID" in capsys.readouterr().err
