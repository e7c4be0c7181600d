"""Pure functions from a run's trace to tables: cascades, networks, polarization, inequality,
cooperation, herding, epidemics, activity and model usage.

Read a run with :func:`events`, :func:`steps`, :func:`metrics` (pandas) or any Parquet reader
(polars, DuckDB) over ``<run>/events/*.parquet``; then measure::

    from populace import analysis
    ev = analysis.events("runs/wealth-...")
    analysis.actions_per_step(ev)
"""

from populace.analysis.behaviour import (
    actions_per_step,
    compartments,
    cooperation_rates,
    epidemic_curve,
    herd_choices,
    herd_scores,
    model_usage,
)
from populace.analysis.cascades import cascade_growth, cascade_tree, cascades, posts_from_events, posts_in_trace
from populace.analysis.distributions import (
    bimodality_coefficient,
    gini_over_time,
    polarization,
    polarization_over_time,
)
from populace.analysis.ensembles import interval, metric_series, welch
from populace.analysis.network import degree_distribution, degrees_from_edges, friendship_paradox
from populace.analysis.snapshots import (
    agent_count,
    checkpoint_at_or_before,
    checkpoint_steps,
    describe,
    memories,
    network_at,
    network_bytes,
    population_at,
    snapshot,
    snapshot_at_or_before,
    snapshot_steps,
    snapshot_table,
    states,
)
from populace.analysis.tables import (
    events,
    has_table,
    latest,
    metrics,
    parse_json,
    parts,
    query,
    read_arrow,
    read_table,
    run_path,
    steps,
)

__all__ = [
    "actions_per_step",
    "agent_count",
    "bimodality_coefficient",
    "cascade_growth",
    "cascade_tree",
    "cascades",
    "checkpoint_at_or_before",
    "checkpoint_steps",
    "compartments",
    "cooperation_rates",
    "degree_distribution",
    "degrees_from_edges",
    "describe",
    "epidemic_curve",
    "events",
    "friendship_paradox",
    "gini_over_time",
    "has_table",
    "herd_choices",
    "herd_scores",
    "interval",
    "latest",
    "memories",
    "metric_series",
    "metrics",
    "model_usage",
    "network_at",
    "network_bytes",
    "parse_json",
    "parts",
    "polarization",
    "polarization_over_time",
    "population_at",
    "posts_from_events",
    "posts_in_trace",
    "query",
    "read_arrow",
    "read_table",
    "run_path",
    "snapshot",
    "snapshot_at_or_before",
    "snapshot_steps",
    "snapshot_table",
    "states",
    "steps",
    "welch",
]
