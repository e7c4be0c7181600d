from __future__ import annotations

import numpy as np
import pytest

from populace import Actions, Population, Simulation
from populace.errors import ScenarioError
from populace.testing import check_world
from populace.worlds.market import Marketplace, StockMarket
from populace.worlds.market.stocks import call_auction


def test_both_markets_conform_to_the_world_contract() -> None:
    check_world(Marketplace(Population(size=30), {"customers": 20}))
    check_world(StockMarket(Population(size=30), {}))


def reasons(events: list) -> list[tuple[str, int, object]]:
    return [(e.kind, int(a), None if e.reason is None else e.reason[i])
            for e in events for i, a in enumerate(e.agents)]


def test_a_deal_goes_search_request_propose_counter_accept() -> None:
    w = Marketplace(Population(size=6), {"customers": 2, "categories": 1, "search_order": "fixed"})
    w.reset(0)
    w.apply([Actions("search", np.array([0]))])
    assert w.observe(np.array([0]))["results"][0] == [2, 3, 4, 5]
    events = w.apply([Actions("request", np.array([0, 0, 1]), {"business": np.array([2, 3, 2])})])
    assert ("request", 1, "not in your search results") in reasons(events)
    events = w.apply([Actions("propose", np.array([3, 2, 4]), {"customer": np.array([0, 0, 0]),
                                                               "price": np.array([50.0, 60.0, 10.0])})])
    assert ("propose", 4, "that customer has not asked you") in reasons(events)
    proposals = w.observe(np.array([0]))["proposals"][0]
    assert [(b, price) for b, price, _, _ in proposals] == [(2, 60.0), (3, 50.0)] or \
        [(b, price) for b, price, _, _ in proposals] == [(3, 50.0), (2, 60.0)]
    w.apply([Actions("counter", np.array([0]), {"business": np.array([3]), "price": np.array([45.0])})])
    assert w.observe(np.array([3]))["requests"][0] == [(0, 45.0)]
    w.apply([Actions("propose", np.array([3]), {"customer": np.array([0]), "price": np.array([45.0])})])
    events = w.apply([Actions("accept", np.array([0, 1]), {"business": np.array([3, 3])})])
    assert ("accept", 1, "no open proposal from that business") in reasons(events)
    assert w.metrics()["mean_price"] == 45.0 and w.metrics()["deal_rate"] == 0.5
    again = w.apply([Actions("search", np.array([0, 2]))])
    assert reasons(again) == [("search", 0, "has already bought"), ("search", 2, "only customers can do this")]


def test_faster_businesses_proposals_arrive_first() -> None:
    w = Marketplace(Population(size=12), {"customers": 2, "categories": 1, "search_order": "fixed"})
    w.reset(1)
    w.apply([Actions("search", np.array([0]))])
    sellers = np.arange(2, 12)
    w.apply([Actions("request", np.zeros(8, np.int64), {"business": sellers[:8]})])
    w.apply([Actions("propose", sellers[:8], {"customer": np.zeros(8, np.int64), "price": np.full(8, 50.0)})])
    order = [b for b, *_ in w.observe(np.array([0]))["proposals"][0]]
    assert order == sorted(order, key=lambda b: w.latency[b])


def test_first_proposal_bias_costs_customers_welfare() -> None:
    compare = Simulation.from_scenario("marketplace").run().metrics().iloc[-1]
    first = Simulation.from_scenario("marketplace", ["minds.0.params.strategy=first"]).run().metrics().iloc[-1]
    assert first["first_proposal_share"] == 1.0
    assert compare["first_proposal_share"] < 0.4  # about 1 in 5 when five proposals are compared
    assert compare["best_value_share"] > 0.9 > 0.5 > first["best_value_share"]
    assert compare["consumer_welfare"] > 1.3 * first["consumer_welfare"]
    assert compare["mean_markup"] < first["mean_markup"]  # haggling lowers prices
    assert compare["deal_rate"] == first["deal_rate"] == 1.0


def test_call_auction_clears_at_the_volume_maximising_price() -> None:
    # bids: 10 @ 102, 5 @ 100, 5 @ 98; asks: 8 @ 99, 8 @ 101
    price, volume, bought, sold = call_auction(
        np.array([102.0, 100.0, 98.0]), np.array([10, 5, 5]), np.array([99.0, 101.0]), np.array([8, 8]), 100.0)
    assert (price, volume) == (101.0, 10)  # at 101: demand 10, supply 16; at 100 or 99: supply only 8
    assert bought.tolist() == [10, 0, 0] and sold.tolist() == [8, 2]
    assert call_auction(np.array([90.0]), np.array([5]), np.array([95.0]), np.array([5]), 93.0)[:2] == (93.0, 0)


def test_orders_reserve_cash_and_shares_and_trades_conserve_them() -> None:
    w = StockMarket(Population(size=10), {"initial_shares": 10, "initial_cash": 1000.0})
    w.reset(2)
    cash, shares = w.cash.sum(), w.shares.sum()
    poor = int(np.argmin(w.cash))
    events = w.apply([
        Actions("buy", np.array([poor, poor]), {"shares": np.array([1, 10_000]), "limit": np.array([101.0, 101.0])}),
        Actions("sell", np.array([1, 1, 2]), {"shares": np.array([6, 6, 3]), "limit": np.array([99.0, 99.0, 100.0])}),
    ])
    assert ("buy", poor, "not enough cash") in reasons(events)
    assert ("sell", 1, "not enough shares") in reasons(events)  # the second order would exceed 10
    w.tick()
    assert w.volume == 1 and w.shares[poor] == 11
    assert np.isclose(w.cash.sum(), cash) and w.shares.sum() == shares


def test_herding_chartists_inflate_a_bubble_that_fundamentalists_do_not() -> None:
    herd = Simulation.from_scenario("stock-market").run().metrics()
    calm = Simulation.from_scenario("stock-market", ["minds.1.params.trend=0.0", "minds.1.params.herding=0.0",
                                                     "minds.1.params.fundamental=1.0"]).run().metrics()
    assert herd["bubble_episodes"].iloc[-1] >= 1 and calm["bubble_episodes"].iloc[-1] == 0
    assert herd["mispricing"].max() > 0.15  # the bubble threshold
    assert herd["volatility"].mean() > 1.2 * calm["volatility"].mean()
    assert calm["mispricing"].abs().max() < 0.1  # fundamentalists keep the price near value
    assert calm["price"].iloc[-1] > 1.1 * calm["price"].iloc[39]  # and follow the good news of day 40
    assert (herd["feed_stance"] != 0).any()  # the traders' feed carries their posts


def test_bad_operation_arguments_get_one_line() -> None:
    w = Marketplace(Population(size=4), {"customers": 2})
    w.reset(0)
    with pytest.raises(ScenarioError, match="expected 'random' or 'fixed'"):
        w.set_search_order("by-price")
