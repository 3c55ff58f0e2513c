"""The assembler: shot clips in plan order → the finished video with the song, and its `RenderReport`.

``assemble`` joins hard-cut clips without decoding, re-encodes only the shots that a
transition or a grade match changes, muxes the song with zero A/V offset and measures
identity and colour per shot (with a thumbnail each). An ``EarlyTrack`` starts the song's sound
track early, at low priority, so the assembler finds it encoded.
"""

from stages.assemble.audio import EarlyTrack
from stages.assemble.config import VERSION, AssembleConfig
from stages.assemble.core import assemble

__all__ = ["VERSION", "AssembleConfig", "EarlyTrack", "assemble"]
