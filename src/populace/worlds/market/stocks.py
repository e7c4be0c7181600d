"""A stock market after TwinMarket (Yang et al. 2025): traders with portfolios read a social feed
and trade one stock in a daily call auction.

Each step is a trading day (the world refuses other clock steps). A trader sees its cash and
shares, the price and its recent returns, a noisy news signal of the stock's fundamental value,
and a feed of other traders' posts (bullish or bearish, with a stance in [-1, 1]). It may
``buy`` or ``sell`` shares at a limit price and ``post`` its view. The feed is the social
world's machinery (its post table, follow graph, feed assembly and recommenders), not a copy:
traders follow a small-world graph and the feed mixes followees' newest posts with a
recommender's picks.

The call auction: all of the day's limit orders are matched at the single price that maximises
the traded volume (ties: the smallest imbalance, then the price closest to the last one).
Buy orders above that price and sell orders below it fill completely, orders at it fill in
arrival order. Buying reserves cash and selling reserves shares when the order is placed, so
no trader can spend what it does not have; cash and shares are conserved.

A *bubble* day is one on which the price exceeds the fundamental value by more than
``bubble_threshold``; a bubble episode is a run of bubble days.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import ClassVar

import numpy as np
from pydantic import Field

from populace.actions import Actions, ActionSpace, ActionSpec, Arg
from populace.clock import Duration
from populace.events import Events
from populace.measures import gini
from populace.network import small_world
from populace.world import Column, Handler, Observations, World, WorldConfig, operation
from populace.worlds.social.feeds import assemble_feeds, feed_text
from populace.worlds.social.recommenders import FeedView, Recommender, recommenders
from populace.worlds.social.state import SocialState

DAY_S = 86_400.0


class FeedConfig(WorldConfig):
    size: int = Field(5, ge=0, description="posts in a trader's feed")
    followed_share: float = Field(0.6, ge=0, le=1, description="share of the feed from followed traders")
    recommender: str = Field("hot", description="a social-world recommender for the rest of the feed")
    degree: int = Field(8, ge=2, description="mean number of traders each follows (small world)")
    window: Duration = Field(timedelta(days=3), description="how long a post stays in feeds (e.g. 3d)")


class StockConfig(WorldConfig):
    initial_price: float = Field(100.0, gt=0)
    initial_cash: float = Field(10_000.0, ge=0, description="median cash per trader (lognormal, sigma 0.5)")
    initial_shares: int = Field(100, ge=0, description="shares per trader at the start")
    fundamental_volatility: float = Field(0.01, ge=0, description="daily volatility of the fundamental value")
    news_noise: float = Field(0.05, ge=0, description="noise of the news signal of the fundamental (log scale)")
    bubble_threshold: float = Field(0.15, gt=0, description="price above fundamental by this share is a bubble")
    volatility_window: int = Field(20, ge=2, description="days in the rolling volatility")
    feed: FeedConfig = Field(default_factory=FeedConfig)


def call_auction(buy_limit: np.ndarray, buy_qty: np.ndarray, sell_limit: np.ndarray, sell_qty: np.ndarray,
                 last: float) -> tuple[float, int, np.ndarray, np.ndarray]:
    """Clearing price, volume, and the shares filled per buy and per sell order (arrival order breaks ties)."""
    prices = np.unique(np.r_[buy_limit, sell_limit])
    if len(prices) == 0 or len(buy_qty) == 0 or len(sell_qty) == 0:
        return last, 0, np.zeros(len(buy_qty), np.int64), np.zeros(len(sell_qty), np.int64)
    demand = np.asarray([buy_qty[buy_limit >= p].sum() for p in prices])
    supply = np.asarray([sell_qty[sell_limit <= p].sum() for p in prices])
    volume = np.minimum(demand, supply)
    best = np.lexsort((np.abs(prices - last), np.abs(demand - supply), -volume))[0]
    price, traded = float(prices[best]), int(volume[best])
    if traded == 0:  # no order crosses: no trade, and the price stays
        return last, 0, np.zeros(len(buy_qty), np.int64), np.zeros(len(sell_qty), np.int64)
    return price, traded, _fill(buy_qty, -buy_limit, -price, traded), _fill(sell_qty, sell_limit, price, traded)


def _fill(qty: np.ndarray, key: np.ndarray, bound: float, traded: int) -> np.ndarray:
    """Fill ``traded`` shares over the orders with ``key <= bound``, best key first, then arrival order."""
    filled = np.zeros(len(qty), dtype=np.int64)
    eligible = np.flatnonzero(key <= bound)
    order = eligible[np.lexsort((eligible, key[eligible]))]
    before = np.cumsum(qty[order]) - qty[order]
    filled[order] = np.clip(traded - before, 0, qty[order])
    return filled


class StockMarket(World[StockConfig]):
    name = "stock_market"
    Config = StockConfig
    step_length = timedelta(days=1)  # one call auction a day; volatility and news are daily
    actions = ActionSpace(
        ActionSpec("buy", {"shares": Arg.integer(ge=1), "limit": Arg.number(ge=0.01, description="highest price")},
                   "bid for shares in today's auction"),
        ActionSpec("sell", {"shares": Arg.integer(ge=1), "limit": Arg.number(ge=0.01, description="lowest price")},
                   "offer shares in today's auction"),
        ActionSpec("post", {"stance": Arg.number(ge=-1, le=1, description="-1 bearish .. 1 bullish"),
                            "text": Arg.text(280)}, "share your view of the stock"),
    )
    metric_descriptions: ClassVar[dict[str, str]] = {
        "price": "today's clearing price",
        "fundamental": "the stock's fundamental value",
        "mispricing": "price / fundamental - 1",
        "volume": "shares traded today",
        "volatility": "standard deviation of daily log returns over the rolling window",
        "bubble": "1 on a day the price exceeds the fundamental by more than the threshold",
        "bubble_episodes": "runs of bubble days so far",
        "feed_stance": "mean stance of today's posts (0 without posts)",
        "wealth_gini": "Gini coefficient of traders' wealth at today's price",
    }
    observation = (
        Column("cash", "float64", "own cash not reserved by open orders"),
        Column("shares", "int64", "own shares not reserved by open orders"),
        Column("price", "float64", "today's price"),
        Column("return_1d", "float64", "log return over the last day"),
        Column("return_5d", "float64", "log return over the last five days"),
        Column("news", "float64", "own private estimate of the value over the price, minus 1"),
        Column("feed_stance", "float64", "mean stance of the posts in one's feed (0: none)"),
        Column("feed", "text", "one's feed of posts, in words"),
    )

    def reset(self, seed: int | np.random.SeedSequence | None = None) -> None:
        super().reset(seed)
        cfg = self.config
        assert isinstance(cfg, StockConfig)
        n = self.n_agents
        self.cash = cfg.initial_cash * self.rng.lognormal(0, 0.5, n)
        self.shares = np.full(n, cfg.initial_shares, dtype=np.int64)
        self.reserved_cash = np.zeros(n)
        self.reserved_shares = np.zeros(n, dtype=np.int64)
        self.price, self.fundamental = cfg.initial_price, cfg.initial_price
        self.prices = [self.price]
        self.news = self._news(n)
        self.orders: dict[str, list[np.ndarray]] = {"buy": [], "sell": []}
        self.bubble_days = [False]
        self.volume = 0
        self.feed = SocialState(n, 1)
        if n > 2:
            net = small_world(n, cfg.feed.degree, 0.1, np.random.default_rng(self.rng.integers(2**63)))
            src = np.repeat(np.arange(n), net.degree())
            self.feed.follows.add(src, net.indices)
        self.recommender: Recommender = recommenders.get(cfg.feed.recommender)()
        self.posted_today: list[float] = []

    def _news(self, n: int) -> np.ndarray:
        noise = self.config.news_noise
        return self.fundamental * np.exp(self.rng.normal(0, noise, n))

    # -- observation -------------------------------------------------------------------------
    def observe(self, agent_ids: np.ndarray) -> Observations:
        cfg = self.config
        assert isinstance(cfg, StockConfig)
        k = len(agent_ids)
        p = np.asarray(self.prices)
        feed = np.full((k, 0), -1, np.int64)
        if cfg.feed.size and len(self.feed.posts):
            view = FeedView(self.feed, self.step, self.step * DAY_S, self.rng, cfg.feed.window)
            feed = assemble_feeds(agent_ids, view, self.recommender, cfg.feed.size, cfg.feed.followed_share)
        stances = np.where(feed >= 0, self.feed.posts["stance"][np.maximum(feed, 0)] if len(self.feed.posts)
                           else 0.0, np.nan)
        shown = np.isfinite(stances).sum(axis=1)
        feed_stance = np.where(shown > 0, np.nansum(stances, axis=1) / np.maximum(shown, 1), 0.0)
        texts = np.empty(k, dtype=object)
        texts[:] = feed_text(self.feed, feed, self.step * DAY_S, False, None) if feed.shape[1] else \
            ["(your feed is empty)"] * k
        return Observations(agent_ids, {
            "cash": self.cash[agent_ids] - self.reserved_cash[agent_ids],
            "shares": self.shares[agent_ids] - self.reserved_shares[agent_ids],
            "price": np.full(k, self.price),
            "return_1d": np.full(k, np.log(p[-1] / p[-2]) if len(p) > 1 else 0.0),
            "return_5d": np.full(k, np.log(p[-1] / p[max(0, len(p) - 6)])),
            "news": self.news[agent_ids] / self.price - 1.0,
            "feed_stance": feed_stance,
            "feed": texts,
        })

    # -- orders ------------------------------------------------------------------------------
    def handlers(self) -> Mapping[str, Handler]:
        return {"buy": self._order("buy"), "sell": self._order("sell"), "post": self._post}

    def _order(self, side: str) -> Handler:
        def place(actions: Actions) -> Events:
            who, qty = actions.agents, actions.args["shares"].astype(np.int64)
            limit = actions.args["limit"].astype(np.float64)
            need = qty * limit if side == "buy" else qty.astype(np.float64)
            have = (self.cash - self.reserved_cash) if side == "buy" else (self.shares - self.reserved_shares)
            ok = np.zeros(len(who), dtype=bool)
            spent: dict[int, float] = {}
            for i, a in enumerate(who.tolist()):  # orders of one trader reserve in turn
                if spent.get(a, 0.0) + need[i] <= have[a] + 1e-9:
                    spent[a] = spent.get(a, 0.0) + need[i]
                    ok[i] = True
            if side == "buy":
                np.add.at(self.reserved_cash, who[ok], need[ok])
            else:
                np.add.at(self.reserved_shares, who[ok], qty[ok])
            self.orders[side].append(np.stack([who[ok].astype(np.float64), qty[ok], limit[ok]], axis=1))
            return Events.outcomes(actions, ok, "not enough cash" if side == "buy" else "not enough shares")
        return place

    def _post(self, actions: Actions) -> Events:
        stance = actions.args["stance"].astype(np.float64)
        self.feed.posts.append(author=actions.agents, content=actions.args["text"], step=self.step,
                               created_s=self.step * DAY_S, stance=stance, topic="market")
        self.posted_today.extend(stance.tolist())
        return Events.accepted(actions)

    # -- the day's auction and the fundamental -----------------------------------------------
    def tick(self) -> list[Events]:
        cfg = self.config
        assert isinstance(cfg, StockConfig)
        buys = np.concatenate(self.orders["buy"]) if self.orders["buy"] else np.zeros((0, 3))
        sells = np.concatenate(self.orders["sell"]) if self.orders["sell"] else np.zeros((0, 3))
        price, volume, bought, sold = call_auction(buys[:, 2], buys[:, 1].astype(np.int64), sells[:, 2],
                                                   sells[:, 1].astype(np.int64), self.price)
        buyers, sellers = buys[:, 0].astype(np.int64), sells[:, 0].astype(np.int64)
        np.add.at(self.shares, buyers, bought)
        np.add.at(self.cash, buyers, -bought * price)
        np.add.at(self.shares, sellers, -sold)
        np.add.at(self.cash, sellers, sold * price)
        self.reserved_cash[:] = 0.0
        self.reserved_shares[:] = 0
        self.orders = {"buy": [], "sell": []}
        self.price, self.volume = price, volume
        self.prices.append(price)
        self.fundamental *= float(np.exp(self.rng.normal(0, cfg.fundamental_volatility)))
        self.news = self._news(self.n_agents)
        self.bubble_days.append(price > self.fundamental * (1 + cfg.bubble_threshold))
        self.today_stance = float(np.mean(self.posted_today)) if self.posted_today else 0.0
        self.posted_today = []
        return [Events.world("auction", price=price, volume=volume)] if volume else []

    def metrics(self) -> dict[str, float]:
        cfg = self.config
        assert isinstance(cfg, StockConfig)
        p = np.log(np.asarray(self.prices[-(cfg.volatility_window + 1):]))
        days = np.asarray(self.bubble_days, dtype=bool)
        return {
            "price": self.price, "fundamental": self.fundamental, "mispricing": self.price / self.fundamental - 1,
            "volume": float(self.volume), "volatility": float(np.diff(p).std()) if len(p) > 2 else 0.0,
            "bubble": float(days[-1]), "bubble_episodes": float(np.count_nonzero(days[1:] & ~days[:-1])),
            "feed_stance": getattr(self, "today_stance", 0.0),
            "wealth_gini": gini(self.cash + self.shares * self.price),
        }

    @operation
    def news_shock(self, size: float) -> Events:
        """The fundamental value jumps by ``size`` (a share: 0.2 is +20%, -0.3 is -30%)."""
        self.fundamental *= 1.0 + float(size)
        self.news = self._news(self.n_agents)
        return Events.world("news_shock", size=size)
