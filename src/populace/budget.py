"""What a run has spent, against the caps of its scenario's ``budget:``.

Spending is summed over the step table (``llm_calls``, ``llm_tokens_in`` + ``llm_tokens_out``,
``llm_seconds``, ``wall_s``), so a resumed run's spending covers all its steps, and any reader of
the run store can recompute it. The simulation checks the budget after every step: the step that
reaches a cap is the last one spent at full cost, and the run then stops at a checkpoint or steps
its model minds down their fallback chains (``on_exhausted``). A run therefore spends at most one
step's worth past a cap, never more.

    budget: {calls: 500, on_exhausted: degrade}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from populace.scenario import BudgetSpec

#: what each limit counts, in words, for messages
UNITS = {"calls": "model calls", "tokens": "model tokens", "model_seconds": "model seconds",
         "wall_seconds": "wall seconds"}


@dataclass
class Spending:
    """What some steps of a run spent."""

    calls: int = 0
    tokens: int = 0
    model_seconds: float = 0.0
    wall_seconds: float = 0.0

    @classmethod
    def of_step(cls, row: Mapping[str, Any]) -> Spending:
        """The spending of one step-table row (or step summary)."""
        def number(key: str) -> float:
            value = row.get(key)
            return float(value) if value is not None and value == value else 0.0  # None or NaN: not recorded

        return cls(int(number("llm_calls")), int(number("llm_tokens_in") + number("llm_tokens_out")),
                   number("llm_seconds"), number("wall_s"))

    @classmethod
    def of_steps(cls, rows: Iterable[Mapping[str, Any]]) -> Spending:
        total = cls()
        for row in rows:
            total.add(cls.of_step(row))
        return total

    def add(self, other: Spending) -> None:
        self.calls += other.calls
        self.tokens += other.tokens
        self.model_seconds += other.model_seconds
        self.wall_seconds += other.wall_seconds

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Reached:
    """A cap that a run's spending has reached."""

    limit: str  # calls, tokens, model_seconds or wall_seconds
    spent: float
    cap: float

    def __str__(self) -> str:
        """``512 of 500 model calls``"""
        return f"{_amount(self.spent)} of {_amount(self.cap)} {UNITS[self.limit]}"


def exhausted(budget: BudgetSpec | None, spent: Spending) -> Reached | None:
    """The first cap that ``spent`` has reached; None while none is (or there is no budget)."""
    if budget is None:
        return None
    for name in UNITS:
        cap = getattr(budget, name)
        if cap is not None and getattr(spent, name) >= cap:
            return Reached(name, getattr(spent, name), cap)
    return None


def stop_message(reached: Reached, done: int, total: int, run: str | None) -> str:
    """The line that ends a run stopped by its budget, saying how to go on."""
    resume = f"; `populace resume {run} --set budget.{reached.limit}=N` goes on with a larger one" if run else ""
    return f"budget exhausted: {reached}; stopped after {done}/{total} steps{resume}"


def _amount(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
