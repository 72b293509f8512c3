"""`warnengine demo` closes the whole loop on the embedded default (issue 21): real embedded Tansu and MQTT
brokers, a worker process, the terminal farm, the API; people's messages through the simulated providers
into the simulated population, answering on a 90x engine clock; visitors reporting through the API's visit
endpoint. Every household ends reached or named with the reason; the closure report page is written."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from warnengine.embedded.demo import run_demo
from warnengine.settings import Settings


def test_demo_closes_the_loop_with_simulated_providers(tmp_path: Path, small_county_dir: Path) -> None:
    data = tmp_path / "demo"
    s = Settings(
        data_dir=data,
        county_dir=small_county_dir,
        web_port=0,
        embedded_kafka_port=0,
        embedded_mqtt_port=0,
        topic_partitions=2,
    )
    result = asyncio.run(run_demo(s, timeout_s=120.0))  # as `warnengine demo` runs it

    assert result["providers"] == "simulated" and result["clock_speed"] == 90.0
    assert result["lost"] == 0 and result["acks"] == result["commands"] > 0
    assert result["households"] > 0 and result["unnamed"] == 0 and result["open"] == 0
    assert result["households_reached"] + result["unreached"] == result["households"]
    assert result["vulnerable_reached"] <= result["vulnerable"]
    # Households whose every member never answers (fates drawn per person) are visited door to door.
    assert result["visits"] > 0
    page = Path(result["report"])
    assert page.is_file() and result["warning_id"] in page.read_text(encoding="utf-8")

    db = sqlite3.connect(data / "warnengine.db")
    try:
        # Replies came back as the simulated providers' (labelled in the record), and acknowledged messages.
        by_channel = dict(
            db.execute(
                "SELECT channel, count(*) FROM deliveries WHERE warning_id = ? AND state = 'acknowledged'"
                " GROUP BY channel",
                (result["warning_id"],),
            ).fetchall()
        )
        assert by_channel.get("sms", 0) + by_channel.get("wechat", 0) + by_channel.get("app", 0) > 0
        refs = db.execute(
            "SELECT count(*) FROM deliveries WHERE warning_id = ? AND provider_ref LIKE 'sim-%'",
            (result["warning_id"],),
        ).fetchone()[0]
        assert refs > 0
        # Every door a visitor reported went through the API's visit endpoint (audited as the visitors).
        reports = db.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'visit.report' AND actor = 'sim-visitors'"
        ).fetchone()[0]
        assert reports == result["visits"]
    finally:
        db.close()
