"""The monitoring config is checked by Prometheus's own tool, and names only what the code exports.

promtool is required, not optional: CI installs it (Debian package `prometheus`, /usr/bin/promtool).
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from warnengine.obs import metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROM = DEPLOY / "prometheus"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
SYNTHETIC = {"up"}  # series Prometheus itself adds to every target
EXTRA_LABELS = {"instance", "job", "le"}  # target labels, and the histogram bucket label


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool not found: install the Debian package `prometheus` (apt-get install prometheus)"
    return found


def run_promtool(*args: str, stdin: bytes | None = None, cwd: Path = PROM) -> str:
    r = subprocess.run([promtool(), *args], input=stdin, capture_output=True, cwd=cwd, timeout=60)
    out = (r.stdout + r.stderr).decode()
    assert r.returncode == 0, f"promtool {' '.join(args)} failed:\n{out}"
    return out


# Modules that define metrics: warnengine.obs.metrics, and device health's terminal gauges beside their code.
METRIC_MODULES = (
    "warnengine.obs.metrics",
    "warnengine.devices.health",
    "warnengine.pipeline.resources",
    "warnengine.embedded.supervise",
    "channels.eb_platform",  # the EB platform adapter's own counters
)


def metric_objects() -> list[MetricWrapperBase]:
    for name in METRIC_MODULES:
        importlib.import_module(name)
    collectors = list(REGISTRY._collector_to_names)
    return [c for c in collectors if isinstance(c, MetricWrapperBase) and c._name.startswith("warnengine_")]


def exported() -> dict[str, set[str]]:
    """Every series name warnengine's /metrics can carry, with its label names."""
    out: dict[str, set[str]] = {}
    for obj in metric_objects():
        name, labels, kind = obj._name, set(obj._labelnames), obj._type
        suffixes = {
            "counter": ["_total", "_created"],
            "histogram": ["_bucket", "_sum", "_count", "_created"],
            "gauge": [""],
        }[str(kind)]
        for s in suffixes:
            out[name + s] = labels
    for lag in metrics.ConsumerLag(lambda: None).collect():
        out[lag.name] = {"topic"}
    # prometheus_client's default process_* / python_* collectors are on every worker's /metrics too.
    for fam in REGISTRY.collect():
        if not fam.name.startswith("warnengine_"):
            for sample in fam.samples:
                out.setdefault(sample.name, set(sample.labels))
    return out


def render_all_labels() -> bytes:
    """/metrics with a child for every labelled metric, rendered in a fresh interpreter."""
    code = (
        "import sys\n"
        "from prometheus_client import generate_latest\n"
        "from prometheus_client.metrics import MetricWrapperBase\n"
        "import importlib\n"
        "from prometheus_client import REGISTRY\n"
        "from warnengine.obs import metrics\n"
        f"for name in {METRIC_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "for m in list(REGISTRY._collector_to_names):\n"
        "    if isinstance(m, MetricWrapperBase) and m._labelnames:\n"
        "        m.labels(*['x'] * len(m._labelnames))\n"
        "metrics.DELIVERIES.labels('loudspeaker', 'mqtt-loudspeaker', 'sent').inc()\n"
        "metrics.TIME_TO_ACK.labels('loudspeaker').observe(3.2)\n"
        "metrics.watch_consumer(lambda: None)\n"
        "sys.stdout.buffer.write(generate_latest())\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, timeout=60).stdout


def test_promtool_check_metrics_on_every_metric() -> None:
    text = render_all_labels()
    for name in exported():
        if name.startswith("warnengine_") and not name.endswith("_created"):
            assert name.encode() in text, f"{name} missing from /metrics"
    run_promtool("check", "metrics", stdin=text)


def test_promtool_checks_config_rules_and_alert_unit_tests() -> None:
    run_promtool("check", "config", "prometheus.yml")
    out = run_promtool("check", "rules", "alerts.yml")
    assert "SUCCESS" in out
    run_promtool("test", "rules", "alerts_test.yml")


def _rule_exprs() -> Iterator[tuple[str, str]]:
    doc = yaml.safe_load((PROM / "alerts.yml").read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            yield f"alerts.yml:{rule.get('alert') or rule.get('record')}", rule["expr"]


def _panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for p in items:
        yield p
        yield from _panels(p.get("panels", []))


def _dashboard_exprs() -> Iterator[tuple[str, str]]:
    for path in DASHBOARDS:
        d = json.loads(path.read_text())
        for p in _panels(d["panels"]):
            for t in p.get("targets", []):
                if "expr" in t:
                    yield f"{path.name}:{p['title']}", t["expr"]


ALL_EXPRS = [*_rule_exprs(), *_dashboard_exprs()]
NAME = re.compile(r"(?<![\w\"'])([a-zA-Z_:][\w:]*)\s*(\{[^}]*\})?")
LABEL = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")


@pytest.mark.parametrize(("where", "expr"), ALL_EXPRS, ids=[w for w, _ in ALL_EXPRS])
def test_queries_name_only_exported_metrics_and_labels(where: str, expr: str) -> None:
    known = exported()
    used = []
    for m in NAME.finditer(expr):
        name, selector = m.group(1), m.group(2)
        if not (name.startswith(("warnengine_", "process_", "python_")) or name in SYNTHETIC):
            continue  # a function, keyword or label name
        used.append(name)
        if name in SYNTHETIC:
            continue
        assert name in known, f"{where}: {name} is not exported by warnengine.obs.metrics"
        for label in LABEL.findall(selector or ""):
            assert label in known[name] | EXTRA_LABELS, f"{where}: {name} has no label {label!r}"
    assert used, f"{where}: no metric in {expr!r}"


def test_every_dashboard_query_has_a_provisioned_datasource() -> None:
    prov = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/warnengine.yml").read_text())
    uids = {d["uid"] for d in prov["datasources"]}
    seen = set()
    assert {p.stem for p in DASHBOARDS} >= {
        "county-overview",
        "one-warning",
        "channels",
        "terminals",
        "pipeline-health",
    }
    for path in DASHBOARDS:
        d = json.loads(path.read_text())
        assert d["uid"] not in seen, f"{path.name}: duplicate uid"
        seen.add(d["uid"])
        for p in _panels(d["panels"]):
            assert p["datasource"]["uid"] in uids, f"{path.name}:{p['title']}"
            assert p["targets"], f"{path.name}:{p['title']} has no query"


def test_rule_selectors_reference_real_metric_names_in_this_parser() -> None:
    """Guard the checker itself: an unknown name or label in a query must be caught."""
    with pytest.raises(AssertionError, match="not exported"):
        test_queries_name_only_exported_metrics_and_labels("x", "rate(warnengine_nope_total[5m])")
    with pytest.raises(AssertionError, match="no label"):
        test_queries_name_only_exported_metrics_and_labels("x", 'warnengine_terminals{village="1"}')
