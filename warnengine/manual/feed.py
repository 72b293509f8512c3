"""The one builder of a manual feed document: the generic JSON of docs/feeds.md that the console's releases
and `warnengine broadcast` put on the `manual` feed topic, so the pipeline records, resolves, signs and
tracks them like any warning from a feed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from warnengine.model import Hazard, MsgType, Severity, Status


@dataclass(frozen=True)
class ManualArea:
    description: str
    codes: list[str] | None = None
    polygon: list[tuple[float, float]] | None = None

    def doc(self) -> dict[str, Any]:
        out: dict[str, Any] = {"description": self.description}
        if self.codes is not None:
            out["codes"] = self.codes
        if self.polygon is not None:
            out["polygon"] = [list(p) for p in self.polygon]
        return out


@dataclass(frozen=True)
class ManualWarning:
    sender: str
    identifier: str
    sent: datetime
    expires: datetime
    msg_type: MsgType
    drill: bool
    hazard: Hazard
    severity: Severity
    event: str
    headline: str
    areas: list[ManualArea]
    description: str | None = None
    instruction: str | None = None
    references: list[str] = field(default_factory=list)

    @property
    def reference(self) -> str:
        """The "sender,identifier,sent" triple a later Update or Cancel names this message by."""
        return f"{self.sender},{self.identifier},{self.sent.isoformat()}"

    def payload(self) -> bytes:
        doc: dict[str, Any] = {
            "sender": self.sender,
            "identifier": self.identifier,
            "sent": self.sent.isoformat(),
            "msg_type": self.msg_type.value,
            "status": (Status.EXERCISE if self.drill else Status.ACTUAL).value,
            "hazard": self.hazard.value,
            "severity": self.severity.value,
            "event": self.event,
            "headline": self.headline,
            "expires": self.expires.isoformat(),
            "areas": [a.doc() for a in self.areas],
        }
        if self.description is not None:
            doc["description"] = self.description
        if self.instruction is not None:
            doc["instruction"] = self.instruction
        if self.references:
            doc["references"] = self.references
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")
