"""WARNENGINE_MQTT_* → MqttSecurity; the password never in a repr, an error or a log line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import structlog
from pydantic import ValidationError

from warnengine.obs.log import RateLimitedLog
from warnengine.settings import Settings

SECRET = "s3cret-Pa55-word"


def settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for k, v in env.items():
        monkeypatch.setenv(f"WARNENGINE_{k.upper()}", v)
    return Settings()


def test_mqtts_url_with_a_user_and_a_password_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pw = tmp_path / "mqtt-password"
    pw.write_text(SECRET + "\n")
    s = settings(
        monkeypatch,
        mqtt_url="mqtts://warnengine@broker.mqtt:8883",
        mqtt_password_file=str(pw),
        mqtt_ca_file="/ca",
    )
    assert s.mqtt_host_port() == ("broker.mqtt", 8883)
    sec = s.mqtt_security()
    assert (sec.tls, sec.username, sec.ca_file) == (True, "warnengine", Path("/ca"))
    assert sec.password is not None and sec.password.get_secret_value() == SECRET
    assert SECRET not in repr(sec) and SECRET not in repr(s)


def test_separate_settings_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = Settings(mqtt_url="mqtt://127.0.0.1:1883").mqtt_security()  # the embedded default
    assert not plain.tls and plain.username is None and plain.password is None
    s = settings(
        monkeypatch, mqtt_url="mqtt://broker", mqtt_tls="true", mqtt_username="w", mqtt_password=SECRET
    )
    assert s.mqtt_host_port() == ("broker", 1883)
    sec = s.mqtt_security()
    assert sec.tls and sec.username == "w" and SECRET not in repr(s) and SECRET not in str(s)
    assert Settings(mqtt_url="mqtts://broker").mqtt_host_port() == ("broker", 8883)
    assert "mqtt_tls_insecure" not in Settings.model_fields  # the host name is always checked


def test_a_password_in_the_url_is_refused_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as err:
        settings(monkeypatch, mqtt_url=f"mqtts://warnengine:{SECRET}@broker:8883")
    assert SECRET not in str(err.value) and "WARNENGINE_MQTT_PASSWORD" in str(err.value)


def test_contradictions_are_errors() -> None:
    with pytest.raises(ValueError, match="differ"):
        Settings(mqtt_url="mqtts://a@broker", mqtt_username="b").mqtt_security()
    with pytest.raises(ValueError, match="TLS is off"):
        Settings(mqtt_url="mqtt://broker", mqtt_ca_file=Path("/ca")).mqtt_security()


def test_connection_errors_are_rate_limited() -> None:
    clock = [0.0]
    limited = RateLimitedLog(structlog.get_logger("t"), every_s=60.0, now=lambda: clock[0])
    with structlog.testing.capture_logs() as logs:
        for t in (0.0, 1.0, 2.0, 30.0, 61.0, 62.0):
            clock[0] = t
            limited.error("mqtt_connect_failed", host="h")
        limited.warning("mqtt_disconnected", host="h")
    got: list[dict[str, Any]] = [{k: e[k] for k in ("event", "suppressed") if k in e} for e in logs]
    assert got == [
        {"event": "mqtt_connect_failed"},
        {"event": "mqtt_connect_failed", "suppressed": 3},
        {"event": "mqtt_disconnected"},
    ]
