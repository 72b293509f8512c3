"""The request and response bodies of the warnings API (api/warnings.py), validated by pydantic and
published as its OpenAPI schemas."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from warnengine.api.auth import ApiRole
from warnengine.api.drafts import AreaIn, Compose, Text
from warnengine.model import Hazard, Severity

STATES = ("draft", "submitted", "approved", "rejected", "releasing", "released", "cancelled")
EDITABLE = ("draft", "submitted", "approved", "rejected", "released")
RELEASERS = frozenset({ApiRole.DISPATCHER, ApiRole.APPROVER, ApiRole.ADMIN})
WARNING_ID = {"type": "string", "pattern": "^w-[0-9a-f]{16}$"}


class DraftIn(BaseModel):
    """Start from a template, a CAP message, or nothing; fields given here override the start."""

    model_config = ConfigDict(extra="forbid")

    template: Text | None = Field(default=None, max_length=100)
    cap: Text | None = Field(default=None, max_length=512 * 1024)
    hazard: Hazard | None = None
    severity: Severity | None = None
    event: Text | None = Field(default=None, max_length=64)
    headline: Text | None = Field(default=None, max_length=200)
    description: Text | None = Field(default=None, max_length=2000)
    instruction: Text | None = Field(default=None, max_length=1000)
    expires_min: float | None = Field(default=None, allow_inf_nan=False)
    areas: list[AreaIn] | None = Field(default=None, min_length=1, max_length=50)
    drill: bool | None = None


class DraftPatch(DraftIn):
    revision: int = Field(ge=1, le=2**31 - 1)  # the revision being edited: a stale edit is a conflict


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revision: int = Field(ge=1, le=2**31 - 1)  # the revision the caller saw and acts on
    note: Text | None = Field(default=None, max_length=1000)


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revision: int = Field(ge=1, le=2**31 - 1)
    reason: Text = Field(min_length=1, max_length=1000)


class Approval(BaseModel):
    revision: int
    actor: str
    decision: str
    reason: str | None
    at: float


class Summary(BaseModel):
    area: str  # e.g. "城关镇, 河口镇 (2 乡镇 townships) · 3 村 villages" or "多边形 polygon"
    created_local: str  # YYYY-MM-DD HH:MM in the county's time zone
    hazard_zh: str  # 山洪 红色
    kind: str  # 演练 DRILL | 真实 REAL
    households: int | None  # reach preview (None once it no longer matters: released/cancelled/rejected)
    people: int | None
    villages: int | None


class DraftOut(BaseModel):
    warning_id: str
    state: str
    revision: int
    drill: bool
    hazard: Hazard
    severity: Severity
    content: Compose
    live: bool  # a released version is out and not cancelled
    released_version: int
    fast_path: bool
    created_by: str
    submitted_by: str | None
    approved_by: str | None
    released_by: str | None
    reason: str | None
    created_at: float
    updated_at: float
    released_at: float | None
    approvals: list[Approval] = Field(default_factory=list)
    summary: Summary | None = None  # in the list: what is being approved (area, time, reach, kind)


class DraftList(BaseModel):
    warnings: list[DraftOut]


class ListQuery(BaseModel):
    state: str | None = Field(default=None, pattern="^(" + "|".join(STATES) + ")$")
    limit: int = Field(default=100, ge=1, le=500)


class TemplateOut(BaseModel):
    name: str
    hazard: Hazard
    severity: Severity
    event: str
    headline: str
    description: str
    instruction: str
    expires_min: float


class TemplateList(BaseModel):
    templates: list[TemplateOut]
