"""structlog as JSON lines on stderr; stages bind warning_id and village to the context."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import structlog


def configure(level: str = "info", json: bool = True) -> None:
    lvl = getattr(logging, level.upper(), logging.INFO)
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]


class RateLimitedLog:
    """One line per event name per `every_s`, saying how many were held back meanwhile: a broker that is
    away or refuses us is retried every few seconds, and each retry must not become a log line."""

    def __init__(self, logger: Any, every_s: float = 60.0, now: Callable[[], float] = time.monotonic) -> None:
        self._log = logger
        self._every = every_s
        self._now = now
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def _emit(self, level: str, event: str, kw: dict[str, Any]) -> None:
        now = self._now()
        last = self._last.get(event)
        if last is not None and now - last < self._every:
            self._held[event] = self._held.get(event, 0) + 1
            return
        self._last[event] = now
        held = self._held.pop(event, 0)
        getattr(self._log, level)(event, **kw, **({"suppressed": held} if held else {}))

    def error(self, event: str, **kw: Any) -> None:
        self._emit("error", event, kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._emit("warning", event, kw)

    def info(self, event: str, **kw: Any) -> None:
        self._emit("info", event, kw)


class RepeatFilter(logging.Filter):
    """Libraries' own log records (aiokafka, Faust) at most once per `every_s` per logger and message
    template, the next one saying how many were held back: a dead broker made aiokafka log ~20
    connection errors every 50 ms (4.4 MB in two minutes)."""

    def __init__(self, every_s: float = 30.0, now: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._every = every_s
        self._now = now
        self._last: dict[tuple[str, object], float] = {}
        self._held: dict[tuple[str, object], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        now = self._now()
        last = self._last.get(key)
        if last is not None and now - last < self._every:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        if len(self._last) > 1000:  # templates are few; ids interpolated into `msg` must not grow this
            self._last.clear()
        self._last[key] = now
        held = self._held.pop(key, 0)
        if held:
            record.msg = f"{record.msg} [{held} similar suppressed in the last {self._every:.0f}s]"
        return True
