"""A terminal offline too long pages its 专人 (issue 18), warning or not: a loudspeaker that has been dead
for days is found by the person who can climb the pole, not by the next warning.

Once per offline spell (the terminal's `offline_since`): the person named in devices.csv
`responsible_id` gets a message on their best channel (SMS, then WeChat, then the app), sent straight
through the people's providers — there is no warning to hang a delivery on. Every page, and every
terminal with nobody to page, is recorded (device_pages, audit), counted and logged with its village.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from hashlib import sha256
from typing import Protocol
from zoneinfo import ZoneInfo

import structlog

from channels.base import Outgoing, SendResult
from warnengine.model import Channel
from warnengine.obs import metrics
from warnengine.plan.plan import address
from warnengine.resolve.directory import Contact, Directory

log = structlog.get_logger("warnengine.devices")

Send = Callable[[Channel, Sequence[Outgoing]], Awaitable[list[SendResult]]]
PAGE_CHANNELS = (Channel.SMS, Channel.WECHAT, Channel.APP)


class PagesStore(Protocol):
    async def offline_unpaged(self, offline_before: float) -> list[tuple[str, str, float, str | None]]: ...

    async def record_page(
        self, device_id: str, offline_since: float, person_id: str | None, result: str, now: float
    ) -> None: ...


async def page_offline_terminals(
    store: PagesStore,
    directory: Directory,
    send: Send | None,
    after_s: float,
    now: float,
    time_zone: str = "Asia/Shanghai",
    channels: Sequence[Channel] = PAGE_CHANNELS,
) -> dict[str, str]:
    """Pages the 专人 of every terminal offline for `after_s` and not paged this spell; device → result
    (sent | failed: <reason> | no_person | no_address). `channels`: those with a provider configured."""
    people = directory.contacts()
    out: dict[str, str] = {}
    for device, village, since, pid in await store.offline_unpaged(now - after_s):
        who = people.get(pid) if pid else None
        with structlog.contextvars.bound_contextvars(device_id=device, village=village):
            result = await _page(directory, who, device, village, since, now, time_zone, send, channels)
            await store.record_page(device, since, who.person_id if who else pid, result, now)
            metrics.TERMINAL_PAGES.labels(result.split(":")[0]).inc()
            level = log.info if result == "sent" else log.warning
            level("terminal_offline_page", person_id=pid, offline_s=round(now - since), result=result)
        out[device] = result
    return out


async def _page(
    directory: Directory,
    who: Contact | None,
    device: str,
    village: str,
    since: float,
    now: float,
    time_zone: str,
    send: Send | None,
    channels: Sequence[Channel],
) -> str:
    if who is None:
        return "no_person"
    slot = next(((ch, a) for ch in channels if (a := address(who, ch))), None)
    if slot is None or send is None:
        return "no_address"
    channel, recipient = slot
    text = page_text(directory, device, village, since, now, time_zone)
    page_id = "pg-" + sha256(f"{device}\x1f{since}\x1f{who.person_id}".encode()).hexdigest()[:24]
    body = {
        "title": "应急广播终端离线 / loudspeaker offline",
        "text": text,
        "warning_id": page_id,
        "severity": "yellow",
        "hazard": "other",
        "expires_at": now + 3600,
    }
    try:
        (res,) = await send(channel, [Outgoing(page_id, recipient, village, body, now + 3600)])
    except (LookupError, OSError) as e:  # no provider for the channel, or it could not be reached
        return f"failed: {type(e).__name__}"
    return "sent" if res.ok else f"failed: {res.code or res.reason or 'unknown'}"


def page_text(
    directory: Directory, device: str, village: str, since: float, now: float, time_zone: str
) -> str:
    cell = directory.cells.get(village)
    when = datetime.fromtimestamp(since, ZoneInfo(time_zone)).strftime("%m-%d %H:%M")
    hours = (now - since) / 3600
    return (
        f"【应急广播】{cell.name if cell else village} 终端 {device} 自 {when} 离线已 {hours:.0f} 小时，"
        f"预警时将无法播放，请尽快检修。"
        f" / Loudspeaker {device} offline since {when} ({hours:.0f} h): repair it."
    )
