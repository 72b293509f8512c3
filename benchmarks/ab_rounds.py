"""Two variants of one sweep measured in interleaved rounds (without, with; then with, without; …), so both
see the same machine noise; medians, the ratio and each round's paired ratio. Used by duty_sweep.py and
persons_sweep.py."""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
Sample = tuple[float, float]  # wall s, CPU s
VARIANTS = ("without", "with")


async def interleave(
    rounds: int, measure: Callable[[str], Awaitable[tuple[float, float, T]]]
) -> tuple[dict[str, list[Sample]], dict[str, T]]:
    """Each variant `rounds` times, alternating which goes first; (samples, what each variant did last)."""
    times: dict[str, list[Sample]] = {v: [] for v in VARIANTS}
    did: dict[str, T] = {}
    for n in range(rounds):
        for variant in VARIANTS if n % 2 == 0 else VARIANTS[::-1]:
            wall, cpu, did[variant] = await measure(variant)
            times[variant].append((wall, cpu))
            print(f"round {n + 1} {variant:>7}: {wall:.3f} s wall, {cpu:.3f} s CPU", flush=True)
    return times, did


def summary(times: dict[str, list[Sample]], target: float) -> dict[str, Any]:
    """The JSON fields both benchmarks report: medians, ratios, the per-round pairs and every run."""
    paired = [w[0] / wo[0] for w, wo in zip(times["with"], times["without"], strict=True)]
    wall = {v: statistics.median(w for w, _ in times[v]) for v in VARIANTS}
    cpu = {v: statistics.median(c for _, c in times[v]) for v in VARIANTS}
    return {
        "sweep_s_without": round(wall["without"], 3),
        "sweep_s_with": round(wall["with"], 3),
        "ratio": round(wall["with"] / wall["without"], 3),
        "paired_ratio_median": round(statistics.median(paired), 3),
        "paired_ratio_range": [round(min(paired), 3), round(max(paired), 3)],
        "cpu_s_without": round(cpu["without"], 3),
        "cpu_s_with": round(cpu["with"], 3),
        "cpu_ratio": round(cpu["with"] / cpu["without"], 3),
        "target": target,
        "rounds": len(paired),
        "runs_s_without": [round(w, 3) for w, _ in times["without"]],
        "runs_s_with": [round(w, 3) for w, _ in times["with"]],
    }


def print_verdict(r: dict[str, Any], what: str) -> None:
    """The human lines after a benchmark's own first line (the JSON object comes last, printed by it)."""
    print(f"sweep without {what} {r['sweep_s_without']} s, with {r['sweep_s_with']} s", end=" ")
    print(f"(medians of {r['rounds']})")
    print(f"CPU without {r['cpu_s_without']} s, with {r['cpu_s_with']} s (ratio {r['cpu_ratio']})")
    target = r["target"]
    verdict = "within" if r["ratio"] <= target else "NOT within"
    print(f"ratio with/without {r['ratio']}: {verdict} the {round((target - 1) * 100)} % target")
    lo, hi = r["paired_ratio_range"]
    print(f"per round (same round's pair): median {r['paired_ratio_median']}, range {lo}-{hi}")
    print("note: measured on a shared machine; the variants are interleaved so both see the same noise")
