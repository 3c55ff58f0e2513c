"""Prepare the bundled demo: the synthesized song, its lyrics and the photos.

    python examples/make_demo.py [OUT_DIR]     # default examples/out

Writes OUT_DIR/demo_song.wav (+ .truth.json), OUT_DIR/singer.png (scikit-image's public-domain
astronaut) and OUT_DIR/photos/: the singer, two more looks of her made from the portrait (a warm
stage light, mirrored and closer; a cut-out on a studio backdrop, cooler) and two scenes
(scikit-image's coffee and rocket launch). `make demo` then renders them with `mvdirector render`.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_demo_song import make_song  # noqa: E402


def make_portrait(out_dir: Path) -> Path:
    """Save the astronaut portrait (public domain, NASA) as the demo singer."""
    from PIL import Image
    from skimage import data

    path = out_dir / "singer.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


def make_photos(out_dir: Path) -> Path:
    """Write the demo's photos into ``out_dir/photos`` (singer, two looks, two scenes); return the folder."""
    import numpy as np
    from PIL import Image
    from skimage import data

    folder = out_dir / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    a = data.astronaut().astype(np.float32)
    h, w = a.shape[:2]
    warm = a[:, ::-1][int(0.04 * h):, int(0.06 * w):] * [1.12, 0.98, 0.78] + [10.0, 0.0, -6.0]
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    backdrop = np.stack([120 + 100 * xx, 40 + 60 * yy, 160 + 80 * (1 - xx)], -1)
    head = ((yy * max(h, w) - 0.30 * h) / (0.375 * h)) ** 2 + ((xx * max(h, w) - 0.45 * w) / (0.30 * h)) ** 2 < 1
    studio = np.where(head[..., None], a * [0.85, 0.95, 1.15], backdrop)
    images = {"singer": a, "look_stage": warm, "look_studio": studio, "scene_coffee": data.coffee(),
              "scene_rocket": data.rocket()}
    for name, img in images.items():
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"{name}.png")
    return folder


def main() -> None:
    """Write the demo inputs into the folder given on the command line."""
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    song, _truth = make_song(out_dir)
    singer = make_portrait(out_dir)
    photos = make_photos(out_dir)
    print(f"demo inputs: {song} {singer} {photos}/")  # noqa: T201 - a script


if __name__ == "__main__":
    main()
