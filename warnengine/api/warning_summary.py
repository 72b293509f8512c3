"""What an approver is approving, in one row: area by name, created time in the county's zone, hazard and
severity in Chinese, drill or real, and the reach the plan would have (households, people)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from warnengine.api.context import ApiContext
from warnengine.api.drafts import Compose
from warnengine.api.warning_models import Summary

HAZARD_ZH = {
    "meteo": "气象",
    "flood": "山洪",
    "forest_fire": "森林火险",
    "geohazard": "地质灾害",
    "earthquake": "地震",
    "other": "其他",
}
SEVERITY_ZH = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
NEEDS_PREVIEW = ("draft", "submitted", "approved")  # what someone still decides on


async def _area(c: ApiContext, w: Compose) -> str:
    codes = [code for a in w.areas for code in (a.codes or [])]
    polygons = sum(len(a.polygons or []) for a in w.areas)
    names = await c.store.village_names(codes) if codes else {}
    named = [names.get(code, (code, None))[0] for code in codes]
    parts = []
    if named:
        shown = ", ".join(named[:5]) + (f" 等 {len(named)} 处 areas" if len(named) > 5 else "")
        parts.append(shown)
    if polygons:
        parts.append(f"多边形 polygon ×{polygons}")
    return " · ".join(parts) or "—"


async def summarise(c: ApiContext, row: dict[str, Any]) -> Summary:
    from warnengine.api.preview import preview_of  # preview imports the warning modules

    w = Compose.model_validate_json(row["content"])
    tz = ZoneInfo(c.settings.time_zone)
    reach = await preview_of(c, w) if row["state"] in NEEDS_PREVIEW else None
    return Summary(
        area=await _area(c, w),
        created_local=datetime.fromtimestamp(row["created_at"], tz).strftime("%Y-%m-%d %H:%M"),
        hazard_zh=f"{HAZARD_ZH.get(w.hazard.value, w.hazard.value)} {SEVERITY_ZH.get(w.severity.value, '')}",
        kind="演练 DRILL" if row["status"] == "Exercise" else "真实 REAL",
        households=reach.households if reach else None,
        people=reach.people if reach else None,
        villages=reach.villages if reach else None,
    )
