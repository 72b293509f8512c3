from __future__ import annotations

from typing import Any

from warnengine.directory import County
from warnengine.resolve.directory import Directory


def directory_of(county: County) -> Directory:
    """The targeting directory of a County, built the way `Directory.load` builds it from the database."""
    villages = [(c.code, c.name, c.geometry) for c in county.cells if c.level.value == "village"]
    return Directory.build(
        villages,
        [(c.code, c.level.value, c.parent, c.name) for c in county.cells],
        [(h.household_id, h.cell_code, h.lon, h.lat, h.members, h.vulnerable) for h in county.households],
        [
            (
                p.person_id,
                p.household_id,
                p.cell_code,
                p.role.value,
                p.phone,
                p.wechat_openid,
                p.app_token,
                p.drill_opt_in,
                p.phone_kind,
                p.wecom_userid,
            )
            for p in county.people
        ],
        [(dv.device_id, dv.cell_code, dv.drill_opt_in) for dv in county.devices],
        [(m.point_id, m.cell_code, m.name, m.lon, m.lat, m.kind, m.lead_person_id) for m in county.points],
        [(m.point_id, h) for m in county.points for h in m.households],
    )


async def planned_village(
    store: Any, county: County, warning_id: str, channels: tuple[str, ...] = ("sms",)
) -> tuple[Any, Directory]:
    """The county imported and a red flood warning over its first village planned (every resident on
    `channels`, SMS by default): what the ack and dispatch tests start from."""
    from datetime import UTC, datetime

    from warnengine.model import Area, Channel, Hazard, HazardWarning, MsgType, Severity, Status
    from warnengine.plan.policy import DisseminationPolicy, Residents, Rule
    from warnengine.plan.stage import plan_deliveries

    await store.import_directory(
        county.cells, county.households, county.people, county.devices, county.points
    )
    village = next(c.code for c in county.cells if c.level.value == "village")
    w = HazardWarning(
        warning_id=warning_id,
        version=1,
        sender="s",
        identifier="i",
        sent=datetime(2026, 7, 1, tzinfo=UTC),
        msg_type=MsgType.ALERT,
        status=Status.ACTUAL,
        hazard=Hazard.FLOOD,
        severity=Severity.RED,
        event="山洪",
        areas=[Area(codes=[village])],
    )
    await store.save_warning(w)
    directory = directory_of(county)
    policy = DisseminationPolicy(
        rules=(
            Rule(
                name="t",
                hazards=("any",),
                severities=(Severity.RED,),
                residents=Residents.ALL,
                channels=tuple(Channel(c) for c in channels),
            ),
        )
    )
    assert await plan_deliveries(w, directory, policy, store, 3600) == [village]
    return w, directory
