"""The epidemic world (SEIR(M) with behaviour and an economy link); see :mod:`.world`."""

from populace.world import worlds

from . import behaviour as behaviour
from .world import EpidemicWorld

__all__ = ["EpidemicWorld"]

worlds.add("epidemic", EpidemicWorld)
