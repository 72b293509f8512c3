"""The dissemination policy (config/policy.yaml): hazard × severity → recipients, channels, ladder."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from warnengine.model import Channel, Hazard, Role, Severity

PEOPLE_CHANNELS = (Channel.SMS, Channel.WECHAT, Channel.APP, Channel.VOICE, Channel.WECOM)
# Channels a rule may name: the people's, and the village groups' WeChat robots (wechat_group: a post to
# each covered village's and group's WeChat group, evidence of sending, never of reach).
RULE_CHANNELS = (*PEOPLE_CHANNELS, Channel.WECHAT_GROUP)
RED_FALLBACK_MIN = 2.0  # a red warning's loudspeakers must say `played` within two minutes (issue 18)


class Residents(StrEnum):
    ALL = "all"
    VULNERABLE = "vulnerable"
    NONE = "none"


class Step(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    after_min: float = Field(gt=0)
    action: Literal["resend", "visit", "escalate"]
    switch_to: tuple[Channel, ...] = ()
    to: Role | None = None

    @model_validator(mode="after")
    def _complete(self) -> Step:
        if self.action == "escalate" and self.to is None:
            raise ValueError("an escalate step needs `to` (a grid role)")
        if any(c not in PEOPLE_CHANNELS for c in self.switch_to):
            raise ValueError("switch_to takes sms, wechat, app, voice or wecom")
        return self


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    hazards: tuple[Hazard | Literal["any"], ...]
    severities: tuple[Severity, ...]
    events: tuple[str, ...] = ()  # when set, only warnings whose event is one of these (e.g. 人工广播)
    residents: Residents = Residents.ALL
    staff_roles: tuple[Role, ...] = ()
    channels: tuple[Channel, ...] = (Channel.SMS,)
    loudspeaker: bool = True
    loudspeaker_reaches_household: bool = False
    staff_ack_min: float = Field(default=5, gt=0)
    # 叫应 by phone: each person on the duty chain is called this many times within `duty_call_window_min`
    # (勉县: three calls in five minutes) before the next post; 0: the 叫应 is a message only, and the next
    # post is called after another `staff_ack_min`.
    duty_voice_calls: int = Field(default=0, ge=0, le=10)
    duty_call_window_min: float = Field(default=5, gt=0)
    # A nobody-home door is visited again this many minutes after (issue 17); a second empty door is final.
    revisit_min: float = Field(default=30, gt=0)
    # … a vulnerable household's (elderly living alone, disabled) sooner: not finding them is the case a
    # warning exists for, and "every vulnerable person by minute 30" cannot wait half an hour to look again.
    revisit_vulnerable_min: float = Field(default=10, gt=0)
    # Issue 18: a village none of whose terminals reports `played` within this many minutes (or all of them
    # offline at once) gets its visits and its terminals' 专人 叫应 at once, not at the ladder's visit step.
    # Unset: 2 for a rule that covers red, otherwise off; 0: off.
    loudspeaker_fallback_min: float | None = Field(default=None, ge=0)
    # Hazards for which this rule (its severities) orders evacuation (转移) of the threatened households to
    # shelters (issue 17); empty: none. `any` orders it for every hazard the rule matches.
    evacuate: tuple[Hazard | Literal["any"], ...] = ()
    ladder: tuple[Step, ...] = ()
    # Upward reports (上报, escalate/upward.py): a progress report to the townships' and the county's duty
    # at these minutes after release (the seeds: the scene reported within 10 minutes), then every
    # `report_every_min` until the warning is closed (0: no more), and the closure report when it is.
    report_upward: bool = True
    report_at_min: tuple[float, ...] = (10, 30, 60)
    report_every_min: float = Field(default=60, ge=0)

    @model_validator(mode="after")
    def _check(self) -> Rule:
        if any(c not in RULE_CHANNELS for c in self.channels):
            raise ValueError(
                "channels takes sms, wechat, app, voice, wecom or wechat_group "
                "(loudspeakers: `loudspeaker: true`)"
            )
        if Role.RESIDENT in self.staff_roles:
            raise ValueError("residents are chosen by `residents`, not staff_roles")
        times = [s.after_min for s in self.ladder]
        if times != sorted(times):
            raise ValueError("ladder steps must be in order of after_min")
        if list(self.report_at_min) != sorted(set(self.report_at_min)) or any(
            m <= 0 for m in self.report_at_min
        ):
            raise ValueError("report_at_min: minutes after release, > 0, each once, in order")
        return self

    @property
    def person_channels(self) -> tuple[Channel, ...]:
        """The rule's channels that message a person (all but wechat_group, which posts to a group)."""
        return tuple(c for c in self.channels if c in PEOPLE_CHANNELS)

    @property
    def fallback_window_s(self) -> float | None:
        """The loudspeaker fallback's window in seconds, or None when the rule has none."""
        minutes = self.loudspeaker_fallback_min
        if minutes is None:
            minutes = RED_FALLBACK_MIN if Severity.RED in self.severities else 0
        return minutes * 60 if minutes > 0 and self.loudspeaker else None

    def evacuates(self, hazard: Hazard) -> bool:
        return "any" in self.evacuate or hazard in self.evacuate

    def matches(self, hazard: Hazard, severity: Severity, event: str = "") -> bool:
        return (
            ("any" in self.hazards or hazard in self.hazards)
            and severity in self.severities
            and (not self.events or event in self.events)
        )


class DisseminationPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rules: tuple[Rule, ...]
    # A field report (灾情 / request for help, issue 17) must be taken by a duty person within this many
    # minutes, else the county duty is 叫应'd, and again each as many minutes after until someone takes it.
    report_take_min: float = Field(default=10, gt=0)
    # Severities for which each vulnerable household's helper (the register's 包保责任人) gets that door at
    # once, at step 0, and is 叫应'd (escalate/first_doors.py); empty: helpers wait for the visit step.
    helper_first: tuple[Severity, ...] = ()

    def rule_for(self, hazard: Hazard, severity: Severity, event: str = "") -> Rule:
        for rule in self.rules:
            if rule.matches(hazard, severity, event):
                return rule
        return FALLBACK


# What applies when no rule matches: the loudspeakers and the grid heads, so nothing goes unsent.
FALLBACK = Rule(
    name="fallback",
    hazards=("any",),
    severities=tuple(Severity),
    residents=Residents.NONE,
    staff_roles=(Role.GRID_HEAD,),
    channels=(Channel.SMS,),
)
DEFAULT = DisseminationPolicy(rules=(FALLBACK,))


class DisseminationPolicyError(ValueError):
    pass


def load_policy(path: Path) -> DisseminationPolicy:
    """Read and check a policy file; DisseminationPolicyError names the problem (and the rule) in words."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise DisseminationPolicyError(f"cannot read policy {path}: {e}") from e
    try:
        return DisseminationPolicy.model_validate(doc)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise DisseminationPolicyError(f"policy {path}: {problems}") from e
