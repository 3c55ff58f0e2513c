"""Inspect a photo once: faces, 68 landmarks, 128-d identity embeddings.

Uses dlib's HOG face detector, the 68-point shape predictor and the ResNet face-recognition
model shipped as ``.dat`` files by the ``face-recognition-models`` distribution. The files are
located through the package directory without importing its ``__init__`` (which needs
``pkg_resources``). Coordinates in the returned ``ReferenceInfo`` are pixels of the image as
``mvdirector.media.image.load_image`` returns it (EXIF-rotated, possibly downsized).
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from mvdirector.errors import InputError, ModelError
from mvdirector.rules import SMALL_FACE_PX
from mvdirector.schemas import Face, ReferenceInfo

VERSION = "3"

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None] | None

DETECT_MAX_SIDE = 1280
"""Images are downscaled to at most this long side for detection (HOG is O(pixels))."""
MIN_SCORE = 0.25
"""Detections below this HOG score are dropped unless nothing scores higher (false positives on clothes)."""
SAME_PERSON_DISTANCE = 0.6
"""dlib's recommended Euclidean distance below which two embeddings are the same person."""


def models_dir() -> Path:
    """The folder of ``face-recognition-models``' ``.dat`` files, found without importing the package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the package 'face-recognition-models' is not installed",
            "pip install face-recognition-models (it ships dlib's face models)",
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    if not folder.is_dir():
        raise ModelError(f"{folder} is missing", "reinstall face-recognition-models")
    return folder


class FaceAnalyzer:
    """Detects faces, fits 68 landmarks and computes 128-d embeddings; models load once, lazily.

    Thread-safe: dlib's detector, landmark predictor and network keep scratch state inside the
    object and crash when two threads call one of them at once (dlib documents this), so every
    dlib call holds one lock. A second detector would let detections run side by side, but building
    one holds the GIL for ~0.4 s, longer than the detections it would overlap. Reuse one instance
    (``FaceAnalyzer.shared()``) to measure identity similarity across many frames.
    """

    _shared: FaceAnalyzer | None = None
    _shared_lock = threading.Lock()

    def __init__(self, detect_max_side: int = DETECT_MAX_SIDE) -> None:
        self.detect_max_side = detect_max_side
        self._lock = threading.Lock()
        self._calls = threading.Lock()
        self._detector = None
        self._predictor = None
        self._encoder = None

    @classmethod
    def shared(cls) -> FaceAnalyzer:
        """A process-wide instance, so the 100 MB landmark model is read once."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def _load(self) -> None:
        with self._lock:
            if self._encoder is not None:
                return
            import dlib

            folder = models_dir()
            files = {
                "shape": folder / "shape_predictor_68_face_landmarks.dat",
                "encoder": folder / "dlib_face_recognition_resnet_model_v1.dat",
            }
            for f in files.values():
                if not f.is_file():
                    raise ModelError(f"dlib model file {f} is missing", "reinstall face-recognition-models")
            self._detector = dlib.get_frontal_face_detector()
            self._predictor = dlib.shape_predictor(str(files["shape"]))
            self._encoder = dlib.face_recognition_model_v1(str(files["encoder"]))

    # ------------------------------------------------------------------ detection
    def detect(
        self, image_rgb: np.ndarray, upsample: int | None = None
    ) -> list[tuple[tuple[int, int, int, int], float]]:
        """Face boxes (x0, y0, x1, y1) in pixels of ``image_rgb`` with detector scores, best first."""
        self._load()
        img = _as_rgb_uint8(image_rgb)
        h, w = img.shape[:2]
        scale = min(1.0, self.detect_max_side / max(h, w))
        small = img
        if scale < 1.0:
            small = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        if upsample is None:
            upsample = 1 if max(small.shape[:2]) < 640 else 0
        with self._calls:
            rects, scores, _ = self._detector.run(small, upsample, 0.0)
        out = []
        for r, s in zip(rects, scores, strict=True):
            box = (
                int(max(0, round(r.left() / scale))),
                int(max(0, round(r.top() / scale))),
                int(min(w, round(r.right() / scale))),
                int(min(h, round(r.bottom() / scale))),
            )
            if box[2] > box[0] and box[3] > box[1]:
                out.append((box, float(s)))
        out.sort(key=lambda bs: -bs[1])
        return out

    def _shapes(self, img: np.ndarray, boxes: Sequence[tuple[int, int, int, int]]):
        import dlib

        rects = [dlib.rectangle(int(x0), int(y0), int(x1), int(y1)) for x0, y0, x1, y1 in boxes]
        with self._calls:
            return [self._predictor(img, r) for r in rects]

    def _describe(self, img: np.ndarray, shapes) -> list[np.ndarray]:
        with self._calls:
            return [np.array(self._encoder.compute_face_descriptor(img, s), dtype=np.float64) for s in shapes]

    def landmarks(self, image_rgb: np.ndarray, boxes: Sequence[tuple[int, int, int, int]]) -> list[np.ndarray]:
        """68 (x, y) landmarks per box, as float arrays of shape (68, 2)."""
        self._load()
        img = _as_rgb_uint8(image_rgb)
        return [np.array([(p.x, p.y) for p in s.parts()], dtype=np.float64) for s in self._shapes(img, boxes)]

    def embeddings(self, image_rgb: np.ndarray, boxes: Sequence[tuple[int, int, int, int]]) -> list[np.ndarray]:
        """128-d identity embeddings (float64) for the faces in ``boxes``."""
        self._load()
        img = _as_rgb_uint8(image_rgb)
        return self._describe(img, self._shapes(img, boxes))

    def analyze(self, image_rgb: np.ndarray) -> list[Face]:
        """Every detected face with box, score, 68 landmarks and embedding, best score first."""
        self._load()
        img = _as_rgb_uint8(image_rgb)
        found = self.detect(img)
        if not found:
            return []
        found = [f for f in found if f[1] >= MIN_SCORE] or found[:1]
        boxes = [b for b, _ in found]
        shapes = self._shapes(img, boxes)
        faces = []
        for (box, score), shape, emb in zip(found, shapes, self._describe(img, shapes), strict=True):
            pts = [(float(p.x), float(p.y)) for p in shape.parts()]
            faces.append(Face(box=box, score=round(score, 4), landmarks=pts, embedding=[float(x) for x in emb]))
        return faces

    def identity_distance(self, image_rgb: np.ndarray, reference_embedding: Sequence[float]) -> float | None:
        """Smallest embedding distance between any face in ``image_rgb`` and the reference; None if no face."""
        faces = self.detect(image_rgb)
        if not faces:
            return None
        embs = self.embeddings(image_rgb, [b for b, _ in faces])
        ref = np.asarray(reference_embedding, dtype=np.float64)
        return float(min(np.linalg.norm(e - ref) for e in embs))


