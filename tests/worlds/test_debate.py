"""Debates: private opinions and public stances, group transcripts, measures, real transcripts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from populace import Actions, Population, Simulation
from populace.testing import check_world
from populace.worlds.debate import DebateWorld, TranscriptError, load_transcript, measure

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("params", [{}, {"group_size": 3, "rounds": 2}])
def test_conforms_to_the_world_contract(params: dict[str, object]) -> None:
    check_world(DebateWorld(Population(size=9), params))


@pytest.mark.parametrize("name", ["debate-transcript.csv", "debate-transcript.jsonl"])
def test_a_real_transcript_loads_and_is_measured(name: str) -> None:
    transcript = load_transcript(DATA / name)
    assert len(transcript) == 18 and transcript.message[6] == "I am against, but I see the point."
    table = transcript.opinions()
    assert table[2].tolist() == [3, 4, 5, 4, 5, 5]  # b3 did not report in round 2: carried forward
    m = measure(transcript)
    assert m["opinion_change"] == pytest.approx(5 / 6)
    start = (np.std([1, 4, 7]) + np.std([3, 5, 5])) / 2
    end = (np.std([3, 4, 5]) + np.std([4, 5, 5])) / 2
    assert m["within_group_sd_start"] == pytest.approx(start) and m["convergence"] == pytest.approx(1 - end / start)
    assert m["public_private_gap"] == pytest.approx(3 / 11)
    assert "rounds_to_converge" not in m
    assert measure(transcript, converged_sd=0.7)["rounds_to_converge"] == 2


def test_bad_transcripts_get_one_clear_line(tmp_path: Path) -> None:
    missing = tmp_path / "t.csv"
    missing.write_text("agent,round,message\na,0,hi\n")
    with pytest.raises(TranscriptError, match=r"missing field\(s\) opinion"):
        load_transcript(missing)
    bad = tmp_path / "t.jsonl"
    bad.write_text('{"agent": "a", "round": "first", "message": "", "opinion": 1}\n')
    with pytest.raises(TranscriptError, match="a bad value"):
        load_transcript(bad)
    with pytest.raises(TranscriptError, match="does not exist"):
        load_transcript(tmp_path / "nope.csv")


def test_speech_is_public_to_the_group_and_opinions_stay_private() -> None:
    world = DebateWorld(Population(size=4), {"group_size": 2, "rounds": 2})
    world.reset(0)
    ids = np.arange(4)
    world.apply([Actions("speak", ids, {"message": np.array(["a", "b", "c", "d"], dtype=object),
                                        "stance": np.array([1.0, 3.0, 5.0, 7.0])}),
                 Actions("report", ids, {"opinion": np.array([2.0, 3.0, 5.0, 6.0])})])
    world.tick()
    obs = world.observe(ids)
    assert obs["transcript"][0] == "Round 1, participant 0: a\nRound 1, participant 1: b"
    assert obs["group_stance"].tolist() == [3.0, 1.0, 7.0, 5.0]  # the others' stances, not the own
    assert obs["opinion"].tolist() == [2.0, 3.0, 5.0, 6.0]
    assert world.metrics()["public_private_gap"] == pytest.approx(0.5)
    (rejected,) = world.apply([Actions("report", np.array([0]), {"opinion": np.array([9.0])})])
    assert rejected.outcome[0] == "rejected"  # outside the 1-7 scale


def debate(overrides: list[str]) -> Simulation:
    return Simulation.from_scenario("debate", ["trace.events=none", *overrides]).run()


def test_debate_scenario_groups_converge_and_public_stances_drift_from_private_opinions() -> None:
    sim = debate([])
    m = sim.metrics()
    assert m["within_group_sd"].is_monotonic_decreasing
    assert m["convergence"].iloc[-1] > 0.8 and m["rounds_to_converge"].iloc[-1] == 4
    assert 0.1 < m["public_private_gap"].iloc[-1] < 0.3
    assert m["opinion_mean"].iloc[-1] == pytest.approx(m["opinion_mean"].iloc[0])  # averaging keeps the mean
    world = sim.world
    assert isinstance(world, DebateWorld)
    simulated = measure(world.transcript())
    assert simulated["convergence"] == pytest.approx(m["convergence"].iloc[-1])
    assert simulated["opinion_change"] == pytest.approx(m["opinion_change"].iloc[-1])


def test_stubborn_debaters_neither_converge_nor_dissemble() -> None:
    m = debate(["minds.0.policy=stubborn_debater", "minds.0.params={}"]).metrics().iloc[-1]
    assert m["convergence"] == 0 and m["opinion_change"] == 0 and m["public_private_gap"] == 0


def test_a_generative_mind_debates_through_the_text_observations() -> None:
    sim = debate(["trace.events=all", "population.size=4", "world.params.group_size=2", "model={backend: scripted}",
                  "minds=[{select: 'index < 2', type: generative, plan: false}, {type: rules, policy: stubborn_debater}]"])
    events = sim.events().to_pandas()
    by_model = events[(events.agent < 2) & (events.outcome == "ok")]
    assert set(by_model.action) <= {"speak", "report"} and len(by_model) > 0
