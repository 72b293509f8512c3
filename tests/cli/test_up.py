"""`warnengine up` as users run it: demo users printed once, a taken MQTT port said loudly, a clean stop,
and a second `up` in the same data directory starts its own brokers and reprints no password."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from warnengine.embedded.brokers import free_port


def run_up(data_dir: Path, county_dir: Path, mqtt_port: int) -> tuple[dict[str, object], str]:
    env = dict(os.environ)
    env.update(
        WARNENGINE_API_PORT=str(free_port()),
        WARNENGINE_WEB_PORT="0",
        WARNENGINE_EMBEDDED_KAFKA_PORT="0",
        WARNENGINE_EMBEDDED_MQTT_PORT=str(mqtt_port),
    )
    args = ["--data-dir", str(data_dir), "--county", str(county_dir), "up", "--no-terminals"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "warnengine", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        while line and not line.startswith("{"):  # log lines also go to stdout
            line = proc.stdout.readline()
        status = json.loads(line)
        deadline = time.monotonic() + 30
        while not (data_dir / "demo-users.json").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return status, err


def test_up_demo_users_and_taken_port(tmp_path: Path, small_county_dir: Path) -> None:
    data = tmp_path / "var"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        status, err = run_up(data, small_county_dir, port)
    assert f"port {port} is taken" in err and str(status["mqtt"]).rsplit(":", 1)[1] in err
    assert "demo-dispatcher: " in err and "demo-approver: " in err
    assert "restarts: {" in err
    saved = json.loads((data / "demo-users.json").read_text())
    password = saved[0]["password"]
    assert password in err

    status2, err2 = run_up(data, small_county_dir, 0)
    assert status2["kafka"] != "" and "demo users exist" in err2 and password not in err2
