"""The analyze stage: beats, downbeats, sections, energy, vocals and lyrics of a song."""

from .config import AnalyzeConfig
from .plot import plot_analysis
from .stage import VERSION, analyze, analyze_timed, check_config

__all__ = ["VERSION", "AnalyzeConfig", "analyze", "analyze_timed", "check_config", "plot_analysis"]
