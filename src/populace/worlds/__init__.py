"""Built-in worlds. Each module registers itself lazily in ``populace.world.worlds``."""
