"""`warnengine demo` and `up` with a bad simulated-population file (issue 21): refused before anything
starts, exit 2, the field named on stderr, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BAD = {
    "unknown.yaml": ("county: {dir: config/county}\nnever_replyy: 0.3\n", "never_replyy"),
    "shares.yaml": (
        "county: {dir: config/county}\nvisit_outcomes: {reached: 0.9, moved: 0.3}\n",
        "add up to 1.2",
    ),
}


@pytest.mark.parametrize("command", ["demo", "up"])
@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_scenario_is_refused_with_the_field(tmp_path: Path, command: str, name: str) -> None:
    text, says = BAD[name]
    scenario = tmp_path / name
    scenario.write_text(text)
    env = {**os.environ, "WARNENGINE_SIM_SCENARIO": str(scenario)}
    for k in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "WARNENGINE_SIMULATED_PROVIDERS"):
        env.pop(k, None)
    proc = subprocess.run(
        [sys.executable, "-m", "warnengine", "--data-dir", str(tmp_path / "var"), command],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and str(scenario) in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "var" / "endpoints.json").exists()  # no broker was started
