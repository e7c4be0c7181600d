"""One name, one meaning: the social world's ``cascade_*`` metrics and ``populace.analysis``'s
cascades measure the same tree the same way (scale: distinct users, as OASIS counts it)."""

from __future__ import annotations

from pathlib import Path

from populace import analysis
from populace.simulation import Simulation


def test_the_world_metrics_and_the_analysis_agree_on_the_rumour_cascade(tmp_path: Path) -> None:
    sim = Simulation.from_scenario("false-business-0", ["steps=30", "seed=3"], runs_dir=tmp_path)
    sim.run()
    metrics = sim.metrics()
    posts = analysis.posts_in_trace(sim.path)
    rumour = posts[(posts["agent"] == 32) & posts["parent"].isna()].iloc[0]["post"]  # user 32 posts it first
    growth = analysis.cascade_growth(posts)
    tree = growth[growth["root"] == rumour].set_index("step")
    assert tree["scale"].iloc[-1] > 20  # the rumour spread
    for step, row in tree.iterrows():  # after every step the tree grew, both say the same
        assert row["scale"] == metrics["cascade_scale"].iloc[step]
        assert row["depth"] == metrics["cascade_depth"].iloc[step]
        assert row["max_breadth"] == metrics["cascade_max_breadth"].iloc[step]
    final = analysis.cascades(posts).set_index("root").loc[rumour]
    assert (final["scale"], final["depth"]) == (metrics["cascade_scale"].iloc[-1], metrics["cascade_depth"].iloc[-1])
