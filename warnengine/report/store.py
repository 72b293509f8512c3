"""What the closure report reads: `warnengine.db.store.Store` is one."""

from __future__ import annotations

from typing import Any, Protocol

from warnengine.model.org_records import WarningOrg


class ReportStore(Protocol):
    async def closure_rows(self, warning_id: str) -> dict[str, Any] | None: ...

    async def warning_orgs(self, warning_id: str, unreached: bool = False) -> list[WarningOrg]: ...
