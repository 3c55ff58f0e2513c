"""mvdirector: turn a song and a portrait into a beat-cut music video."""

__version__ = "0.1.0"