def face_embeddings(image_rgb: np.ndarray, boxes: Sequence[tuple[int, int, int, int]]) -> list[np.ndarray]:
    """128-d embeddings of the faces at ``boxes`` in an RGB uint8 image (shared analyzer)."""
    return FaceAnalyzer.shared().embeddings(image_rgb, boxes)


def embedding_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """Euclidean distance between two embeddings; below 0.6 means the same person for dlib's model."""
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)))


def identity_similarity(distance: float) -> float:
    """Map an embedding distance to a 0..1 similarity (1 identical, 0.5 at the 0.6 threshold)."""
    return float(np.clip(1.0 - distance / (2 * SAME_PERSON_DISTANCE), 0.0, 1.0))


def pick_primary(faces: Sequence[Face], min_score: float = 0.0) -> int | None:
    """Index of the singer: the largest face among confident ones (all faces when none is confident)."""
    if not faces:
        return None
    confident = [i for i, f in enumerate(faces) if f.score >= min_score] or list(range(len(faces)))
    return max(confident, key=lambda i: (faces[i].area, faces[i].score))


def inspect_reference(image_path: Path, progress: Progress = None) -> ReferenceInfo:
    """Inspect the portrait: size, faces (box, 68 landmarks, embedding), the primary face and warnings.

    An image without a face is not an error: it gets a warning and the procedural renderer
    frames it by saliency instead.
    """
    from mvdirector.media.audio import file_sha256
    from mvdirector.media.image import load_image_with_warnings

    path = Path(image_path)
    if progress:
        progress(0.0, "loading reference image")
    image, warnings = load_image_with_warnings(path)
    h, w = image.shape[:2]
    if progress:
        progress(0.2, "detecting faces")
    faces = FaceAnalyzer.shared().analyze(image)
    primary = pick_primary(faces)
    warnings = [*warnings, *face_warnings(path.name, faces, primary)]
    for msg in warnings:
        log.warning(msg)
    if progress:
        progress(1.0, f"{len(faces)} face(s)")
    return ReferenceInfo(
        path=str(path), sha256=file_sha256(path), width=w, height=h, faces=faces, primary=primary, warnings=warnings
    )


def face_warnings(name: str, faces: Sequence[Face], primary: int | None) -> list[str]:
    """What a person should know about the faces of a singer's photo: none, a small one, several."""
    if primary is None:
        return [
            f"no face found in {name}; shots are framed on the most salient region and the singer "
            "will not lip-sync — use a frontal portrait for face-aware framing"
        ]
    out = []
    fh = faces[primary].box[3] - faces[primary].box[1]
    if fh < SMALL_FACE_PX:
        out.append(
            f"the singer's face in {name} is only {fh} px tall (< {SMALL_FACE_PX}); close-ups will be "
            "soft — use a larger or closer portrait"
        )
    if len(faces) > 1:
        out.append(f"{len(faces)} faces found in {name}; the largest one is taken as the singer")
    return out


def _as_rgb_uint8(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InputError(f"image of shape {image.shape} is not RGB", "pass an (H, W, 3) uint8 array")
    if image.shape[2] == 4:
        image = image[:, :, :3]
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)
