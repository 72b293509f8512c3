"""Live status of a warning's organisations (issue 17): the counts beside the households' (api/status.py)."""

from __future__ import annotations

from pydantic import BaseModel

from warnengine.api.context import ApiContext
from warnengine.report.orgs import org_counts, unreached_reason

OPEN_ORGS_LIMIT = 100


class OpenOrg(BaseModel):
    org_id: str
    name: str
    kind: str
    village_code: str
    headcount: int
    why: str  # operator-facing, Chinese with English beside it


class OrgStatus(BaseModel):
    targeted: int = 0
    reached: int = 0
    unreached: int = 0  # not reached: `unreachable` (named with the reason) + `open`
    unreachable: int = 0
    open_count: int = 0  # neither reached nor named unreachable: holds the warning open (status `done`)
    headcount: int = 0  # persons the targeted orgs hold
    headcount_reached: int = 0  # … of orgs whose responsible person acknowledged
    open: list[OpenOrg] = []  # at most OPEN_ORGS_LIMIT, by village


async def org_status(c: ApiContext, warning_id: str) -> OrgStatus:
    orgs = await c.store.warning_orgs(warning_id)
    silent = [o for o in orgs if o.state != "reached"][:OPEN_ORGS_LIMIT]
    counts = org_counts(orgs)
    return OrgStatus(
        targeted=counts["targeted"],
        reached=counts["reached"],
        unreached=counts["unreached"],
        unreachable=counts["unreachable"],
        open_count=counts["open"],
        headcount=counts["headcount"],
        headcount_reached=counts["headcount_reached"],
        open=[
            OpenOrg(
                org_id=o.org_id,
                name=o.name,
                kind=o.kind,
                village_code=o.village_code,
                headcount=o.headcount,
                why=unreached_reason(o),
            )
            for o in silent
        ],
    )
