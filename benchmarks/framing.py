"""Where the singer's eyes sit in each format: the demo's plan rendered at 16:9, 9:16 and 1:1; prints a table.

    .venv/bin/python benchmarks/framing.py

The demo (song, lyrics, the astronaut portrait) is analysed and planned once (``mvdirector plan``'s path);
then every shot's camera, as the procedural renderer places it for each format's size, carries the
reference's eye landmarks into the frame at 9 instants per shot (``face_homography``: no pixels are drawn).
The figure is the eye line as a share of the frame height (the rule of thirds wants 0.33), per framing:
the median over the shot's instants and its range; and whether the eyes, nose and mouth stayed inside
the frame at every instant. The anchor from the same run is the 16:9 row.
"""

from __future__ import annotations

import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

SIZES = {"16:9": (960, 540), "9:16": (540, 960), "1:1": (720, 720)}
FEATURES = [36, 39, 42, 45, 30, 48, 54]  # eye corners, nose tip, mouth corners


def main() -> None:
    from make_demo import make_portrait
    from make_demo_song import make_song

    from mvdirector.deliver import format_plan
    from mvdirector.pipeline import run
    from mvdirector.request import Delivery, RenderRequest
    from mvdirector.rules import ASPECTS
    from stages.procedural import ProceduralRenderer
    from stages.procedural.projection import apply_homography
    from stages.render import ShotJob
    from stages.render.framing import FACE_MULTIPLE

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        song, _ = make_song(tmp)
        ref = make_portrait(tmp)
        req = RenderRequest.create(song=song, reference=ref, out=tmp / "v.mp4", workdir=tmp / "wd", width=960,
                                   height=540, lyrics=ROOT / "examples" / "assets" / "demo_lyrics.txt")
        made = run(req, until="direct")
        info = made.reference
        lm = np.asarray(info.primary_face.landmarks)
        eyes, feats = lm[36:48].mean(axis=0, keepdims=True), lm[FEATURES]
        renderer = ProceduralRenderer(parallax=False, rig=False, grain=0.0)
        print(f"\n## Eye line per format ({len(made.plan.shots)} shots of the demo's plan; share of the frame "
              "height, median [range]; 0.33 = upper third)\n")
        framings = [f for f in FACE_MULTIPLE if any(s.framing == f for s in made.plan.shots)]  # tight to wide
        print("| format | " + " | ".join(framings) + " | face inside, all instants |")
        print("|---|" + "---:|" * len(framings) + "---:|")
        for name, (w, h) in SIZES.items():
            plan = format_plan(made.plan, Delivery(ASPECTS[name], w, h, tmp / "x.mp4"))
            lines, inside, total = defaultdict(list), 0, 0
            for shot in plan.shots:
                frames = renderer.frames(ShotJob(plan, shot, made.analysis, info, ref, song))
                n = len(frames)
                for i in np.linspace(0, n - 1, 9).round().astype(int):
                    hom = frames.face_homography(int(i))
                    lines[shot.framing].append(apply_homography(hom, eyes)[0, 1] / h)
                    xy = apply_homography(hom, feats)
                    inside += bool((xy[:, 0] > 0).all() and (xy[:, 0] < w).all() and (xy[:, 1] > 0).all()
                                   and (xy[:, 1] < h).all())
                    total += 1
            cells = [f"{np.median(lines[f]):.2f} [{min(lines[f]):.2f}–{max(lines[f]):.2f}]" for f in framings]
            print(f"| {name} {w}×{h} | " + " | ".join(cells) + f" | {inside}/{total} |")


if __name__ == "__main__":
    main()
