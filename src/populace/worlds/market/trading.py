"""Rules policies for the stock market: traders who weigh news, trend and their feed."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from populace.actions import Actions
from populace.policy import PolicyContext, PolicyParams, policy
from populace.world import Observations


class TraderParams(PolicyParams):
    fundamental: float = Field(1.0, description="weight of the news")
    trend: float = Field(0.0, description="weight of the 5-day log return")
    herding: float = Field(0.0, description="weight of the feed's stance")
    noise: float = Field(0.01, ge=0, description="standard deviation of the noise in the score")
    stake: float = Field(0.1, ge=0, le=1, description="share of cash bid and of shares asked")
    spread: float = Field(0.01, ge=0, lt=1, description="distance of the quotes from the valuation")
    post: float = Field(0.2, ge=0, le=1, description="chance of posting one's view")


@policy("stock_trader", TraderParams, reads=("news", "return_5d", "feed_stance", "price", "cash", "shares"))
def trader(obs: Observations, mind: PolicyContext) -> list[Actions]:
    """Each trader values the stock at ``price * exp(score)``, with score = ``fundamental`` x news
    + ``trend`` x 5-day log return + ``herding`` x feed stance + noise, and quotes both sides: a bid
    for ``stake`` of its cash at ``spread`` below its valuation and an ask for ``stake`` of its
    shares at ``spread`` above it. Trades happen where one trader's bid crosses another's ask,
    so the price moves towards the traders' valuations. It posts its view (the score squashed
    into [-1, 1]) with probability ``post``. Defaults: a fundamentalist (fundamental 1, trend 0,
    herding 0).
    """
    p = mind.settings(TraderParams)
    score = (p.fundamental * np.log1p(obs["news"]) + p.trend * obs["return_5d"] + p.herding * obs["feed_stance"]
             + mind.rng.normal(0, p.noise, len(obs)))
    stake, spread = p.stake, p.spread
    value = obs["price"] * np.exp(np.clip(score, -1, 1))
    bid, ask = np.round(value * (1 - spread), 2), np.round(value * (1 + spread), 2)
    bid_qty = np.floor(stake * obs["cash"] / np.maximum(bid, 0.01)).astype(np.int64)
    ask_qty = np.floor(stake * obs["shares"]).astype(np.int64)
    buy, sell = (bid_qty >= 1) & (bid >= 0.01), (ask_qty >= 1) & (ask >= 0.01)
    out = [
        Actions("buy", obs.agents[buy], {"shares": bid_qty[buy], "limit": bid[buy]}),
        Actions("sell", obs.agents[sell], {"shares": ask_qty[sell], "limit": ask[sell]}),
    ]
    posting = mind.rng.random(len(obs)) < p.post
    stance = np.tanh(10 * score[posting])
    text = np.empty(int(posting.sum()), dtype=object)
    text[:] = ["bullish: buying" if s > 0.3 else "bearish: selling" if s < -0.3 else "holding" for s in stance]
    out.append(Actions("post", obs.agents[posting], {"stance": stance, "text": text}))
    return [a for a in out if len(a)]
