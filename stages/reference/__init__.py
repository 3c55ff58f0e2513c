"""The reference stage: the photos of a render, inspected once and sorted into singer, looks and scenes.

``faces`` finds faces, 68 landmarks and identity embeddings in one photo (`inspect_reference`);
``kinds`` sorts the photos (`sort_photos`, the pre-flight's `check_photos`) and says how a plan
lists each (`reference_ref`); ``palette`` brings a photo into the singer's palette (`write_matched`).
"""

from stages.reference.faces import (
    DETECT_MAX_SIDE,
    MIN_SCORE,
    SAME_PERSON_DISTANCE,
    VERSION,
    FaceAnalyzer,
    embedding_distance,
    face_embeddings,
    face_warnings,
    identity_similarity,
    inspect_reference,
    models_dir,
    pick_primary,
)
from stages.reference.kinds import check_photos, inspected, main_face_px, reference_ref, sort_photos
from stages.reference.palette import VERSION as PALETTE_VERSION
from stages.reference.palette import match_palette, write_matched

__all__ = [
    "DETECT_MAX_SIDE",
    "MIN_SCORE",
    "PALETTE_VERSION",
    "SAME_PERSON_DISTANCE",
    "VERSION",
    "FaceAnalyzer",
    "check_photos",
    "embedding_distance",
    "face_embeddings",
    "face_warnings",
    "identity_similarity",
    "inspect_reference",
    "inspected",
    "main_face_px",
    "match_palette",
    "models_dir",
    "pick_primary",
    "reference_ref",
    "sort_photos",
    "write_matched",
]
