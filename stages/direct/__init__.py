"""The MV-Director stage: ``direct(analysis, reference, DirectConfig) -> ShotPlan``.

Public entry: `direct`, `DirectConfig`, `VERSION` and `fingerprint` (the style file's content,
for the cache key); for hand-edited plans `fill_keyframes` and `plan_warnings` (`unused_photos`:
photos no shot shows); the styles it knows, `list_templates`.
"""

from stages.direct.checks import plan_warnings, unused_photos
from stages.direct.director import VERSION, DirectConfig, direct, fill_keyframes, fingerprint
from stages.templates import list_templates

__all__ = ["VERSION", "DirectConfig", "direct", "fill_keyframes", "fingerprint", "list_templates", "plan_warnings",
           "unused_photos"]
