"""The donor game: doubled donations, recipient histories, generations, inheritance, punishment."""

from __future__ import annotations

import numpy as np
import pytest

from populace import Actions, Population, Simulation
from populace.testing import check_world
from populace.worlds.games.donor import DonorWorld


@pytest.mark.parametrize("params", [{}, {"punishment": True, "rounds": 2}])
def test_conforms_to_the_world_contract(params: dict[str, object]) -> None:
    check_world(DonorWorld(Population(size=12), params))


def test_donations_are_doubled_and_punishment_costs_both() -> None:
    world = DonorWorld(Population(size=3), {"punishment": True, "rounds": 5})
    world.reset(0)
    donor = 0
    recipient = int(world.recipient[donor])
    third = 3 - donor - recipient
    world.apply([Actions("donate", np.array([donor]), {"fraction": np.array([0.5])}),
                 Actions("punish", np.array([recipient]), {"fraction": np.array([0.1])})])
    world.tick()
    # the donor gave 5 and the recipient got 10; the recipient spent 1 to take 2 from its own recipient
    assert world.resources[donor] == pytest.approx(5.0)
    assert world.resources[recipient] == pytest.approx(10 + 10 - 1)
    assert world.resources[third] == pytest.approx(10 - 2)


def test_donors_see_the_recipients_recent_history() -> None:
    world = DonorWorld(Population(size=4), {"history_depth": 2})
    world.reset(1)
    everyone = np.arange(4)
    world.apply([Actions("donate", everyone, {"fraction": np.array([0.1, 0.2, 0.3, 0.4])})])
    world.tick()
    obs = world.observe(everyone)
    for i in range(4):
        rec = int(obs["recipient"][i])
        assert obs["recipient_last"][i] == pytest.approx([0.1, 0.2, 0.3, 0.4][rec])
        assert obs["history"][i].startswith(f"In round 1, agent {rec} gave {[10, 20, 30, 40][rec]}% of their")


def test_the_richer_half_survives_and_newcomers_inherit_its_strategy() -> None:
    world = DonorWorld(Population({"g": np.array([0.0, 1.0])}), {"rounds": 1, "generosity": "g", "mutation": 0.0})
    world.reset(0)
    world.apply([Actions("set_strategy", np.arange(2), {"strategy": np.array(["keep", "give"], dtype=object)})])
    obs = world.observe(np.arange(2))
    world.apply([Actions("donate", obs.agents, {"fraction": obs["generosity"]})])
    (event,) = world.tick()  # the keeper ends with 30, the giver with 0
    assert event.kind == "generation" and event.agents.tolist() == [1]
    assert world.generation_resources == [15.0]
    assert world.generosity.tolist() == [0.0, 0.0] and world.strategy.tolist() == ["keep", "keep"]
    assert world.generation == 1 and world.resources.tolist() == [10.0, 10.0]


def test_the_step_that_ends_a_generation_reports_that_generation_not_the_next() -> None:
    world = DonorWorld(Population({"g": np.array([0.0, 1.0])}), {"rounds": 2, "generosity": "g", "mutation": 0.0})
    world.reset(0)
    for _ in range(2):  # both rounds of the first generation
        obs = world.observe(np.arange(2))
        world.apply([Actions("donate", obs.agents, {"fraction": obs["generosity"]})])
        world.tick()
        m = world.metrics()
        assert m["generation"] == 1 and m["donation_rate"] == 0.5
    # the giver handed all 10 units to the keeper, who got 20: 30 and 0, a mean of 15, not the restart's 10
    assert m["resources_mean"] == pytest.approx(15.0) == world.generation_resources[-1]
    assert m["generosity_mean"] == 0.5  # who played, not the keeper's heirs now in place
    assert world.resources.tolist() == [10.0, 10.0] and world.generosity.tolist() == [0.0, 0.0]
    world.tick()  # the next step plays the new generation's first round
    assert world.metrics()["generation"] == 2 and world.metrics()["generosity_mean"] == 0.0


def test_punishing_is_rejected_when_the_world_does_not_allow_it() -> None:
    world = DonorWorld(Population(size=4))
    world.reset(0)
    assert "punish" not in world.action_space  # not offered to minds at all
    (events,) = world.apply([Actions("punish", np.array([0]), {"fraction": np.array([0.5])})])
    assert events.outcome[0] == "rejected" and "unknown action 'punish'" in events.reason[0]
    forced = DonorWorld(Population(size=4), available=["donate", "punish"])
    forced.reset(0)
    (events,) = forced.apply([Actions("punish", np.array([0]), {"fraction": np.array([0.5])})])
    assert events.reason[0] == "punishment is off in this world"


def run(overrides: list[str]) -> object:
    return Simulation.from_scenario("donor-game", ["trace.events=none", *overrides]).run().metrics()


def test_donor_game_scenario_reciprocity_sustains_cooperation_that_unconditional_giving_loses() -> None:
    reciprocal = run([])
    unconditional = run(["minds.0.params={}"])
    for m in (reciprocal, unconditional):
        assert (m["generation"].value_counts() == 12).all()  # every row is one of a generation's 12 rounds
        last = m.iloc[-1]  # the run ends on its tenth generation's final standing, not a fresh eleventh
        assert last["generation"] == 10 and last["resources_mean"] == last["generation_resources"]
    gen = reciprocal["generation_resources"].dropna().drop_duplicates()
    assert len(gen) == 10
    # without conditioning on reputation, generosity is selected away and gains vanish
    assert unconditional["generosity_mean"].iloc[-1] < 0.05 < 0.15 < reciprocal["generosity_mean"].iloc[-1]
    assert unconditional["generation_resources"].iloc[-1] < 20 < 40 < reciprocal["generation_resources"].iloc[-1]


def test_an_archetype_mind_donates_after_reading_the_recipients_history() -> None:
    """A scripted model that answers "give" hands over half; everyone gains, nobody evolves away."""
    m = Simulation.from_scenario("donor-game", [
        "trace.events=none", "steps=24", "model={backend: scripted, probabilities: {give: 1, keep: 0}}",
        "minds=[{type: archetype, prompt: 'Recipient: {obs.history} Your strategy: {obs.strategy}. {options}',"
        " options: {give: {action: donate, args: {fraction: 0.5}}, keep: null}}]",
    ]).run().metrics()
    assert m["donation_rate"].tolist() == [0.5] * 24
    assert m["generation_resources"].dropna().iloc[-1] > 100
