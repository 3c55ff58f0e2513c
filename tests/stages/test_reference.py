"""inspect_reference / FaceAnalyzer on the astronaut portrait shipped with scikit-image."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from PIL import Image
from skimage import data

from mvdirector.errors import InputError
from stages.reference import (
    FaceAnalyzer,
    embedding_distance,
    face_embeddings,
    identity_similarity,
    inspect_reference,
    models_dir,
    pick_primary,
)

# The astronaut's face as found by dlib's HOG detector (x0, y0, x1, y1).
ASTRONAUT_FACE = (175, 76, 265, 166)


@pytest.fixture(scope="module")
def astronaut_png(tmp_path_factory):
    p = tmp_path_factory.mktemp("ref") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(p)
    return p


@pytest.fixture(scope="module")
def astronaut_info(astronaut_png):
    return inspect_reference(astronaut_png)


def _iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_models_found_without_importing_the_package():
    sys.modules.pop("face_recognition_models", None)
    folder = models_dir()
    assert (folder / "shape_predictor_68_face_landmarks.dat").is_file()
    assert "face_recognition_models" not in sys.modules


def test_astronaut_has_one_primary_face_with_landmarks_and_embedding(astronaut_info):
    info = astronaut_info
    assert (info.width, info.height) == (512, 512)
    assert len(info.sha256) == 64
    face = info.primary_face
    assert face is not None
    assert _iou(face.box, ASTRONAUT_FACE) > 0.8
    assert len(face.landmarks) == 68 and len(face.embedding) == 128
    pts = np.asarray(face.landmarks)
    # Landmarks are anatomically ordered: eyes above the nose tip above the mouth, all in the box.
    eyes_y = pts[36:48, 1].mean()
    assert eyes_y < pts[30, 1] < pts[48:68, 1].mean()
    assert pts[36:42, 0].mean() < pts[42:48, 0].mean()  # image-left eye first
    x0, y0, x1, y1 = face.box
    assert np.all((pts[:, 0] > x0 - 20) & (pts[:, 0] < x1 + 20) & (pts[:, 1] > y0 - 20) & (pts[:, 1] < y1 + 20))
    assert not [w for w in info.warnings if "face" in w and "no face" in w]
    # The contract survives a JSON round trip.
    assert type(info).model_validate_json(info.model_dump_json()) == info


def test_same_person_is_close_and_embeddings_are_deterministic(astronaut_info):
    img = data.astronaut()
    face = astronaut_info.primary_face
    flipped = np.ascontiguousarray(img[:, ::-1])
    w = img.shape[1]
    fbox = (w - face.box[2], face.box[1], w - face.box[0], face.box[3])
    emb_flip = face_embeddings(flipped, [fbox])[0]
    emb_again = face_embeddings(img, [face.box])[0]
    assert np.allclose(emb_again, face.embedding, atol=1e-6)
    d = embedding_distance(face.embedding, emb_flip)
    assert d < 0.6
    assert identity_similarity(d) > 0.5
    assert identity_similarity(0.0) == 1.0 and identity_similarity(2.0) == 0.0


def test_identity_distance_of_a_frame(astronaut_info):
    fa = FaceAnalyzer.shared()
    img = data.astronaut()
    # A downscaled, shifted crop still matches; a face-free picture has no distance.
    crop = np.ascontiguousarray(img[40:400, 100:460])
    d = fa.identity_distance(crop, astronaut_info.primary_face.embedding)
    assert d is not None and d < 0.45
    assert fa.identity_distance(data.coffee(), astronaut_info.primary_face.embedding) is None


def test_no_face_is_a_warning_not_an_error(tmp_path):
    p = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(p)
    info = inspect_reference(p)
    assert info.faces == [] and info.primary is None
    assert any("no face" in w for w in info.warnings)


def test_exif_rotated_reference_is_upright(tmp_path, astronaut_info):
    p = tmp_path / "rotated.jpg"
    # Stored rotated 90° clockwise with orientation 8 ("rotate 90 CW to view"): viewers show it upright.
    img = Image.fromarray(data.astronaut()).transpose(Image.Transpose.ROTATE_270)
    exif = Image.Exif()
    exif[0x0112] = 8
    img.save(p, quality=95, exif=exif)
    info = inspect_reference(p)
    assert info.primary_face is not None
    assert _iou(info.primary_face.box, astronaut_info.primary_face.box) > 0.6


def test_small_face_warns(tmp_path):
    p = tmp_path / "small.png"
    Image.fromarray(data.astronaut()).resize((300, 300)).save(p)
    info = inspect_reference(p)
    assert info.primary_face is not None
    assert any("px tall" in w for w in info.warnings)


def test_corrupt_image_is_an_input_error(tmp_path):
    p = tmp_path / "broken.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    with pytest.raises(InputError):
        inspect_reference(p)


def test_pick_primary_prefers_large_confident_faces():
    from mvdirector.schemas import Face

    faces = [Face(box=(0, 0, 50, 50), score=2.0), Face(box=(0, 0, 200, 200), score=0.1),
             Face(box=(0, 0, 120, 120), score=1.0)]
    assert pick_primary(faces, min_score=0.5) == 2
    assert pick_primary(faces) == 1
    assert pick_primary([]) is None


_CONCURRENT_SCRIPT = """
from concurrent.futures import ThreadPoolExecutor
import cv2
import numpy as np
from skimage import data
from stages.reference import FaceAnalyzer

fa = FaceAnalyzer.shared()
img = np.ascontiguousarray(data.astronaut())
# Frames of several sizes, as shots of different formats give: dlib's detector reallocates its
# image pyramid per size, which is where two threads sharing one detector crashed.
frames = [cv2.resize(img, (w, h)) for w, h in ((320, 320), (640, 360), (480, 480), (1280, 720), (540, 960))]
alone = [fa.detect(f) for f in frames]
with ThreadPoolExecutor(4) as pool:
    together = list(pool.map(lambda i: fa.detect(frames[i % len(frames)]), range(120)))
assert all(t == alone[i % len(frames)] for i, t in enumerate(together))
ref = fa.analyze(img)[0]
with ThreadPoolExecutor(4) as pool:
    faces = list(pool.map(lambda _: fa.analyze(img)[0], range(12)))
assert all(f.box == ref.box and np.allclose(f.embedding, ref.embedding) for f in faces)
print("ok")
"""


def test_one_analyzer_serves_many_threads():
    """Shot threads measure identity with the shared analyzer at once: no crash, same answers.

    Run in a child process, so that a native crash (dlib objects called from two threads)
    fails this test instead of killing the test run.
    """
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _CONCURRENT_SCRIPT], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
