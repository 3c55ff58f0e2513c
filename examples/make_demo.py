"""Prepare the bundled demo: the synthesized song, its lyrics and the astronaut portrait.

    python examples/make_demo.py [OUT_DIR]     # default examples/out

Writes OUT_DIR/demo_song.wav (+ .truth.json) and OUT_DIR/singer.png (scikit-image's
public-domain astronaut). `make demo` then renders them with `mvdirector render`.
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


def main() -> None:
    """Write the demo inputs into the folder given on the command line."""
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    song, _truth = make_song(out_dir)
    singer = make_portrait(out_dir)
    print(f"demo inputs: {song} {singer}")  # noqa: T201 - a script


if __name__ == "__main__":
    main()
