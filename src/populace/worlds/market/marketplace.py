"""A two-sided marketplace, after Magentic Marketplace (Bansal et al. 2025).

Customers (agents ``0 .. customers-1``) each need one item of a category; businesses (the other
agents) sell in one category at an item quality they know and the customer does not. A
customer's assistant ``search``-es, ``request``-s proposals from businesses in the results, and
may ``counter`` a proposal's price; a business answers every request or counter with a
``propose``-al (a price; the proposal reveals the item's quality). The customer ``accept``-s one
proposal and pays: the deal is done and the customer leaves the market.

Proposals reach the customer in order of arrival: within a step, faster businesses (lower
``latency``, a per-business draw) answer first. The value of a deal to the customer is
``willingness * quality``; consumer welfare is the mean of ``value - price`` over customers
(zero without a deal). *First-proposal bias* is the share of deals that went to the business
whose proposal reached the customer first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
from pydantic import Field, model_validator

from populace.actions import Actions, ActionSpace, ActionSpec, Arg
from populace.errors import ScenarioError
from populace.events import Events
from populace.world import Column, Handler, Observations, World, WorldConfig, operation

OPEN, ACCEPTED, SUPERSEDED = 0, 1, 2


class MarketplaceConfig(WorldConfig):
    customers: int = Field(50, ge=1, description="agents 0 .. customers-1 are customers; the rest are businesses")
    categories: int = Field(2, ge=1, description="kinds of item (restaurants, plumbers, ...)")
    search_limit: int = Field(8, ge=1, description="businesses a search returns")
    search_order: str = Field("random", description="'random' (shuffled per search) or 'fixed' (by business id)")
    willingness: float = Field(100.0, gt=0, description="median value customers put on an item of quality 1")
    cost: float = Field(40.0, ge=0, description="median unit cost of a business")

    @model_validator(mode="after")
    def _order(self) -> MarketplaceConfig:
        if self.search_order not in ("random", "fixed"):
            raise ValueError(f"search_order {self.search_order!r} is not accepted; expected 'random' or 'fixed'")
        return self


class Marketplace(World[MarketplaceConfig]):
    name = "market"
    Config = MarketplaceConfig
    actions = ActionSpace(
        ActionSpec("search", {}, "customer: list businesses selling what you need"),
        ActionSpec("request", {"business": Arg.agent("a business from your search results")},
                   "customer: ask a business for a proposal"),
        ActionSpec("counter", {"business": Arg.agent("a business that proposed"),
                               "price": Arg.number(ge=0, description="the price you offer")},
                   "customer: answer a proposal with a lower price"),
        ActionSpec("accept", {"business": Arg.agent("a business that proposed")},
                   "customer: accept that business's latest proposal and pay"),
        ActionSpec("propose", {"customer": Arg.agent("a customer who asked you"),
                               "price": Arg.number(ge=0, description="your price")},
                   "business: answer a customer's request or counter with a price"),
    )
    metric_descriptions: ClassVar[dict[str, str]] = {
        "consumer_welfare": "mean over customers of value - price of their deal (0 without a deal)",
        "deal_rate": "share of customers who have bought",
        "mean_price": "mean price of the deals so far",
        "mean_markup": "mean price / cost of the deals so far",
        "first_proposal_share": "share of deals that went to the business whose proposal arrived first",
        "best_value_share": "share of deals at the best value - price among the customer's proposals",
        "business_profit": "mean profit per business",
        "proposals": "proposals made so far",
    }
    observation = (
        Column("customer", "bool", "a customer (else a business)"),
        Column("category", "int64", "the product category wanted or sold"),
        Column("willingness", "float64", "a customer's value of a product of quality 1 (0: a business)"),
        Column("cost", "float64", "a business's cost of one product (0: a customer)"),
        Column("done", "bool", "a customer who has bought"),
        Column("searched", "bool", "a customer whose search found businesses"),
        Column("results", "object", "a customer's search results: a list of business ids"),
        Column("proposals", "object", "open proposals to a customer: (business, price, quality, rank) tuples"),
        Column("requests", "object", "requests to a business: (customer, countered price or NaN) tuples"),
    )

    def reset(self, seed: int | np.random.SeedSequence | None = None) -> None:
        super().reset(seed)
        cfg = self.config
        assert isinstance(cfg, MarketplaceConfig)
        n, c = self.n_agents, min(cfg.customers, self.n_agents)
        self.is_customer = np.arange(n) < c
        self.category = self.rng.integers(0, cfg.categories, n)
        self.willingness = np.where(self.is_customer, cfg.willingness * self.rng.lognormal(0, 0.2, n), 0.0)
        self.quality = np.where(self.is_customer, 0.0, self.rng.uniform(0.5, 1.5, n))
        self.cost = np.where(self.is_customer, 0.0, cfg.cost * self.rng.lognormal(0, 0.15, n) * self.quality)
        self.latency = np.where(self.is_customer, 0.0, self.rng.random(n))
        if "role" not in self.population:
            self.population["role"] = np.where(self.is_customer, "customer", "business").astype(object)
        self.results: list[np.ndarray] = [np.empty(0, np.int64) for _ in range(n)]
        self.asked = [set[int]() for _ in range(n)]  # per business: customers waiting for an answer
        self.counters: dict[tuple[int, int], float] = {}  # (customer, business) -> countered price
        self.bought = np.full(n, -1, dtype=np.int64)  # per customer: the accepted proposal
        self.profit = np.zeros(n)
        # the proposals table: one row per proposal
        self.p_customer = np.empty(0, np.int64)
        self.p_business = np.empty(0, np.int64)
        self.p_price = np.empty(0, np.float64)
        self.p_status = np.empty(0, np.int8)
        self.p_rank = np.empty(0, np.int64)  # arrival order at the customer: 0 = first proposal received

    # -- observation -------------------------------------------------------------------------
    def observe(self, agent_ids: np.ndarray) -> Observations:
        k = len(agent_ids)
        results = np.empty(k, dtype=object)
        proposals = np.empty(k, dtype=object)
        requests = np.empty(k, dtype=object)
        open_rows = np.flatnonzero(self.p_status == OPEN)
        by_customer: dict[int, list[tuple[int, float, float, int]]] = {}
        for row in open_rows.tolist():
            b = int(self.p_business[row])
            by_customer.setdefault(int(self.p_customer[row]), []).append(
                (b, float(self.p_price[row]), float(self.quality[b]), int(self.p_rank[row])))
        for i, a in enumerate(agent_ids.tolist()):
            results[i] = self.results[a].tolist()
            proposals[i] = sorted(by_customer.get(a, []), key=lambda p: p[3])  # (business, price, quality, rank)
            requests[i] = sorted((c, self.counters.get((c, a), float("nan"))) for c in self.asked[a])
        return Observations(agent_ids, {
            "customer": self.is_customer[agent_ids],
            "category": self.category[agent_ids],
            "willingness": self.willingness[agent_ids],
            "cost": self.cost[agent_ids],
            "done": self.bought[agent_ids] >= 0,
            "searched": np.asarray([len(self.results[a]) > 0 for a in agent_ids.tolist()], dtype=bool),
            "results": results,
            "proposals": proposals,
            "requests": requests,
        })

    # -- actions -----------------------------------------------------------------------------
    def handlers(self) -> Mapping[str, Handler]:
        return {"search": self._search, "request": self._request, "counter": self._counter,
                "accept": self._accept, "propose": self._propose}

    def _customer_check(self, who: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ok = self.is_customer[who] & (self.bought[who] < 0)
        reason = np.where(self.is_customer[who], "has already bought", "only customers can do this").astype(object)
        return ok, reason

    def _search(self, actions: Actions) -> Events:
        ok, reason = self._customer_check(actions.agents)
        cfg = self.config
        assert isinstance(cfg, MarketplaceConfig)
        sellers = np.flatnonzero(~self.is_customer)
        for a in actions.agents[ok].tolist():
            same = sellers[self.category[sellers] == self.category[a]]
            if cfg.search_order == "random":
                same = same[self.rng.permutation(len(same))]
            self.results[a] = same[: cfg.search_limit]
        return Events.outcomes(actions, ok, reason)

    def _request(self, actions: Actions) -> Events:
        ok, reason = self._customer_check(actions.agents)
        for i, (a, b) in enumerate(zip(actions.agents.tolist(), actions.args["business"].tolist(), strict=True)):
            if ok[i] and b not in set(self.results[a].tolist()):
                ok[i], reason[i] = False, "not in your search results"
            if ok[i]:
                self.asked[b].add(a)
        return Events.outcomes(actions, ok, reason)

    def _latest(self, customer: int, business: int) -> int:
        rows = np.flatnonzero((self.p_customer == customer) & (self.p_business == business) & (self.p_status == OPEN))
        return int(rows[-1]) if len(rows) else -1

    def _counter(self, actions: Actions) -> Events:
        ok, reason = self._customer_check(actions.agents)
        for i, (a, b, price) in enumerate(zip(actions.agents.tolist(), actions.args["business"].tolist(),
                                              actions.args["price"].tolist(), strict=True)):
            if ok[i] and self._latest(a, b) < 0:
                ok[i], reason[i] = False, "no open proposal from that business"
            if ok[i]:
                self.counters[(a, b)] = float(price)
                self.asked[b].add(a)
        return Events.outcomes(actions, ok, reason)

    def _accept(self, actions: Actions) -> Events:
        ok, reason = self._customer_check(actions.agents)
        price = np.full(len(actions), np.nan)
        for i, (a, b) in enumerate(zip(actions.agents.tolist(), actions.args["business"].tolist(), strict=True)):
            row = self._latest(a, b) if ok[i] else -1
            if ok[i] and row < 0:
                ok[i], reason[i] = False, "no open proposal from that business"
            if ok[i] and self.bought[a] >= 0:
                ok[i], reason[i] = False, "has already bought"
            if not ok[i]:
                continue
            self.bought[a] = row
            self.p_status[row] = ACCEPTED
            self.p_status[(self.p_customer == a) & (self.p_status == OPEN)] = SUPERSEDED
            price[i] = self.p_price[row]
            self.profit[b] += self.p_price[row] - self.cost[b]
        return Events.outcomes(actions, ok, reason, price=price)

    def _propose(self, actions: Actions) -> Events:
        who, to, price = actions.agents, actions.args["customer"], actions.args["price"]
        ok = ~self.is_customer[who]
        reason = np.full(len(actions), "only businesses propose", dtype=object)
        for i, (b, c) in enumerate(zip(who.tolist(), to.tolist(), strict=True)):
            if ok[i] and c not in self.asked[b]:
                ok[i], reason[i] = False, "that customer has not asked you"
            elif ok[i] and self.bought[c] >= 0:
                ok[i], reason[i] = False, "that customer has already bought"
            if ok[i]:
                self.asked[b].discard(c)
                self.counters.pop((c, b), None)
        # arrival order: faster businesses' answers reach the customer first
        keep = np.flatnonzero(ok)
        keep = keep[np.lexsort((who[keep], self.latency[who[keep]]))]
        customers, businesses = to[keep].astype(np.int64), who[keep].astype(np.int64)
        old = np.isin(self.p_customer, customers) & np.isin(self.p_business, businesses) & (self.p_status == OPEN)
        pairs = set(zip(customers.tolist(), businesses.tolist(), strict=True))
        for row in np.flatnonzero(old).tolist():
            if (int(self.p_customer[row]), int(self.p_business[row])) in pairs:
                self.p_status[row] = SUPERSEDED  # a new price replaces the business's earlier proposal
        received = np.bincount(self.p_customer, minlength=self.n_agents)
        rank = np.empty(len(keep), dtype=np.int64)
        for j, c in enumerate(customers.tolist()):
            rank[j] = received[c]
            received[c] += 1
        self.p_customer = np.r_[self.p_customer, customers]
        self.p_business = np.r_[self.p_business, businesses]
        self.p_price = np.r_[self.p_price, price[keep].astype(np.float64)]
        self.p_status = np.r_[self.p_status, np.zeros(len(keep), np.int8)]
        self.p_rank = np.r_[self.p_rank, rank]
        return Events.outcomes(actions, ok, reason)

    # -- measurement -------------------------------------------------------------------------
    def metrics(self) -> dict[str, float]:
        customers = np.flatnonzero(self.is_customer)
        rows = self.bought[customers]
        deal = rows >= 0
        r = rows[deal]
        buyers = customers[deal]
        sellers = self.p_business[r]
        value = self.willingness[buyers] * self.quality[sellers]
        surplus = value - self.p_price[r]
        welfare = float(surplus.sum() / max(len(customers), 1))
        best = np.zeros(len(r), dtype=bool)
        for j, (c, row) in enumerate(zip(buyers.tolist(), r.tolist(), strict=True)):
            mine = np.flatnonzero(self.p_customer == c)
            offers = self.willingness[c] * self.quality[self.p_business[mine]] - self.p_price[mine]
            best[j] = offers.max() <= value[j] - self.p_price[row] + 1e-9
        first_business = np.full(self.n_agents, -1, dtype=np.int64)
        firsts = np.flatnonzero(self.p_rank == 0)
        first_business[self.p_customer[firsts]] = self.p_business[firsts]
        n_business = max(int(np.count_nonzero(~self.is_customer)), 1)
        return {
            "consumer_welfare": welfare,
            "deal_rate": float(deal.mean()) if len(deal) else 0.0,
            "mean_price": float(self.p_price[r].mean()) if len(r) else 0.0,
            "mean_markup": float((self.p_price[r] / np.maximum(self.cost[sellers], 1e-9)).mean()) if len(r) else 0.0,
            "first_proposal_share": float((first_business[buyers] == sellers).mean()) if len(r) else 0.0,
            "best_value_share": float(best.mean()) if len(r) else 0.0,
            "business_profit": float(self.profit.sum() / n_business),
            "proposals": float(len(self.p_price)),
        }

    @operation
    def set_search_order(self, order: str) -> Events:
        """Change how search ranks businesses: 'random' or 'fixed' (always the same first few)."""
        if order not in ("random", "fixed"):
            raise ScenarioError(f"set_search_order: {order!r} is not accepted; expected 'random' or 'fixed'")
        self.config = self.config.model_copy(update={"search_order": order})
        return Events.world("set_search_order", order=order)
