"""What agents did: actions per step, cooperation rates, herd scores, epidemic curves, model usage."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from populace.analysis.tables import field


def actions_per_step(events: pd.DataFrame, outcome: str | None = "ok") -> pd.DataFrame:
    """Event counts indexed by step, one column per action (``outcome=None`` counts every outcome)."""
    chosen = events if outcome is None else events[events["outcome"] == outcome]
    if chosen.empty:
        return pd.DataFrame(index=pd.Index([], name="step", dtype="int64"))
    table = chosen.groupby(["step", "action"]).size().unstack("action", fill_value=0)
    table.columns.name = None
    return table.sort_index()


def cooperation_rates(
    events: pd.DataFrame, cooperate: Sequence[str] = ("cooperate",), defect: Sequence[str] = ("defect",),
    move: str | None = None,
) -> pd.DataFrame:
    """``step, cooperate, defect, rate`` where rate = cooperations / (cooperations + defections).

    Moves are action names, or with ``move`` the value of that argument (e.g. ``play`` with
    ``{"move": "C"}``); only accepted events count.
    """
    chosen = events[events["outcome"] == "ok"]
    kind = field(chosen, "args", move) if move else chosen["action"]
    frame = pd.DataFrame({"step": chosen["step"].astype("int64"),
                          "cooperate": kind.isin(list(cooperate)).astype(int),
                          "defect": kind.isin(list(defect)).astype(int)})
    frame = frame[(frame["cooperate"] + frame["defect"]) > 0]
    per_step = frame.groupby("step", sort=True)[["cooperate", "defect"]].sum().reset_index()
    total = per_step["cooperate"] + per_step["defect"]
    per_step["rate"] = per_step["cooperate"] / total
    return per_step


def herd_scores(choices: pd.DataFrame, treatment: str = "treatment", outcome: str = "outcome",
                control: str = "control") -> pd.DataFrame:
    """Herding by treatment (after Muchnik, Aral & Taylor 2013): ``treatment, n, rate, lift, relative``.

    ``choices`` has one row per exposed agent decision with a ``treatment`` label (e.g. the item
    was shown with an up-vote, a down-vote, or nothing) and a 0/1 ``outcome`` (e.g. up-voted).
    ``lift`` is the rate minus the control group's; ``relative`` is the rate over the control's.
    """
    grouped = choices.groupby(treatment, sort=True)[outcome].agg(["size", "mean"]).reset_index()
    grouped.columns = ["treatment", "n", "rate"]
    base = grouped.loc[grouped["treatment"] == control, "rate"]
    base_rate = float(base.iloc[0]) if len(base) else float("nan")
    grouped["lift"] = grouped["rate"] - base_rate
    grouped["relative"] = grouped["rate"] / base_rate if base_rate else float("nan")
    return grouped


def herd_choices(events: pd.DataFrame, treat: str = "treat_comment", up: str = "like_comment",
                 down: str = "dislike_comment") -> pd.DataFrame:
    """Later votes on treated comments as ``comment, treatment, agent, step, outcome`` (1 up, 0 down).

    Treatments come from ``treat`` events (``data``: ``comment_id``, ``group``), as the social
    world's ``herd_treatment`` records them; feed the result to :func:`herd_scores`.
    """
    ok = events[events["outcome"] == "ok"]
    treated = ok[ok["action"] == treat]
    group = dict(zip(field(treated, "data", "comment_id"), field(treated, "data", "group"), strict=True))
    votes = ok[ok["action"].isin([up, down])]
    comment = field(votes, "args", "comment_id")
    keep = comment.isin(list(group))
    votes, comment = votes[keep], comment[keep]
    return pd.DataFrame({
        "comment": comment.to_numpy(), "treatment": [group[c] for c in comment],
        "agent": votes["agent"].to_numpy(), "step": votes["step"].to_numpy(),
        "outcome": (votes["action"] == up).astype(int).to_numpy(),
    })


def epidemic_curve(
    events: pd.DataFrame, population: int, initial: int = 0, steps: int | None = None,
    infect: Sequence[str] = ("infect", "infection"), recover: Sequence[str] = ("recover", "recovery"),
) -> pd.DataFrame:
    """SIR counts per step from infection and recovery events (one event row per agent).

    Returns ``step, new_infections, new_recoveries, susceptible, infected, recovered, incidence``
    (incidence = new infections per susceptible at the start of the step). ``initial`` agents are
    infected before step 0.
    """
    chosen = events[events["outcome"] == "ok"]
    last = int(chosen["step"].max()) if len(chosen) else -1
    n_steps = steps if steps is not None else last + 1
    steps_index = np.arange(max(n_steps, 0))
    new_inf = np.bincount(chosen.loc[chosen["action"].isin(list(infect)), "step"].astype(int), minlength=n_steps)
    new_rec = np.bincount(chosen.loc[chosen["action"].isin(list(recover)), "step"].astype(int), minlength=n_steps)
    new_inf, new_rec = new_inf[:n_steps], new_rec[:n_steps]
    infected_total = initial + np.cumsum(new_inf)
    recovered = np.cumsum(new_rec)
    susceptible = population - infected_total
    susceptible_before = np.r_[population - initial, susceptible[:-1]] if n_steps else susceptible
    with np.errstate(divide="ignore", invalid="ignore"):
        incidence = np.where(susceptible_before > 0, new_inf / susceptible_before, 0.0)
    return pd.DataFrame({
        "step": steps_index, "new_infections": new_inf, "new_recoveries": new_rec,
        "susceptible": susceptible, "infected": infected_total - recovered, "recovered": recovered,
        "incidence": incidence,
    })


def compartments(states: pd.DataFrame, labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Agents per disease stage (or any categorical state) per step, from a ``step, agent, value``
    table such as ``states(run, "stage")``; ``labels[i]`` names code ``i`` (e.g. the epidemic
    world's ``STAGES``). Indexed by step, one column per stage, zeros where a stage is empty."""
    if states.empty:
        return pd.DataFrame(index=pd.Index([], name="step", dtype="int64"))
    values = states["value"]
    if labels is not None:
        values = values.map(lambda v: labels[int(v)] if 0 <= int(v) < len(labels) else v)
    table = pd.crosstab(states["step"], values)
    if labels is not None:
        table = table.reindex(columns=list(labels), fill_value=0)
    table.columns.name = None
    return table


#: step-table columns that count model use, as minds report them (any ``llm_*`` column too)
USAGE_COLUMNS = ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "tokens", "failures", "retries")


def model_usage(steps: pd.DataFrame) -> pd.DataFrame:
    """Language-model calls, cache hits and tokens per step from the steps table's ``llm_*`` columns.

    Returns ``step`` and the usage columns found (names without the ``llm_`` prefix), plus
    ``cache_hit_rate`` when both calls and cache hits are recorded; an empty frame when the
    run used no language model.
    """
    found = {c: c.removeprefix("llm_") for c in steps.columns
             if c.startswith("llm_") or c in USAGE_COLUMNS}
    if not found or "step" not in steps.columns:
        return pd.DataFrame()
    usage = steps[["step", *found]].rename(columns=found).fillna(0).reset_index(drop=True)
    if "calls" in usage and "cache_hits" in usage:
        lookups = usage["calls"] + usage["cache_hits"]
        usage["cache_hit_rate"] = np.where(lookups > 0, usage["cache_hits"] / lookups.where(lookups > 0, 1), 0.0)
    return usage
