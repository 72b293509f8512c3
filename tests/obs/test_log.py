"""Rate limits on repeated log lines: our own events (RateLimitedLog) and the libraries' (RepeatFilter)."""

from __future__ import annotations

import logging

from warnengine.obs.log import RepeatFilter


def _record(msg: str, name: str = "aiokafka.conn") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, ("127.0.0.1:9092",), None)


def test_a_repeated_library_error_passes_once_per_period_and_says_how_many_were_held() -> None:
    clock = [0.0]
    f = RepeatFilter(every_s=30.0, now=lambda: clock[0])
    assert f.filter(_record("Unable to connect to %s"))
    assert not any(f.filter(_record("Unable to connect to %s")) for _ in range(400))
    assert f.filter(_record("another template"))  # each template on its own
    assert f.filter(_record("Unable to connect to %s", name="faust.worker"))  # and each logger
    clock[0] = 30.0
    again = _record("Unable to connect to %s")
    assert f.filter(again)
    assert (
        again.getMessage() == "Unable to connect to 127.0.0.1:9092 [400 similar suppressed in the last 30s]"
    )
    clock[0] = 61.0
    quiet = _record("Unable to connect to %s")
    assert f.filter(quiet)
    assert quiet.getMessage() == "Unable to connect to 127.0.0.1:9092"
