"""Search spaces: plain Python + torch, no Django. See base.SearchSpace for the contract."""

from .base import Decision, SearchSpace, SpecField
from .registry import SPACES, build_space

__all__ = ["Decision", "SearchSpace", "SpecField", "SPACES", "build_space"]
