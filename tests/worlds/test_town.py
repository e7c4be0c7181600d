from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from populace import Simulation
from populace.actions import Actions
from populace.errors import ScenarioError
from populace.population import Population
from populace.testing import check_world
from populace.worlds.town import TownWorld

PARTY = {"key": "party", "text": "Party at Hobbs Cafe tomorrow at 5pm!", "keywords": ["party"], "known_by": [0],
         "place": "Hobbs Cafe", "at": "2023-02-14T17:00:00", "hours": 2}


def town(n: int = 6, **params: object) -> TownWorld:
    w = TownWorld(Population(size=n), params)
    w.reset(0)
    w.set_clock(0, datetime(2023, 2, 13, 10, 0))
    return w


def put(w: TownWorld, agents: list[int], place: str) -> None:
    w.location[agents] = w.place_index[place]


def talk(w: TownWorld, speaker: int, to: int, text: str) -> str:
    events = w.apply([Actions("talk", np.asarray([speaker]), {"to": np.asarray([to]),
                                                             "text": np.asarray([text], dtype=object)})])
    return str(events[0].outcome[0])


def test_town_passes_check_world() -> None:
    check_world(TownWorld(Population(size=9), {"facts": [PARTY], "acquaintance": 0.2}), steps=6)


def test_facts_spread_only_by_a_knower_mentioning_them_to_someone_present() -> None:
    w = town(facts=[PARTY])
    put(w, [0, 1, 2], "Hobbs Cafe")
    put(w, [3], "Johnson Park")
    assert talk(w, 0, 3, "There is a party!") == "rejected"  # not at the same place
    assert talk(w, 0, 1, "Lovely weather today") == "ok"
    assert not w.knows[1, 0]  # talking is not enough: the fact must be mentioned
    assert talk(w, 2, 1, "I heard of a party?") == "ok"
    assert not w.knows[1, 0]  # mentioning it without knowing it passes nothing on
    assert talk(w, 0, 1, "Come to my PARTY tomorrow") == "ok"
    assert w.knows[1, 0] and w.metrics()["informed_party"] == 1.0


def test_talking_builds_the_relationship_network() -> None:
    w = town(5)
    put(w, [0, 1, 2, 3, 4], "Johnson Park")
    assert w.metrics()["density"] == 0.0
    talk(w, 0, 1, "hello")
    talk(w, 1, 0, "hello again")  # the same pair
    talk(w, 2, 3, "hi")
    w.tick()
    m = w.metrics()
    assert m["density"] == pytest.approx(2 / 10) and m["conversations"] == 3
    obs = w.observe(np.asarray([1, 4]))
    assert "Agent 0 to Agent 1: hello" in obs["conversation"][0]
    assert "Agent 2 to Agent 3: hi" in obs["conversation"][1]  # heard by everyone at the place


def test_travel_takes_time_along_the_graph() -> None:
    w = town(2, minutes_per_block=10)
    put(w, [0], "Hobbs Cafe")
    events = w.apply([Actions("go", np.asarray([0, 1]), {"place": np.asarray(["Oak Hill College", "Atlantis"],
                                                                              dtype=object)})])
    assert events[0].outcome.tolist() == ["ok", "rejected"]
    assert events[0].reason is not None and "no such place" in str(events[0].reason[1])
    minutes = w.travel[w.place_index["Hobbs Cafe"], w.place_index["Oak Hill College"]]
    assert minutes == 50  # 3 + 2 blocks at 10 minutes each
    assert w.observe(np.asarray([0]))["place"][0] == "on the way to Oak Hill College"
    w.set_clock(1, datetime(2023, 2, 13, 10, 30))
    assert w.observe(np.asarray([0]))["place"][0] == "on the way to Oak Hill College"
    w.set_clock(2, datetime(2023, 2, 13, 11, 0))
    assert w.observe(np.asarray([0]))["place"][0] == "Oak Hill College"


def test_observation_columns_for_language_minds() -> None:
    w = town(4, facts=[PARTY])
    put(w, [0, 1], "Hobbs Cafe")
    obs = w.observe(np.asarray([0]))
    assert obs["place"][0] == "Hobbs Cafe" and obs["here"][0] == "Agent 1 (1)"
    assert obs["time"][0] == "Monday 13 February 2023, 10:00"
    assert obs["knows"][0] == PARTY["text"] and obs["known_facts"][0].tolist() == [True]
    assert obs["plan"][0].startswith("00:00-")


def test_an_event_at_an_unknown_place_is_one_clear_error() -> None:
    with pytest.raises(ScenarioError, match="not a place in town"):
        town(facts=[{**PARTY, "place": "Atlantis"}])


def _party(*overrides: str) -> dict[str, float]:
    metrics = Simulation.from_scenario("party", list(overrides)).run().metrics()
    final = metrics.iloc[-1]
    return {"informed": final["informed_party"], "attended": final["attended_party"],
            "present": final["present_party"], "density_start": metrics["density"].iloc[0],
            "density": final["density"]}


def test_party_news_spreads_guests_come_and_the_network_densifies() -> None:
    run = _party()
    assert 6 <= run["informed"] <= 24  # from Isabella alone to a good part of town
    assert 2 <= run["attended"] <= run["informed"]
    assert run["present"] >= run["attended"]
    assert run["density_start"] == pytest.approx(0.167, abs=0.01)
    assert run["density"] > run["density_start"] + 0.15


def test_party_without_telling_nobody_learns_and_no_guest_comes() -> None:
    run = _party("minds.0.params.tell=0")
    assert run["informed"] == 0 and run["attended"] == 0


def test_crowds_are_named_up_to_a_limit_and_partners_are_present() -> None:
    w = town(40, here_shown=3)
    put(w, list(range(30)), "Johnson Park")
    obs = w.observe(np.arange(40))
    assert obs["here"][0] == "Agent 1 (1), Agent 2 (2), Agent 3 (3) and 26 others"
    assert obs["n_here"][:30].tolist() == [29] * 30
    partners = obs["nearby"][:30]
    assert (partners >= 0).all() and (partners != np.arange(30)).all() and (partners < 30).all()
