"""deploy/: Compose and Kubernetes files parse, and say only what warnengine understands.

Docker and a cluster are not available here, so these check the contract between the files and the code:
every WARNENGINE_* variable is a real setting, commands are real CLI commands, topics match the code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from warnengine.cli.main import build_parser
from warnengine.pipeline.kafka_admin import all_topics
from warnengine.settings import Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
K8S = sorted((DEPLOY / "k8s").glob("*.yaml"))


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc


def k8s_docs() -> list[dict[str, Any]]:
    return [d for p in K8S for d in yaml.safe_load_all(p.read_text()) if d]


def settings_env(env: dict[str, str]) -> Settings:
    """Settings exactly as a worker would build them from this environment."""
    for key in env:
        if key.startswith("WARNENGINE_"):
            field = key.removeprefix("WARNENGINE_").lower()
            assert field in Settings.model_fields, f"{key} is not a setting in warnengine/settings.py"
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        return Settings()


def assert_engine_mqtt_is_authenticated(st: Settings) -> None:
    """TLS with a CA, the engine's own user, a password from a mounted secret file (never inline)."""
    assert st.mqtt_url and st.mqtt_url.startswith("mqtts://warnengine@")
    assert st.mqtt_ca_file is not None and st.mqtt_password_file is not None
    assert st.mqtt_password is None


def warnengine_services(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in doc["services"].items() if str(s.get("image", "")).startswith("warnengine")}


def test_compose_runs_the_production_parts_and_several_workers() -> None:
    doc = compose()
    services = doc["services"]
    assert {"kafka", "mosquitto", "postgres", "prometheus", "grafana", "init"} <= set(services)
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    workers = {n: s for n, s in warnengine_services(doc).items() if s["command"] == ["warnengine", "worker"]}
    assert len(workers) >= 2
    ids = [s["environment"]["WARNENGINE_WORKER_ID"] for s in workers.values()]
    assert len(set(ids)) == len(ids), "every worker needs its own WARNENGINE_WORKER_ID"
    secrets = doc["secrets"]
    for name, s in workers.items():
        for secret in s["secrets"]:  # mounted at /run/secrets/<name>
            assert secret in secrets, name
        env = {k: str(v) for k, v in s["environment"].items()}
        assert {f"/run/secrets/{x}" for x in s["secrets"]} >= {
            env["WARNENGINE_MQTT_CA_FILE"],
            env["WARNENGINE_MQTT_PASSWORD_FILE"],
        }
        st = settings_env(env)
        assert st.db_url().startswith("postgresql+asyncpg://"), name
        assert st.kafka_bootstrap() == "kafka:9092"
        assert st.mqtt_host_port() == ("mosquitto", 8883)
        assert_engine_mqtt_is_authenticated(st)
        assert st.web_host == "0.0.0.0" and st.web_port == 6066  # Prometheus must reach /metrics
        assert "warnengine-workers" in s["networks"]["default"]["aliases"]


def test_compose_init_and_topics_match_the_code() -> None:
    doc = compose()
    init = doc["services"]["init"]
    settings_env({k: str(v) for k, v in init["environment"].items()})
    script = init["command"][0]
    parser = build_parser()
    for line in script.splitlines():
        line = line.strip()
        if line.startswith("warnengine "):
            parser.parse_args(line.split()[1:])  # exits (fails the test) on an unknown command
    created = re.findall(
        r"\b(feed\.\w+|warnings|village-tasks|acks\.app|acks|channel-events|dead-letter)\b",
        str(doc["services"]),
    )
    assert {f"warnengine.{t}" for t in created} == set(all_topics())


def test_compose_scrapes_workers_the_way_prometheus_yml_says() -> None:
    prom = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "warnengine")
    assert job["dns_sd_configs"][0]["names"] == ["warnengine-workers"]
    assert job["dns_sd_configs"][0]["port"] == 6066
    mounts = compose()["services"]["prometheus"]["volumes"]
    assert "./prometheus:/etc/prometheus:ro" in mounts


def test_k8s_workers_are_a_statefulset_with_probes_and_scrape_annotations() -> None:
    docs = k8s_docs()
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("StatefulSet", "warnengine-worker") in kinds
    assert ("Job", "warnengine-db-upgrade") in kinds
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    pod = sts["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "6066"
    c = pod["spec"]["containers"][0]
    assert c["command"] == ["warnengine", "worker"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert c["ports"][0]["containerPort"] == 6066
    env = {e["name"]: e for e in c["env"]}
    assert env["WARNENGINE_WORKER_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "warnengine")
    secret = next(d for d in docs if d["kind"] == "Secret")
    values = {**config["data"], "WARNENGINE_DATABASE_URL": secret["stringData"]["WARNENGINE_DATABASE_URL"]}
    st = settings_env({k: str(v) for k, v in values.items()})
    assert st.db_url().startswith("postgresql+asyncpg://")
    assert len(st.kafka_bootstrap().split(",")) == 3
    assert_engine_mqtt_is_authenticated(st)  # the broker is in another pod
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    for path in (st.mqtt_ca_file, st.mqtt_password_file):
        assert path is not None and str(path.parent) in mounts, path
        secret = volumes[mounts[str(path.parent)]]["secret"]["secretName"]
        assert any(d["kind"] == "Secret" and d["metadata"]["name"] == secret for d in docs)
    job = next(d for d in docs if d["kind"] == "Job")
    cmd = job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert cmd[0] == "warnengine"
    build_parser().parse_args(cmd[1:])
    for ref in re.findall(r"WARNENGINE_\w+", str(docs)):
        assert ref.removeprefix("WARNENGINE_").lower() in Settings.model_fields, ref
