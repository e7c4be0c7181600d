"""Markets: a two-sided marketplace (``market``) and a stock market with a call auction (``stock_market``)."""

from populace.world import worlds

from . import shopping as shopping
from . import trading as trading
from .marketplace import Marketplace
from .stocks import StockMarket

__all__ = ["Marketplace", "StockMarket"]

worlds.add("market", Marketplace)
worlds.add("stock_market", StockMarket)
