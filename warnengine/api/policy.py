"""The emergency fast path: which hazards a role may release without a second person's approval.

Loaded from `config/approval.yaml` (settings.api_policy_file). A missing file means no fast path at all:
the safe default is that every warning needs two people.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from warnengine.model import Hazard, Severity


class ApprovalPolicyError(ValueError):
    pass


@dataclass(frozen=True)
class FastPath:
    hazard: Hazard
    min_severity: Severity
    roles: frozenset[str]

    def describe(self) -> str:
        return f"fast_path.{self.hazard.value}: {self.min_severity.value}+ by {sorted(self.roles)}"


@dataclass(frozen=True)
class ApprovalPolicy:
    fast_paths: dict[Hazard, FastPath] = field(default_factory=dict)
    source: str = "(none)"

    def fast_path(self, hazard: Hazard, severity: Severity, role: str) -> FastPath | None:
        """The rule that lets `role` release this warning alone, if any."""
        rule = self.fast_paths.get(hazard)
        if rule and severity.rank >= rule.min_severity.rank and role in rule.roles:
            return rule
        return None

    @classmethod
    def load(cls, path: Path | None) -> ApprovalPolicy:
        if path is None or not path.exists():
            return cls()
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            rules: dict[Hazard, FastPath] = {}
            for hazard, rule in (doc.get("fast_path") or {}).items():
                h = Hazard(hazard)
                rules[h] = FastPath(
                    hazard=h,
                    min_severity=Severity(rule.get("min_severity", "blue")),
                    roles=frozenset(rule.get("roles") or ()),
                )
        except (ValueError, AttributeError, TypeError, yaml.YAMLError) as e:
            # Refuse to start rather than guess: a typo must not silently widen or drop the fast path.
            raise ApprovalPolicyError(f"{path}: {e}") from e
        return cls(rules, str(path))
