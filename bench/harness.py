"""The bench's shared harness (issue 19): every figure is measured beside a floor in the same run,
the two interleaved (figure, floor, figure, floor...), and each reported as the median of at least
three runs, on one line: value, floor, ratio, goal and "missed" when the goal is missed.

A figure is a ``Figure`` (name, unit, goal); ``measure(figure, run, floor, runs=3)`` calls
``run()`` and ``floor()`` alternately (one warm-up call of each first unless ``warm=False``), each
returning the figure in its unit (seconds, or a rate per second), and prints the line.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# The goals, each worded once with its check on (value, floor); values in seconds or per
# second. A Figure names its goal by its wording (both modes of bench/run.py measure the same goals).
GOALS: dict[str, Callable[[float, float], bool]] = {
    ">= 0.5 x floor": lambda v, f: v >= 0.5 * f,
    "<= 3 x floor": lambda v, f: v <= 3 * f,
    "<= 150 ms": lambda v, f: v <= 0.150,
    "< 150 ms": lambda v, f: v < 0.150,
    "<= 300 ms": lambda v, f: v <= 0.300,
    "<= 1 s": lambda v, f: v <= 1.0,
    "<= 3 s and <= 5 x floor": lambda v, f: v <= 3.0 and v <= 5 * f,
}


@dataclass
class Figure:
    name: str
    unit: str  # "ms" (lower is better), "/s" (higher is better) or "queries"
    # The goal, as a check on (value, floor) and its wording: e.g. ratio <= 3.
    goal: str = ""
    check: Callable[[float, float], bool] | None = None
    values: list[float] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)
    note: str = ""

    def __post_init__(self) -> None:
        if self.check is None:  # a goal not in GOALS is a remark with nothing to check ("- (...)")
            self.check = GOALS.get(self.goal)

    @property
    def value(self) -> float:
        return statistics.median(self.values)

    @property
    def floor(self) -> float:
        return statistics.median(self.floors) if self.floors else float("nan")

    @property
    def ratio(self) -> float:
        if not self.floors or not self.floor:
            return float("nan")
        return self.value / self.floor

    @property
    def met(self) -> bool | None:
        return None if self.check is None else bool(self.check(self.value, self.floor))


RESULTS: list[Figure] = []


def seconds(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _fmt(unit: str, v: float) -> str:
    if v != v:  # nan
        return "-"
    if unit == "ms":
        return f"{v * 1000:.1f} ms"
    if unit == "/s":
        return f"{v:.1f}/s"
    return f"{v:.0f} {unit}"


def line(fig: Figure) -> str:
    met = fig.met
    verdict = "" if met is None else ("met" if met else "missed")
    ratio = "-" if fig.ratio != fig.ratio else f"{fig.ratio:.2f}"
    extra = f"  ({fig.note})" if fig.note else ""
    return (
        f"{fig.name:<58} {_fmt(fig.unit, fig.value):>12}  floor {_fmt(fig.unit, fig.floor):>11}  "
        f"ratio {ratio:>7}  goal {fig.goal:<28} {verdict}{extra}"
    )


def measure(
    fig: Figure,
    run: Callable[[], float],
    floor: Callable[[], float] | None,
    *,
    runs: int = 3,
    warm: bool = True,
) -> Figure:
    """Interleave ``runs`` calls of ``run`` and ``floor`` (after one warm-up of each) and print the
    figure's line. Each call returns the figure in ``fig.unit``'s measure (seconds or rate)."""
    if warm:
        run()
        if floor is not None:
            floor()
    for _ in range(max(runs, 3)):
        fig.values.append(run())
        if floor is not None:
            fig.floors.append(floor())
    RESULTS.append(fig)
    print(line(fig), flush=True)
    return fig


def record(fig: Figure, values: list[float], floors: list[float]) -> Figure:
    """A figure measured by the caller (e.g. a first request that cannot be repeated in-process)."""
    fig.values, fig.floors = list(values), list(floors)
    RESULTS.append(fig)
    print(line(fig), flush=True)
    return fig


def summary() -> int:
    missed = [f for f in RESULTS if f.met is False]
    print(f"\n{len(RESULTS)} figures, {len(missed)} goals missed" + (": " if missed else ""))
    for f in missed:
        print(f"  missed: {f.name}")
    return len(missed)
