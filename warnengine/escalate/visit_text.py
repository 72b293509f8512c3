"""The message a visitor (入户) gets: the escalation stage words it, the store only keeps it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from warnengine.model.records import VisitTask
from warnengine.resolve.directory import Register


def visit_text(
    tasks: Sequence[VisitTask],
    shelter_of: Mapping[str, str] | None = None,
    register: Mapping[str, Register] | None = None,
) -> str:
    """The list a visitor gets, over all their tasks: vulnerable households first, each with its shelter
    when the warning orders evacuation (转移), and its helper (包保) when the register names one."""
    shelter_of = shelter_of or {}
    register = register or {}
    homes = sorted(
        ((h, vul) for task in tasks for h, vul, outcome in task.households if outcome is None),
        key=lambda x: (not x[1], x[0]),
    )
    names = "、".join(
        h
        + ("(重点)" if vul else "")
        + _helper(register.get(h))
        + (f"→{shelter_of[h]}" if shelter_of.get(h) else "")
        for h, vul in homes
    )
    return f"入户任务：请逐户通知{names}。完成后回复“完成”，或在App中逐户填报。"


def _helper(entry: Register | None) -> str:
    if entry is None or entry.helper is None:
        return ""
    return f"(包保:{entry.helper_name or entry.helper})"
