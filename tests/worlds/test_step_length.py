"""Step-length invariance: the same scenario over the same simulated span, at its own step and at a
step 6-30 times finer, ends with the same outcome within seed noise.

Every rate, half-life, delay and time in these scenarios is simulated time, and sessions are a
rate in it (``populace.clock``, ``populace.scheduler``), so what a run approximates is one
continuous-time model; a step only delays, to its end, what others see of a session. Before that,
the ``misinformation`` rumour reached 41.8 users in a day at hourly steps and 9.7 at 2-minute ones.

The tolerance is the seed noise, measured in the test itself: the mean over ``SEEDS`` seeds at each
step has a standard error ``s / sqrt(SEEDS)`` (``s`` the seeds' sample deviation); the difference
of the two independent means has ``se = sqrt(se_coarse**2 + se_fine**2)``, and noise alone keeps
it within ``3 se`` with probability 0.997. The seeds are fixed, so the test is deterministic. So
that a noisy outcome cannot pass by being noisy, ``3 se`` must also be small against the outcome
(``NARROW`` of its coarse mean). Worlds whose step is a round (games, donor, commons, grid,
wealth, debate, marketplace, economy, narrative) have no finer clock; the epidemic and the stock
market have rates per day and refuse any other step (tested in the scenario tests). Where many
sessions act on the same item within one step (``polarization``, ``herd-effect``), hourly steps
are measurably off the continuous-time model: ``benchmarks/step_length.py`` and the social world's
docs give the numbers.
"""

from __future__ import annotations

import statistics

from populace import Simulation, load_scenario
from populace.simulation import StepResult

SEEDS = 8
NARROW = 0.3
RULES_ONLY = ["world.params.text=false"]  # rules minds read no text: the social world renders none


def outcome(scenario: str, step: str, steps: int, metric: str, seed: int, overrides: list[str]) -> float:
    loaded = load_scenario(scenario, [*overrides, f"clock.step={step}", f"steps={steps}", f"seed={seed}",
                                      "trace.events=none"])
    final: dict[str, float] = {}

    def keep(result: StepResult) -> None:
        final.update(result.metrics)

    Simulation(loaded).run(progress=keep)
    return final[metric]


def assert_same_within_noise(scenario: str, metric: str, coarse: tuple[str, int], fine: tuple[str, int],
                             overrides: list[str] | None = None) -> None:
    values = {step: [outcome(scenario, step, steps, metric, seed, overrides or []) for seed in range(SEEDS)]
              for step, steps in (coarse, fine)}
    (coarse_values, fine_values) = values.values()
    means = [statistics.fmean(v) for v in (coarse_values, fine_values)]
    se = (sum(statistics.variance(v) / SEEDS for v in (coarse_values, fine_values))) ** 0.5
    said = f"{metric}: {coarse[0]} {means[0]:.4g}, {fine[0]} {means[1]:.4g}, 3 s.e. {3 * se:.3g} ({values})"
    assert abs(means[0] - means[1]) <= 3 * se, said
    assert 3 * se <= NARROW * abs(means[0]), f"too noisy to tell: {said}"


def test_a_rumour_reaches_as_many_users_in_a_day_at_hourly_and_2_minute_steps() -> None:
    """The issue's table: 24 simulated hours of the misinformation scenario (111 real users)."""
    assert_same_within_noise("misinformation", "cascade_scale", ("1h", 24), ("2m", 720), RULES_ONLY)


def test_bounded_confidence_narrows_opinions_as_far_at_hourly_and_10_minute_steps() -> None:
    """Four simulated days of the opinion scenario (its campaign at hour 60 included), 300 agents."""
    assert_same_within_noise("opinion", "variance", ("1h", 96), ("10m", 576), ["population.size=300"])


def test_the_town_talks_as_much_at_half_hour_and_5_minute_steps() -> None:
    """The party scenario's 36 hours: chats are a rate an hour, moves and the party clock times; the
    relationship network is who talked (the party's guest counts are too few to tell apart)."""
    assert_same_within_noise("party", "density", ("30m", 72), ("5m", 432))
