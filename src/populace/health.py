"""How a run went, in one line: its model decisions, the failed ones by cause, the share of actions
the world rejected, model calls and cache hits; and the verdict on a run whose model decisions
mostly failed, or whose model server stopped answering.

The figures are sums over the step table (``model_decisions``, ``failed_<cause>``, ``ok``,
``rejected``, ``llm_calls``, ``llm_cache_hits``), so a resumed run's health covers all its steps and
any reader of the run store can recompute them. A run stores them in its manifest (``health``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from populace.events import FAILED_BY, FALLBACK_BY, OK, REJECTED
from populace.llm.client import UNANSWERED

if TYPE_CHECKING:
    from populace.scenario import Scenario

#: step-table column: decisions made by minds that ask a language model
MODEL_DECISIONS = "model_decisions"
#: a run fails when more than this share of its model decisions failed ...
FAILING_SHARE = 0.5
#: ... and it made at least this many (a handful of failures says little)
MIN_DECISIONS = 5


@dataclass
class RunHealth:
    """Counts over some steps of a run (one step, or all of them)."""

    model_decisions: int = 0
    failed: dict[str, int] = field(default_factory=dict)  # failed decisions by cause
    ok: int = 0  # actions that took effect (every mind's)
    rejected: int = 0  # actions the world rejected
    model_calls: int = 0
    cache_hits: int = 0
    #: decisions a fallback mind made instead, by cause (a failed model decision, or ``budget``)
    fallback: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of_step(cls, row: Mapping[str, Any]) -> RunHealth:
        """The figures of one step-table row (or step summary)."""
        def number(key: str) -> int:
            value = row.get(key)
            return int(value) if value is not None and value == value else 0  # None or NaN: not recorded

        failed = {k.removeprefix(FAILED_BY): number(k) for k in row if k.startswith(FAILED_BY) and number(k)}
        fallback = {k.removeprefix(FALLBACK_BY): number(k) for k in row if k.startswith(FALLBACK_BY) and number(k)}
        return cls(number(MODEL_DECISIONS), failed, number(OK), number(REJECTED), number("llm_calls"),
                   number("llm_cache_hits"), fallback)

    @classmethod
    def of_steps(cls, rows: Iterable[Mapping[str, Any]]) -> RunHealth:
        """The figures summed over step-table rows."""
        total = cls()
        for row in rows:
            total.add(cls.of_step(row))
        return total

    def add(self, other: RunHealth) -> None:
        """Add another span's counts into this one."""
        self.model_decisions += other.model_decisions
        for cause, n in other.failed.items():
            self.failed[cause] = self.failed.get(cause, 0) + n
        self.ok += other.ok
        self.rejected += other.rejected
        self.model_calls += other.model_calls
        self.cache_hits += other.cache_hits
        for cause, n in other.fallback.items():
            self.fallback[cause] = self.fallback.get(cause, 0) + n

    @property
    def failures(self) -> int:
        return sum(self.failed.values())

    @property
    def decisions(self) -> int:
        """Model decisions (at least the failed ones: only minds that ask a model fail)."""
        return max(self.model_decisions, self.failures)

    @property
    def rejected_share(self) -> float:
        actions = self.ok + self.rejected
        return self.rejected / actions if actions else 0.0

    def causes(self) -> list[tuple[str, int]]:
        """Failure causes, the most frequent first."""
        return sorted(self.failed.items(), key=lambda item: (-item[1], item[0]))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failed": dict(self.causes()),
                "fallback": dict(sorted(self.fallback.items(), key=lambda item: (-item[1], item[0])))}

    def line(self) -> str:
        """``health: 412 model decisions, 3 failed (2 connection, 1 invalid_json), rejected 1.2 % of
        actions, 57 model calls, 12 cache hits`` (rules-only runs: the rejected share alone)."""
        rejected = f"rejected {100 * self.rejected_share:.1f} % of {self.ok + self.rejected:,} actions"
        if self.fallback:  # said before the rejected share, beside the failures it stood in for
            by = sorted(self.fallback.items(), key=lambda item: (-item[1], item[0]))
            rejected = (f"{sum(self.fallback.values()):,} by fallback ("
                        + ", ".join(f"{n:,} {cause}" for cause, n in by) + f"), {rejected}")
        if not self.decisions:
            return f"health: no model decisions, {rejected}"
        failed = f"{self.failures:,} failed"
        if self.failures:
            failed += " (" + ", ".join(f"{n:,} {cause}" for cause, n in self.causes()) + ")"
        return (f"health: {self.decisions:,} model decisions, {failed}, {rejected}, "
                f"{self.model_calls:,} model calls, {self.cache_hits:,} cache hits")

    def failing(self) -> bool:
        """Whether most model decisions failed (more than :data:`FAILING_SHARE`, of at least
        :data:`MIN_DECISIONS`)."""
        return self.decisions >= MIN_DECISIONS and self.failures > FAILING_SHARE * self.decisions

    def outage(self) -> str | None:
        """The cause, when every model decision of these steps failed because the model server was
        gone (one step with the server down); None otherwise."""
        unanswered = [cause for cause, _ in self.causes() if cause in UNANSWERED]
        if not self.decisions or sum(self.failed[c] for c in unanswered) < self.decisions:
            return None
        return unanswered[0]


