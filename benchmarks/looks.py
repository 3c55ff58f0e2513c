"""Colour continuity across looks: ΔE between neighbouring shots with and without ``--colour-match``.

Renders the demo song with the demo's five photos (``examples/make_demo.py``: the singer, two looks,
two scenes) twice at a small size, with and without ``--colour-match``, and measures in the final
video the CIE L*a*b* mean of each shot and the ΔE (CIE76) across every cut: all cuts, cuts that change
photo, and cuts between two photos of the singer (face region not separated: whole frames). The anchor
is the ΔE between the photos themselves. CPU time (user+sys of this process) per render is printed.

    .venv/bin/python benchmarks/looks.py [--size 320x180] [--fps 12]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

from make_demo import make_photos  # noqa: E402
from make_demo_song import make_song  # noqa: E402

from mvdirector.media.image import load_image  # noqa: E402
from mvdirector.media.video import read_frames  # noqa: E402
from mvdirector.pipeline import render  # noqa: E402
from mvdirector.planio import load_plan  # noqa: E402
from mvdirector.request import RenderRequest  # noqa: E402
from stages.assemble.colour import delta_e, lab_stats  # noqa: E402


def cpu_s() -> float:
    """User + system CPU seconds of this process and its finished children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def cuts(video: Path, workdir: Path) -> list[tuple[str, str, float]]:
    """(kind before, kind after, ΔE) for every cut of the rendered video, from each shot's mean L*a*b*."""
    plan, _ = load_plan(workdir / "plan.json")
    frames = list(read_frames(video))
    fps = plan.render.fps
    means, kinds = [], []
    for s in plan.shots:
        a, b = round(s.start_s * fps), max(round(s.start_s * fps) + 1, round(s.end_s * fps))
        means.append(lab_stats(frames[a:b:3]).mean)
        ref = plan.reference_of(s)
        kinds.append(f"{ref.kind}:{ref.id}" if ref else "singer:singer")
    return [(kinds[i - 1], kinds[i], delta_e(means[i - 1], means[i])) for i in range(1, len(means))]


def summary(values: list[float]) -> str:
    """Median / max (how many), or a dash."""
    return f"{statistics.median(values):4.1f} / {max(values):4.1f} ({len(values)})" if values else "—"


def main() -> None:
    """Render both ways and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="320x180")
    ap.add_argument("--fps", type=float, default=12.0)
    args = ap.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        song, _ = make_song(work)
        photos = make_photos(work)
        singer = load_image(photos / "singer.png")
        anchor = {p.stem: delta_e(lab_stats([load_image(p)]).mean, lab_stats([singer]).mean)
                  for p in sorted(photos.glob("*.png")) if p.stem != "singer"}
        rows, every = [], []
        for match in (False, True):
            wd = work / f"wd-{int(match)}"
            req = RenderRequest.create(song=song, reference=photos, singer=photos / "singer.png", workdir=wd,
                                       out=wd / "video.mp4", width=width, height=height, fps=args.fps, asr="none",
                                       colour_match=match)
            t0 = cpu_s()
            render(req)
            took = cpu_s() - t0
            c = cuts(wd / "video.mp4", wd)
            changed = [d for a, b, d in c if a != b]
            people = [d for a, b, d in c if a != b and not a.startswith("scene") and not b.startswith("scene")]
            rows.append((match, summary([d for *_, d in c]), summary(changed), summary(people), len(c), took))
            every.append(c)
    print("anchor: ΔE of each photo's mean to the singer photo's: "  # noqa: T201 - a benchmark prints
          + ", ".join(f"{k} {v:.1f}" for k, v in anchor.items()))
    print(f"{'--colour-match':15} {'all cuts: med/max (n)':>22} {'photo changes':>18} {'singer↔look':>18} "  # noqa: T201
          f"{'cuts':>5} {'CPU s':>7}")
    for match, all_c, changed, people, n, took in rows:
        print(f"{'on' if match else 'off':15} {all_c:>22} {changed:>18} {people:>18} {n:5d} {took:7.1f}")  # noqa: T201
    if len(every[0]) == len(every[1]):  # the same plan both ways: each cut that changes photo
        print("cuts that change photo: from → to, ΔE off → on")  # noqa: T201
        for (a, b, off), (_, _, on) in zip(*every, strict=True):
            if a != b:
                print(f"  {a:>24} → {b:<24} {off:5.1f} → {on:5.1f}")  # noqa: T201


if __name__ == "__main__":
    main()
