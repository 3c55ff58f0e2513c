"""The analyze stage: beats, downbeats, sections, energy, vocals and lyrics of a song."""

from .config import AnalyzeConfig
from .stage import VERSION, analyze, analyze_timed

__all__ = ["VERSION", "AnalyzeConfig", "analyze", "analyze_timed"]
