"""`warnengine cap check`: verdicts per file (check.py) and the real console script."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.normalise.test_cap import NATIONAL_SAMPLES, PARSES, REJECTS, SAMPLES
from tests.normalise.test_feed_eew import EEW
from tests.normalise.test_signature import embedded_pems
from warnengine.cli.main import main
from warnengine.normalise import parse_feed
from warnengine.normalise.check import check_bytes, check_files, expand_paths, run
from warnengine.normalise.parse import MAX_FEED_BYTES

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "warnengine"  # the installed console script of this venv
KEYS = {"file", "verdict", "reason", "detail", "warning_id", "msg_type", "areas", "signature", "note"}


def expected(name: str) -> tuple[str, str | None]:
    if name in REJECTS:
        return "rejected", REJECTS[name]
    assert name in PARSES or name in NATIONAL_SAMPLES, name
    return "accepted", None


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.xml")), ids=lambda p: p.name)
def test_every_sample_gets_the_verdict_test_cap_asserts(path: Path) -> None:
    result = check_bytes(path.read_bytes(), path.name)
    assert set(result) == KEYS
    assert (result["verdict"], result["reason"]) == expected(path.name)
    if result["verdict"] == "rejected":
        assert result["detail"] and result["warning_id"] is None and result["areas"] is None
        return
    warning = parse_feed(path.read_bytes(), "check")
    assert result["detail"] is None
    assert (result["warning_id"], result["msg_type"], result["areas"]) == (
        warning.warning_id,
        warning.msg_type.value,
        len(warning.areas),
    )
    if path.name in PARSES:
        assert result["areas"] == PARSES[path.name].areas


def test_no_area_is_accepted_with_a_note() -> None:
    result = check_bytes((SAMPLES / "oasis_cap12_spec_appendix_A1.xml").read_bytes(), "a1")
    assert result["verdict"] == "accepted" and result["note"].startswith("no_area:")


def test_json_kind_picks_its_adapter(tmp_path: Path) -> None:
    (tmp_path / "eew.json").write_text(json.dumps(EEW))
    (tmp_path / "junk.json").write_bytes(b'{"kind": 3')
    (tmp_path / "readme.txt").write_text("not a feed file")
    results = list(check_files(expand_paths([tmp_path])))
    assert [Path(r["file"]).name for r in results] == ["eew.json", "junk.json"]
    assert results[0]["verdict"] == "accepted" and results[0]["msg_type"] == "Alert"
    assert results[1]["reason"] == "bad_json"


def test_oversized_file_is_not_read_whole(tmp_path: Path) -> None:
    big = tmp_path / "big.xml"
    big.write_bytes(b"<alert>" + b" " * (MAX_FEED_BYTES + 10) + b"</alert>")
    [result] = check_files([big])
    assert result["reason"] == "too_large" and str(big.stat().st_size) in result["detail"]


def run_in_process(*paths: Path, trust: Path | None = None) -> tuple[int, list[dict[str, Any]], str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(paths), trust_file=trust, as_json=True, out=out, err=err)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


@pytest.mark.parametrize("make", [lambda d: d / "missing.xml", lambda d: d])  # missing; a dir without files
def test_bad_paths_exit_1_and_check_nothing(tmp_path: Path, make: Any) -> None:
    code, results, err = run_in_process(SAMPLES / "oasis_cap12_spec_appendix_A2.xml", make(tmp_path))
    assert (code, results) == (1, []) and str(tmp_path) in err


def test_unloadable_trust_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "trust.yaml"
    bad.write_text("senders: {x: {certificates: []}}")
    code, results, err = run_in_process(SAMPLES, trust=bad)
    assert (code, results) == (2, []) and "trust file" in err


def script(*args: str) -> subprocess.CompletedProcess[str]:
    # Settings come from WARNENGINE_* variables: keep the developer's own out of the test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARNENGINE_")}
    return subprocess.run(
        [str(SCRIPT), "cap", "check", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


def test_console_script_json_over_all_samples(tmp_path: Path) -> None:
    ipaws = (SAMPLES / "us_ipaws-5e6dd9de023f1930ef6548d9_cancel_signed.xml").read_bytes()
    (tmp_path / "ipaws.pem").write_text(embedded_pems(ipaws)[0])
    trust = tmp_path / "trust.yaml"
    trust.write_text('senders: {"bbrundage@dps.state.nv.us": {certificates: [ipaws.pem]}}')
    done = script(str(SAMPLES), "--json", "--trust", str(trust))
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [Path(r["file"]).name for r in results] == sorted(p.name for p in SAMPLES.glob("*.xml"))
    for result in results:
        assert set(result) == KEYS
        assert (result["verdict"], result["reason"]) == expected(Path(result["file"]).name)
    by_name = {Path(r["file"]).name: r for r in results}
    # The trust file pins the IPAWS sender's certificate: checked and verified.
    assert by_name["us_ipaws-5e6dd9de023f1930ef6548d9_cancel_signed.xml"]["signature"] == "verified"


def test_console_script_human_lines() -> None:
    done = script(
        str(SAMPLES / "de_dwd_thunderstorm_update.xml"), str(SAMPLES / "oasis_cap12_spec_appendix_A2.xml")
    )
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0].startswith("rejected  ") and "cap_rule_violation: area[0]" in lines[0]
    assert lines[1].startswith("accepted  ") and "Alert w-" in lines[1]


@pytest.mark.parametrize(("args", "code"), [(["--no-such-flag", "x.xml"], 2), ([], 2), (["nope.xml"], 1)])
def test_cli_exit_codes(args: list[str], code: int, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["cap", "check", "--no-trust", *args])
    assert exited.value.code == code
    assert capsys.readouterr().out == ""
