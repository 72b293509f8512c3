from __future__ import annotations

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
            )
            for p in county.people
        ],
        [(dv.device_id, dv.cell_code, dv.drill_opt_in) for dv in county.devices],
        [(m.point_id, m.cell_code, m.name, m.lon, m.lat, m.kind, m.lead_person_id) for m in county.points],
        [(m.point_id, h) for m in county.points for h in m.households],
    )
