"""Repeated games: 2×2 matrix games between fixed pairs (``games``) and the donor game (``donor``)."""
