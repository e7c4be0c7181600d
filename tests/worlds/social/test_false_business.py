"""false-business-0: the real rumour cascade, calibrated on its first hour, against that hour."""

from __future__ import annotations

import numpy as np

from populace import Simulation, load_scenario
from populace.operations.targets import nrmse, read_target
from populace.scenario import scenarios_dir

#: seeds the calibration never ran (it ran the scenario's seed 1 and the three after it)
FRESH_SEEDS = (5, 6, 7, 8)


def test_the_calibrated_cascade_follows_the_real_first_hour_and_reaches_depth_2() -> None:
    scenario = load_scenario("false-business-0")
    assert scenario.clock.start.isoformat() == "2014-10-09T18:48:22" and scenario.clock.step.total_seconds() == 60
    assert [(iv.args["author"], iv.args["topic"]) for iv in scenario.interventions] == [(32, "rumour")]
    real = read_target(scenarios_dir() / "data" / "false_business_0_first_hour.csv", cascades=["scale", "depth"],
                       start=scenario.clock.start)
    scale, depth = (np.asarray(m.values) for m in real.measures)
    runs = [Simulation.from_scenario("false-business-0", [f"seed={seed}", "steps=60", "trace.events=none"]).run()
            .metrics() for seed in FRESH_SEEDS]
    simulated = np.mean([m["cascade_scale"].to_numpy() for m in runs], axis=0)
    # minute m is the state after step m - 1; the calibration's own seeds (1-4) scored 0.020 on these
    # minutes, seeds 5-8 0.023 and 9-12 0.019: within the aim, 0.15 (RMSE over the real maximum)
    assert nrmse(simulated[:59], scale[1:]) <= 0.15
    assert abs(simulated[58] - scale[59]) <= 0.15 * scale.max()  # where the first hour ends
    # every seed's rumour reaches depth 2, as the real one did (at minute 9)
    assert all(m["cascade_depth"].max() >= 2 for m in runs) and depth.max() == 2
