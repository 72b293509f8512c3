"""Never trust a silent loudspeaker (issue 18): a village whose terminals are all offline, or none of which
reports `played` within the rule's window (`loudspeaker_fallback_min`, 2 minutes for red), falls back at
once: its unreached households get their visit tasks now instead of at the ladder's visit step, and the
person responsible for each of its terminals (专人, devices.csv `responsible_id`; with none on record, the
village grid head on duty) is 叫应'd.

It keys only on the record — deliveries in state `played`, terminals `online` false — so any loudspeaker
provider that feeds those (MQTT terminals, an emergency-broadcast platform's 回传) falls back the same way.
Each village falls back once per version (table loudspeaker_fallbacks, with an audit row).
"""

from __future__ import annotations

import structlog

from warnengine.escalate.duty import OnDuty
from warnengine.escalate.rows import _rows
from warnengine.escalate.store import EscalateStore
from warnengine.model import Channel, HazardWarning, Role, steps
from warnengine.obs import metrics
from warnengine.plan.policy import Rule

log = structlog.get_logger("warnengine.escalate")


def step_numbers(resolved_at: float, now: float) -> tuple[int, int]:
    """This sweep's (visit list, 专人 叫应) step numbers: per second, as villages fall back in different
    sweeps and one person may visit or answer for two of them."""
    return steps.FALLBACK.after(now - resolved_at), steps.RESPONSIBLE.after(now - resolved_at)


_WHY = {
    "offline": ("终端全部离线", "every terminal offline"),
    "not_played": ("终端未报告播放", "no terminal reported played"),
}


async def silent_villages(
    store: EscalateStore, w: HazardWarning, rule: Rule, resolved_at: float, now: float
) -> dict[str, str]:
    """Village → why it falls back now (offline | not_played), for the villages not fallen back yet."""
    window = rule.fallback_window_s
    if window is None:
        return {}
    due: dict[str, str] = {}
    for village, terminals, offline, played in await store.village_speakers(w.warning_id, w.version):
        if played:
            continue
        if terminals and offline == terminals:
            due[village] = "offline"
        elif now - resolved_at >= window:
            due[village] = "not_played"
    return due


async def call_responsible(
    store: EscalateStore,
    duty: OnDuty,
    w: HazardWarning,
    rule: Rule,
    due: dict[str, str],
    step: int,
    now: float,
) -> tuple[list[tuple[object, ...]], dict[str, list[str]]]:
    """The 叫应 rows for each fallen-back village's 专人, and whom each village called."""
    named = await store.responsible_of(sorted(due))
    people = duty.directory.contacts()
    voice = (Channel.VOICE,) if rule.duty_voice_calls > 0 else ()
    channels = tuple(dict.fromkeys((*rule.person_channels, *voice)))
    rows: list[tuple[object, ...]] = []
    called: dict[str, list[str]] = {}
    for village, reason in sorted(due.items()):
        who = [people[p] for p in named.get(village, []) if p in people]
        if not who:  # nobody on record (or not in the directory any more): the grid head answers for it
            head = duty.first(village, Role.GRID_HEAD)
            who = [head] if head is not None else []
            log.warning("loudspeaker_no_responsible", village=village, fallback_to=[c.person_id for c in who])
        called[village] = [c.person_id for c in who]
        text = _text(duty, village, reason, rule)
        for c in who:
            rows += _rows(w, c, channels, step, village, None, text, now)
    return rows, called


def _text(duty: OnDuty, village: str, reason: str, rule: Rule) -> str:
    cell = duty.directory.cells.get(village)
    zh, en = _WHY[reason]
    minutes = (rule.fallback_window_s or 0) / 60
    when = f"{minutes:g}分钟内" if reason == "not_played" else "发布时"
    where = cell.name if cell else village
    return (
        f"叫应：{where} 应急广播{when}{zh}，已转入户通知，请立即到场检查终端并协助入户。"
        f" / Loudspeaker fallback: {en}; door-to-door visits started, check the terminal now."
    )


async def record(
    store: EscalateStore,
    w: HazardWarning,
    due: dict[str, str],
    households: dict[str, int],
    called: dict[str, list[str]],
    now: float,
) -> None:
    for village, reason in sorted(due.items()):
        await store.record_fallback(
            w.warning_id, w.version, village, reason, households.get(village, 0), called.get(village, []), now
        )
        metrics.LOUDSPEAKER_FALLBACKS.labels(reason).inc()
        log.warning(
            "loudspeaker_fallback",
            village=village,
            reason=reason,
            households=households.get(village, 0),
            responsible=called.get(village, []),
        )
