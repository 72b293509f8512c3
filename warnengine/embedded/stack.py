"""Everything `warnengine up` runs on one machine: brokers (embedded where no URL is set), the database,
N worker processes. Tests and the demo use the same code, so they exercise what users run."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import aiohttp
import structlog

from warnengine.clock import SystemClock
from warnengine.db import connect, migrate
from warnengine.db.store import Store
from warnengine.directory import read_county
from warnengine.dispatch.in_use import credentialed
from warnengine.embedded.brokers import EmbeddedBrokers, free_port, port_free, spawn, wait_port
from warnengine.embedded.supervise import Supervisor
from warnengine.pipeline.kafka_admin import ensure_topics
from warnengine.settings import Settings
from warnengine.signing import load_or_create_signer
from warnengine.signing.sm2 import default_backend, load_or_create_sm2_signer
from warnengine.sim.scenario import load_scenario

log = structlog.get_logger("warnengine.stack")


class Stack:
    def __init__(self, settings: Settings, simulated_people: bool = False) -> None:
        self.settings = settings
        # `up` and `demo`: on the embedded default, simulated providers (tests choose their own channels)
        self.simulated_people = simulated_people
        self.brokers: EmbeddedBrokers | None = None
        self.workers: dict[int, subprocess.Popen[bytes]] = {}
        self.worker_ports: dict[int, int] = {}
        self.worker_roles: dict[int, str] = {}  # slot → role ("all" unless set by start_worker)
        self.extra_env: dict[str, str] = {}
        self.supervisor: Supervisor | None = None

    async def prepare(self, import_county: bool = True) -> None:
        """Start embedded brokers for unset URLs, migrate, load the county if empty, create topics and key."""
        s = self.settings
        if self.simulated_people:
            _check_scenario(s)  # before anything starts: a bad file is said once, with the field named
        s.data_dir.mkdir(parents=True, exist_ok=True)
        if not s.kafka_url or not s.mqtt_url:
            self.brokers = EmbeddedBrokers(
                s.data_dir,
                kafka_port=_preferred(s.embedded_kafka_port),
                mqtt_port=_preferred(s.embedded_mqtt_port),
                prefer_mosquitto=s.embedded_mqtt != "amqtt",
            )
            await asyncio.to_thread(self.brokers.start)
            _say_if_moved("MQTT", s.embedded_mqtt_port, self.brokers.mqtt_port)
            _say_if_moved("Kafka", s.embedded_kafka_port, self.brokers.kafka_port)
            updates: dict[str, object] = {}
            if not s.kafka_url:
                updates["kafka_url"] = self.brokers.kafka_url
            if not s.mqtt_url:
                updates["mqtt_url"] = self.brokers.mqtt_url
                updates["mqtt_protocol"] = self.brokers.mqtt_protocol
            self.settings = s = s.model_copy(update=updates)
            (s.data_dir / "endpoints.json").write_text(
                json.dumps(
                    {"kafka_url": s.kafka_url, "mqtt_url": s.mqtt_url, "mqtt_protocol": s.mqtt_protocol}
                )
            )
            log.info(
                "embedded_brokers", kafka=s.kafka_url, mqtt=s.mqtt_url, mqtt_broker=self.brokers.mqtt_kind
            )
        self.settings = s = _simulation(s, embedded=self.brokers is not None and self.simulated_people)
        load_or_create_signer(s.key_file())
        if default_backend() is not None:  # for terminals registered sm2-sm3; workers would create it too
            load_or_create_sm2_signer(s.sm2_key_file())
        engine = connect(s.db_url())
        await migrate(engine)
        store = Store(engine, SystemClock())
        try:
            if import_county and not await store.villages():
                county = await asyncio.to_thread(read_county, s.county_dir)
                await store.import_directory(**county.records())
                log.info(
                    "county_imported",
                    directory=str(s.county_dir),
                    cells=len(county.cells),
                    devices=len(county.devices),
                )
        finally:
            await store.close()
        await ensure_topics(s.kafka_bootstrap(), s.topic_partitions)

    async def demo_users(self) -> str | None:
        """On the embedded default (embedded brokers), demo users so a newcomer can log in to the console;
        what to tell the operator (None: not the embedded default, or real users exist)."""
        if self.brokers is None:
            return None
        from warnengine.embedded.demo_users import describe, ensure_demo_users

        store = Store(connect(self.settings.db_url()), SystemClock())
        try:
            demo = await ensure_demo_users(store, self.settings.data_dir)
        finally:
            await store.close()
        if demo is None:
            return None
        log.info("demo_users", file=str(demo.file), created=sorted(demo.created))
        return describe(demo)

    def env(self) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ)
        env.update(
            WARNENGINE_DATA_DIR=str(s.data_dir.resolve()),
            WARNENGINE_COUNTY_DIR=str(s.county_dir.resolve()),
            WARNENGINE_METEO_SIGNALS_FILE=str(s.meteo_signals_file.resolve()),
            WARNENGINE_KAFKA_URL=s.kafka_url or "",
            WARNENGINE_MQTT_URL=s.mqtt_url or "",
            WARNENGINE_MQTT_PROTOCOL=str(s.mqtt_protocol),
            WARNENGINE_DATABASE_URL=s.db_url(),
            WARNENGINE_SESSION_TIMEOUT_S=str(s.session_timeout_s),
            WARNENGINE_RESEND_AFTER_S=str(s.resend_after_s),
            WARNENGINE_GROUP_COMMANDS=str(s.group_commands).lower(),
            WARNENGINE_RECONCILE_INTERVAL_S=str(s.reconcile_interval_s),
            WARNENGINE_RECONCILE_GRACE_S=str(s.reconcile_grace_s),
            WARNENGINE_TOPIC_PARTITIONS=str(s.topic_partitions),
            WARNENGINE_SIGNING_KEY_FILE=str(s.key_file().resolve()),
            WARNENGINE_SM2_SIGNING_KEY_FILE=str(s.sm2_key_file().resolve()),
            WARNENGINE_CLOCK_SPEED=str(s.clock_speed),
            WARNENGINE_ESCALATE_INTERVAL_S=str(s.escalate_interval_s),
            WARNENGINE_TERMINAL_OFFLINE_AFTER_S=str(s.terminal_offline_after_s),
            WARNENGINE_SIMULATED_PROVIDERS=str(s.simulated_providers).lower(),
            WARNENGINE_SIM_SCENARIO=str(s.sim_scenario.resolve()),
        )
        if s.clock_epoch is not None:
            env["WARNENGINE_CLOCK_EPOCH"] = repr(s.clock_epoch)
        if s.trust_file:
            env["WARNENGINE_TRUST_FILE"] = str(s.trust_file.resolve())
        env.update(_mqtt_security_env(s))
        env.update(self.extra_env)
        return env

    def start_worker(self, n: int, role: str | None = None) -> subprocess.Popen[bytes]:
        """Worker slot `n` (same port and MQTT session ids when restarted), with its role: "all",
        "dispatch" or "acks" (Settings.worker_role); a restart keeps the slot's role."""
        role = self.worker_roles[n] = role or self.worker_roles.get(n) or self.settings.worker_role
        port = self.worker_ports.get(n)
        if port is None:
            wanted = self.settings.web_port + n
            port = wanted if self.settings.web_port and port_free(wanted) else free_port()
            self.worker_ports[n] = port
        env = self.env()
        env["WARNENGINE_WEB_PORT"] = str(port)
        env["WARNENGINE_WORKER_ID"] = f"{self.settings.app_id}-{n}"
        env["WARNENGINE_WORKER_ROLE"] = role
        proc = spawn(
            [sys.executable, "-m", "warnengine", "worker"],
            self.settings.data_dir / "logs" / f"worker-{n}.log",
            env=env,
        )
        self.workers[n] = proc
        return proc

    async def wait_ready(self, n: int, timeout: float = 90.0) -> None:
        """Wait for worker n's /ready (resources up, partitions assigned)."""
        url = f"http://127.0.0.1:{self.worker_ports[n]}/ready"
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while time.monotonic() < deadline:
                proc = self.workers[n]
                if proc.poll() is not None:
                    raise RuntimeError(f"worker {n} exited with {proc.returncode}; see {self.worker_log(n)}")
                try:
                    async with http.get(url) as r:
                        if r.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.25)
        raise TimeoutError(f"worker {n} not ready after {timeout}s; see {self.worker_log(n)}")

    def worker_log(self, n: int) -> Path:
        return self.settings.data_dir / "logs" / f"worker-{n}.log"

    def kill_worker(self, n: int) -> None:
        proc = self.workers.pop(n)
        proc.kill()
        proc.wait()

    def supervise(self) -> Supervisor:
        """Restart brokers and workers that exit (same ports). Opt-in: `up` uses it; tests that kill a
        worker on purpose to watch a rebalance do not."""
        sup = self.supervisor = Supervisor()
        if self.brokers and self.brokers.procs:
            sup.adopt(
                "kafka", self.brokers.procs[0], self._restart_kafka, after_restart=self._kafka_restarted
            )
            if self.brokers.with_mqtt and len(self.brokers.procs) > 1:
                sup.adopt("mqtt", self.brokers.procs[1], self._restart_mqtt)
        for n, proc in self.workers.items():
            sup.adopt(f"worker-{n}", proc, partial(self.start_worker, n))
        return sup

    def _restart_kafka(self) -> subprocess.Popen[bytes]:
        assert self.brokers is not None
        proc = self.brokers.start_kafka()
        self.brokers.procs[0] = proc
        wait_port(self.brokers.kafka_port, proc=proc)
        return proc

    def _restart_mqtt(self) -> subprocess.Popen[bytes]:
        assert self.brokers is not None
        proc = self.brokers.start_mqtt()
        self.brokers.procs[1] = proc
        wait_port(self.brokers.mqtt_port, proc=proc)
        return proc

    def _kafka_restarted(self) -> None:
        """Tansu keeps topics in memory (its CLI offers memory, S3 or PostgreSQL storage only), so a
        restarted broker is empty: recreate the topics, then restart the workers, whose consumer group
        offsets and producer ids now refer to nothing (producing fails until they start afresh). The
        database is the record: restarted workers and the reconciler carry on from it."""
        assert self.supervisor is not None
        asyncio.run(ensure_topics(self.settings.kafka_bootstrap(), self.settings.topic_partitions))
        log.warning(
            "kafka_topics_recreated",
            message="Kafka 代理已重启：已重建主题，正在重启工作进程 / "
            "Kafka broker restarted: topics recreated, restarting workers",
        )
        for n in list(self.workers):
            self.supervisor.restart_now(f"worker-{n}")

    def stop(self) -> None:
        if self.supervisor is not None:  # stops what it owns too (terminal farm), last started first
            self.supervisor.stop()
        for proc in self.workers.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.workers.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.workers.clear()
        if self.brokers:
            self.brokers.stop()


