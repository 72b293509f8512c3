"""Step numbers of person deliveries: the one table of which kind of message uses which numbers.

A person's delivery id combines warning, version, person, channel and step (plan/plan.py
`person_delivery_id`), and plans are saved insert-if-absent: two kinds of message that can land on the same
number for the same person on the same version are one delivery, and the second is silently dropped. So
every kind below owns a range of its own, and they never overlap (tests/escalate/test_steps.py).

The numbers are stored (deliveries.step, escalation_steps.step) and replies are matched against them
(acks/people.py recomputes ids from the recorded steps). Changing a kind's range therefore only changes the
deliveries of warnings planned after the change; rows already stored keep their numbers and are still
matched, because matching reads the steps recorded for each version. Until issue 17's review the
evacuation order was 99 (= the closure report) and follow-ups were 100 + minutes (= progress reports'
100 + slot): such old rows may sit on the other kind's number; nothing reads a kind back from a number
except the duty room's label (`kind_of`) and
the 叫应 range (`CALL`, unchanged).

Ranges are half-open [start, end). Per-minute kinds clamp to their last number (`StepRange.at`): a
warning live longer than the range (69 days for 100,000 minutes) reuses its last step rather than spill
into the next kind's range.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StepRange:
    kind: str
    start: int
    end: int  # exclusive

    def at(self, n: int) -> int:
        """The range's n-th step (0-based), clamped into the range."""
        return self.start + max(0, min(int(n), self.end - self.start - 1))

    def after(self, seconds: float) -> int:
        """A per-sweep kind's step, `seconds` after the version resolved (clamped after ~27 hours)."""
        return self.at(int(seconds))

    def __contains__(self, step: object) -> bool:
        return isinstance(step, int) and self.start <= step < self.end


# The policy's ladder: 0 is the first message, 1..n the rule's ladder steps (kept as they always were).
LADDER = StepRange("ladder", 0, 50)
# 叫应 of superiors: a person's k-th 叫应 of a warning is CALL.at(k) (escalate/calls.py).
CALL = StepRange("call", 50, 90)
# One-off steps, one number each.
HELPER = StepRange("helper", 92, 93)  # vulnerable households' helpers at step 0 (escalate/first_doors.py)
POINT = StepRange("point_lead", 93, 94)  # point leads' door lists (escalate/first_doors.py)
EVACUATE = StepRange(
    "evacuate", 94, 95
)  # the evacuation order to threatened households (escalate/evacuate.py)
CLOSURE = StepRange("closure_report", 99, 100)  # the upward closure report (escalate/upward.py)
# Upward progress reports: the k-th report slot is REPORT.at(k) (escalate/upward.py).
REPORT = StepRange("progress_report", 100, 100_000)
# Per-sweep kinds: + seconds since the version resolved (`after`). Not minutes: sweeps run every 15 s, and
# two in one minute would share a number, so a person's second message was taken for the first and dropped.
INBOX = StepRange("inbox_call", 100_000, 200_000)  # 叫应 of the county duty about untaken field reports
EVAC_VISIT = StepRange("evac_second_visit", 200_000, 300_000)  # second visits after a refusal
FOLLOW = StepRange("follow_up", 300_000, 400_000)  # revisits and needs-help cases (escalate/follow_up.py)
# Villages fall back in different sweeps (one offline at release, another silent after the window): a
# visitor or 专人 of both needs both messages. Until 2026-12 these were 90 and 91, one number per version.
# Visit lists of villages whose loudspeakers fell back:
FALLBACK = StepRange("fallback_visit", 400_000, 500_000)
RESPONSIBLE = StepRange("fallback_responsible", 500_000, 600_000)  # 叫应 of those terminals' 专人

RANGES: tuple[StepRange, ...] = (
    LADDER,
    CALL,
    FALLBACK,
    RESPONSIBLE,
    HELPER,
    POINT,
    EVACUATE,
    CLOSURE,
    REPORT,
    INBOX,
    EVAC_VISIT,
    FOLLOW,
)


def kind_of(step: int) -> str:
    """The kind of message a step number belongs to ("unknown" for the unused gaps)."""
    return next((r.kind for r in RANGES if step in r), "unknown")
