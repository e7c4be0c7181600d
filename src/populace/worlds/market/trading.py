"""Rules policies for the stock market: traders who weigh news, trend and their feed."""

from __future__ import annotations

import numpy as np

from populace.actions import Actions
from populace.minds.rules import RulesMind, policy
from populace.world import Observations


@policy("stock_trader")
def trader(obs: Observations, mind: RulesMind) -> list[Actions]:
    """Each trader values the stock at ``price * exp(score)``, with score = ``fundamental`` x news
    + ``trend`` x 5-day log return + ``herding`` x feed stance + noise, and quotes both sides: a bid
    for ``stake`` of its cash at ``spread`` below its valuation and an ask for ``stake`` of its
    shares at ``spread`` above it. Trades happen where one trader's bid crosses another's ask,
    so the price moves towards the traders' valuations. It posts its view (the score squashed
    into [-1, 1]) with probability ``post``. Defaults: a fundamentalist (fundamental 1, trend 0,
    herding 0).
    """
    p = mind.params
    score = (float(p.get("fundamental", 1.0)) * np.log1p(obs["news"]) + float(p.get("trend", 0.0)) * obs["return_5d"]
             + float(p.get("herding", 0.0)) * obs["feed_stance"]
             + mind.rng.normal(0, float(p.get("noise", 0.01)), len(obs)))
    stake, spread = float(p.get("stake", 0.1)), float(p.get("spread", 0.01))
    value = obs["price"] * np.exp(np.clip(score, -1, 1))
    bid, ask = np.round(value * (1 - spread), 2), np.round(value * (1 + spread), 2)
    bid_qty = np.floor(stake * obs["cash"] / np.maximum(bid, 0.01)).astype(np.int64)
    ask_qty = np.floor(stake * obs["shares"]).astype(np.int64)
    buy, sell = (bid_qty >= 1) & (bid >= 0.01), (ask_qty >= 1) & (ask >= 0.01)
    out = [
        Actions("buy", obs.agents[buy], {"shares": bid_qty[buy], "limit": bid[buy]}),
        Actions("sell", obs.agents[sell], {"shares": ask_qty[sell], "limit": ask[sell]}),
    ]
    posting = mind.rng.random(len(obs)) < float(p.get("post", 0.2))
    stance = np.tanh(10 * score[posting])
    text = np.empty(int(posting.sum()), dtype=object)
    text[:] = ["bullish: buying" if s > 0.3 else "bearish: selling" if s < -0.3 else "holding" for s in stance]
    out.append(Actions("post", obs.agents[posting], {"stance": stance, "text": text}))
    return [a for a in out if len(a)]