def model_location(scenario: Scenario) -> str:
    """Where the scenario's model minds send their requests, for messages: ``at URL`` (or several),
    ``embedded`` for the in-process model, or ``scripted``."""
    specs = [dict(scenario.model)]
    specs += [{**scenario.model, **m.params()["model"]} for m in scenario.minds
              if isinstance(m.params().get("model"), dict)]
    urls: list[str] = []
    backends: list[str] = []
    for spec in specs:
        backend = str(spec.get("backend", "embedded"))
        if backend == "openai":
            servers = spec.get("servers") or [{"base_url": spec.get("base_url")}]
            urls += [str(s.get("base_url")) for s in servers if isinstance(s, dict) and s.get("base_url")]
        elif backend not in backends:
            backends.append(backend)
    if urls:
        return "at " + ", ".join(dict.fromkeys(urls))
    return " or ".join(f"({b})" for b in backends)


def advice(cause: str, where: str) -> str:
    """What a failure cause means, then what to change: ``what happened; what to do``."""
    if cause == "connection":
        return f"the model server {where} could not be reached; start it, or check model.base_url"
    if cause == "timeout":
        return (f"the model {where} did not answer within model.timeout; raise it, lower model.concurrency, "
                "or use a faster server")
    if cause == "invalid_json":
        return ("the model's answers were not JSON; constrain them with model.schema_mode (json_schema, or "
                "json_object for llama.cpp's server), or use a larger model")
    if cause == "schema_mismatch":
        return ("the model's JSON did not fit the action schema; constrain it with model.schema_mode, "
                "offer fewer actions, or use a larger model")
    if cause == "replay_miss":
        return "the response cache lacks these requests; replay needs the original run's cache"
    if cause == "no_logprobs":
        return ("the server returns no log-probabilities, which choices need; use one that does "
                "(vLLM, llama.cpp) or the generative tier")
    if cause == "invalid_response":
        return f"the answers {where} were not OpenAI-style JSON; check that model.base_url ends in /v1"
    if cause.startswith("http_4"):
        return (f"the server {where} refused the requests (HTTP {cause.removeprefix('http_')}); see its log: "
                "one that rejects the schema may accept model.schema_mode json_object or none")
    if cause.startswith("http_5"):
        return f"the server {where} failed (HTTP {cause.removeprefix('http_')}); see its log"
    return "see the failed decisions with `populace show`"


def failing_message(health: RunHealth, where: str) -> str:
    """The one line that ends a run whose model decisions mostly failed."""
    cause = health.causes()[0][0]
    by_cause = ", ".join(f"{n:,} {c}" for c, n in health.causes())
    return (f"{cause}: {health.failures:,} of {health.decisions:,} model decisions failed ({by_cause}): "
            f"{advice(cause, where)}")


def outage_message(cause: str, step: RunHealth, done: int, total: int, where: str, run: str | None) -> str:
    """The one line that stops a run whose model stopped answering (``step``: the last step's figures)."""
    resume = f"; `populace resume {run}` goes on from there" if run else ""
    return (f"{cause}: all {step.decisions:,} model decisions of the last step failed: {advice(cause, where)}. "
            f"The run stopped after {done}/{total} steps{resume}")
