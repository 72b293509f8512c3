"""The device health stage: terminal reports become registry rows; silent terminals are found and reported.

A terminal going offline is reported once (audit row, log line with the village bound, counter), with the
warnings it had not finished: those villages must be reached another way (escalation reads
`Store.offline_devices`). The `warnengine_terminals` gauge follows every batch and sweep.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import structlog
from prometheus_client import Counter, Gauge

from warnengine.devices.reports import BadReport, ResultReport, StatusReport, parse_report
from warnengine.devices.store import DevicesStore
from warnengine.model.records import DeviceChange
from warnengine.obs import metrics
from warnengine.transport.mqtt import Message
from warnengine.wire.loudspeaker import device_topic

log = structlog.get_logger("warnengine.devices")

TERMINALS = Gauge("warnengine_terminals", "Loudspeaker terminals by health state", ["state"])
TERMINAL_CHANGES = Counter(
    "warnengine_terminal_changes_total", "Terminals going online or offline, by reason", ["state", "reason"]
)
REPORTS = Counter(
    "warnengine_terminal_reports_total",
    "Terminal status and ack reports by kind and verdict",
    ["kind", "verdict"],
)

# (stage, reason, detail, payload, source, key): the worker's dead-letter function, or Store.dead_letter.
DeadLetter = Callable[[str, str, str, bytes, str | None, str | None], Awaitable[object]]


class DeviceHealth:
    def __init__(self, store: DevicesStore, dead_letter: DeadLetter, offline_after_s: float) -> None:
        self.store = store
        self._dead_letter = dead_letter
        self.offline_after_s = offline_after_s

    async def apply(self, msgs: Sequence[Message]) -> list[DeviceChange]:
        """One batch of `.../status` and `.../ack` messages; bad ones are dead-lettered with the reason."""
        statuses: list[StatusReport] = []
        results: list[ResultReport] = []
        for m in msgs:
            try:
                r = parse_report(m)
            except BadReport as bad:
                REPORTS.labels("bad", bad.reason).inc()
                log.warning("terminal_report_bad", topic=bad.topic, reason=bad.reason)
                await self._dead_letter(
                    "devices", bad.reason, f"terminal report on {bad.topic}", bad.payload, "mqtt", bad.topic
                )
                continue
            if isinstance(r, StatusReport):
                statuses.append(r)
            elif isinstance(r, ResultReport):
                results.append(r)
        changes: list[DeviceChange] = []
        statuses = await self._own(statuses)
        if statuses:
            changes, unknown = await self.store.record_device_status([s.row() for s in statuses])
            REPORTS.labels("status", "applied").inc(len(statuses) - len(unknown))
            for device in unknown:  # removed from the directory since `_own` looked: rare, not applied
                REPORTS.labels("status", "unknown_device").inc()
                log.warning("terminal_unknown", device_id=device)
        if results:
            await self.store.record_device_results([(r.device_id, r.state, r.reason) for r in results])
            REPORTS.labels("ack", "applied").inc(len(results))
        await self._report(changes)
        return changes

    async def _own(self, statuses: list[StatusReport]) -> list[StatusReport]:
        """The statuses that came on their own terminal's topic: a device in the directory, in the village
        the topic names. The rest are counted, logged and dead-lettered, never applied — a retained status
        forged for a terminal that does not exist, or on a topic of the wrong village, changes nothing."""
        villages = await self.store.registered_villages([s.device_id for s in statuses]) if statuses else {}
        own = []
        for s in statuses:
            registered = villages.get(s.device_id)
            if registered == s.village_code:
                own.append(s)
                continue
            reason = "status_unknown_device" if registered is None else "status_topic_mismatch"
            REPORTS.labels("status", reason).inc()
            metrics.ACKS_REJECTED.labels(reason).inc()
            log.warning(
                "terminal_status_refused", device_id=s.device_id, village=s.village_code, reason=reason
            )
            topic = device_topic(s.village_code, s.device_id, "status")
            detail = f"status on {topic}; the directory has {s.device_id} in {registered or 'no village'}"
            await self._dead_letter(
                "devices", reason, detail, s.status.model_dump_json().encode(), "mqtt", topic
            )
        return own

    async def sweep(self) -> list[DeviceChange]:
        """Terminals silent for longer than `offline_after_s` (no heartbeat, no Last Will: a cut cable)."""
        changes = await self.store.sweep_silent_devices(self.offline_after_s)
        await self._report(changes)
        await self.refresh_gauge()
        return changes

    async def refresh_gauge(self) -> None:
        for state, n in (await self.store.device_health_counts()).items():
            TERMINALS.labels(state).set(n)
        metrics.VILLAGES_SILENT.set(await self.store.silent_villages())

    async def _report(self, changes: list[DeviceChange]) -> None:
        for c in changes:
            state = "online" if c.online else "offline"
            TERMINAL_CHANGES.labels(state, c.reason or state).inc()
            bound = log.bind(device_id=c.device_id, village=c.village_code)
            if c.online:
                bound.info("terminal_online")
                continue
            # Offline with warnings still open: the village needs another channel. Warning, not info.
            level = bound.warning if c.open_warnings else bound.info
            level("terminal_offline", reason=c.reason, open_warnings=list(c.open_warnings))
        if changes:
            await self.refresh_gauge()