def _check_scenario(s: Settings) -> None:
    """The simulated population's scenario, when it will be used (raises ScenarioError naming the field)."""
    off = "simulated_providers" in s.model_fields_set and not s.simulated_providers
    if not off and not credentialed(s.channels_file):
        load_scenario(s.sim_scenario)


def _simulation(s: Settings, embedded: bool) -> Settings:
    """On the embedded default, simulated providers unless WARNENGINE_SIMULATED_PROVIDERS says otherwise
    (a worker still uses real providers when their credentials are set); an accelerated clock gets one
    epoch for every process of the stack, so they agree on the engine time."""
    update: dict[str, object] = {}
    if embedded and "simulated_providers" not in s.model_fields_set:
        update["simulated_providers"] = True
    if s.clock_speed != 1.0 and s.clock_epoch is None:
        update["clock_epoch"] = time.time()
    return s.model_copy(update=update) if update else s


def _preferred(port: int) -> int:
    """The configured port when it is free; 0 (any free port) when it is taken or unset."""
    return port if port and port_free(port) else 0


def _say_if_moved(what: str, wanted: int, got: int) -> None:
    """Loudly (stderr and log): the configured port was taken, so the broker listens elsewhere."""
    if not wanted or wanted == got:
        return
    text = (
        f"端口 {wanted} 已被占用，嵌入式 {what} 代理改用端口 {got} / "
        f"port {wanted} is taken: the embedded {what} broker listens on {got} instead"
    )
    print(f"WARNING: {text}", file=sys.stderr, flush=True)
    log.warning("embedded_port_taken", broker=what, wanted=wanted, port=got, message=text)


def _mqtt_security_env(s: Settings) -> dict[str, str]:
    """The engine's MQTT login and TLS as the workers read them (an external, secured broker)."""
    env = {"WARNENGINE_MQTT_TLS": "true"} if s.mqtt_tls else {}
    files = {
        "CA_FILE": s.mqtt_ca_file,
        "CERT_FILE": s.mqtt_cert_file,
        "KEY_FILE": s.mqtt_key_file,
        "PASSWORD_FILE": s.mqtt_password_file,
    }
    env.update({f"WARNENGINE_MQTT_{k}": str(v.resolve()) for k, v in files.items() if v is not None})
    if s.mqtt_username:
        env["WARNENGINE_MQTT_USERNAME"] = s.mqtt_username
    if s.mqtt_password is not None:
        env["WARNENGINE_MQTT_PASSWORD"] = s.mqtt_password.get_secret_value()
    return env
