"""Storyboard thumbnails: each shot's first frame, cut by framing from the photo it shows.

Not a rendered frame: rendering frame 0 of every shot needs the layer separation and grade set-up
of the renderer, seconds per shot, while a crop through the procedural renderer's own face-aware
framing window (``stages.render.framing.frame_window``), with the shot's first camera keyframe
applied as a zoom/shift, costs milliseconds and shows the same composition. A scene is framed as a
place (no faces), as the renderers draw it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from mvdirector.errors import MvError
from mvdirector.rules import reference_ids
from mvdirector.schemas import ReferenceInfo, Shot, ShotPlan

log = logging.getLogger(__name__)

THUMB_W = 224


def _reference_for(image_path: Path, image: np.ndarray) -> ReferenceInfo | None:
    """Faces in the portrait via the reference stage; None (saliency framing) when it cannot run."""
    try:
        from stages.reference import inspect_reference

        return inspect_reference(image_path)
    except (MvError, ImportError, RuntimeError, OSError) as e:
        log.info("thumbnails framed without face detection: %s", e)
        return None


def _window(ref: ReferenceInfo | None, image: np.ndarray, shot: Shot, w: int, h: int) -> tuple[float, ...]:
    """(cx, cy, width, height) of the shot's base framing window in reference pixels."""
    ih, iw = image.shape[:2]
    if ref is None:
        ref = ReferenceInfo(path="", sha256="", width=iw, height=ih)
    try:
        from stages.render.framing import frame_window, frontal_side

        win = frame_window(ref, shot.framing, w, h, image, side=frontal_side(shot))
        return win.cx, win.cy, win.width, win.height
    except ImportError:  # the procedural renderer is not installed: a centred crop by framing
        share = {"extreme_close_up": 0.25, "close_up": 0.4, "medium": 0.65, "wide": 0.9, "extreme_wide": 1.0}
        height = share[shot.framing] * min(ih, iw * h / w)
        return iw / 2, ih / 2, height * w / h, height


def photo_files(plan: ShotPlan, given: str | Path | Sequence[str | Path] | None = None) -> dict[str, Path]:
    """The image file of each photo, by the id shots name: the files ``given`` (ids from their names, the
    first the singer's) or the plan's own photos, where the files exist."""
    if given is not None and not isinstance(given, str | Path):
        paths = [Path(p) for p in given]
    elif given is not None:
        paths = [Path(given)]
    else:
        return {r.id: Path(r.path) for r in plan.references if Path(r.path).is_file()}
    files = dict(zip(reference_ids([p.stem for p in paths]), paths, strict=True))
    if plan.references and files:  # the plan's singer is the first photo given, whatever its name
        files = {plan.references[0].id: paths[0], **{k: v for k, v in files.items() if v != paths[0]}}
    return {k: v for k, v in files.items() if v.is_file()}


def thumbnails(
    plan: ShotPlan,
    reference_image: str | Path | Sequence[str | Path] | None = None,
    reference: ReferenceInfo | None = None,
    width: int = THUMB_W,
) -> dict[str, np.ndarray]:
    """First-frame thumbnail (RGB uint8) of every shot, cropped by framing from the photo it shows.

    Shots whose photo cannot be read get none (empty without any readable photo).
    """
    files = photo_files(plan, reference_image)
    singer_id = plan.references[0].id if plan.references else None
    photos: dict[str, tuple[np.ndarray, ReferenceInfo | None] | None] = {}
    w = width
    h = max(2, int(round(width * plan.render.height / plan.render.width)))
    out: dict[str, np.ndarray] = {}
    for shot in plan.shots:
        ref = plan.reference_of(shot)
        rid = ref.id if ref is not None else None
        path = files.get(rid) if rid is not None else next(iter(files.values()), None)
        if path is None:
            continue
        if rid not in photos:
            photos[rid] = _photo(path, reference if rid in (None, singer_id) else None,
                                 scene=ref is not None and not ref.shows_singer)
        if photos[rid] is None:
            continue
        image, info = photos[rid]
        cx, cy, ww, wh = _window(info, image, shot, plan.render.width, plan.render.height)
        kf = shot.camera.keyframes[0] if shot.camera.keyframes else None
        if kf is not None:  # the first keyframe: forward moves tighten, yaw/pitch shift the window
            zoom = 1.0 / max(0.2, 1.0 - kf.position[2])
            ww, wh = ww / zoom, wh / zoom
            cx += math.tan(math.radians(kf.rotation_deg[0])) * wh + kf.position[0] * wh
            cy -= math.tan(math.radians(kf.rotation_deg[1])) * wh + kf.position[1] * wh
        sx, sy = w / ww, h / wh
        m = np.array([[sx, 0.0, w / 2 - sx * cx], [0.0, sy, h / 2 - sy * cy]], dtype=np.float64)
        out[shot.id] = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    return out


def _photo(path: Path, reference: ReferenceInfo | None, scene: bool) -> tuple[np.ndarray, ReferenceInfo | None] | None:
    """A photo's pixels and faces (a scene is framed as a place: no faces), or None when it cannot be read."""
    from mvdirector.media.image import load_image

    try:
        image = load_image(path)
    except MvError as e:
        log.warning("no thumbnails of %s: %s", path.name, e.one_line())
        return None
    ih, iw = image.shape[:2]
    info = ReferenceInfo(path=str(path), sha256="", width=iw, height=ih) if scene else (
        reference if reference is not None else _reference_for(path, image))
    if info is not None and (info.width, info.height) != (iw, ih):
        info = None
    return image, info
