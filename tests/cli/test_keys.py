"""`warnengine keys` as an operator runs it: rotate, activate, retire, each saying whether it changed
anything; the engine signs with the new key id only after activation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from warnengine.cli.main import build_parser
from warnengine.settings import Settings
from warnengine.signing import load_or_create_signer, load_verifiers
from warnengine.signing.rotation import ensure_key, key_set, trusted_public_keys


def keys(capsys: pytest.CaptureFixture[str], data_dir: Path, *argv: str) -> tuple[int, dict[str, Any], str]:
    args = build_parser().parse_args(["--data-dir", str(data_dir), "keys", *argv, "--json"])
    code = args.fn(args)
    out, err = capsys.readouterr()
    result = json.loads(out) if out else {}
    if "changed" in result:
        assert "nothing changed" in result.pop("message") or result["changed"]
    return code, result, err


def test_rotation_by_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "var"
    s = Settings(data_dir=data)
    old, _ = ensure_key(key_set(s))  # what `warnengine init` made
    old_cmd = load_or_create_signer(s.key_file()).sign({"cmd_id": "1"})

    code, rotated, _ = keys(capsys, data, "rotate")
    assert code == 0 and rotated["changed"]
    new = rotated["pending"]
    assert keys(capsys, data, "rotate")[1] == {**rotated, "changed": False}
    assert load_or_create_signer(s.key_file()).key_id == old  # not signing with it yet

    code, activated, _ = keys(capsys, data, "rotate", "--activate")
    assert code == 0 and activated == {"changed": True, "old": old, "active": new}
    assert keys(capsys, data, "rotate", "--activate")[1] == {"changed": False}
    new_cmd = load_or_create_signer(s.key_file()).sign({"cmd_id": "2"})
    assert new_cmd["key_id"] == new

    code, st, _ = keys(capsys, data, "status")
    ed = st["keys"][0]
    assert (ed["active"], ed["pending"], sorted(ed["published"])) == (new, None, sorted([old, new]))
    both = load_verifiers(trusted_public_keys(s))
    assert both.verify(old_cmd) is None and both.verify(new_cmd) is None

    code, retired, _ = keys(capsys, data, "retire", old)
    assert code == 0 and retired["changed"]
    assert keys(capsys, data, "retire", old)[1] == {"changed": False, "removed": []}
    only_new = load_verifiers(trusted_public_keys(s))
    assert only_new.verify(old_cmd) == "unknown_key" and only_new.verify(new_cmd) is None
    assert (data / "keys" / "retired" / f"engine.key.{old}").exists()  # no --destroy-private


def test_retiring_the_active_key_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "var"
    active, _ = ensure_key(key_set(Settings(data_dir=data)))
    code, out, err = keys(capsys, data, "retire", active)
    assert code == 2 and out == {} and err.count("\n") == 1 and "active" in err
    assert keys(capsys, data, "status")[1]["keys"][0]["published"] == [active]


def test_rotate_before_init_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = keys(capsys, tmp_path / "var", "rotate")
    assert code == 2 and err.count("\n") == 1 and "warnengine init" in err
