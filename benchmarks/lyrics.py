"""Lyrics figures on the sung fixtures: language calls, word-onset accuracy, invented words.

For each song of ``tests/fixtures/lang_songs`` (French, Spanish, German, English; see
`tests/fixtures/make_lang_songs.py`) and, with ``--english``, the English songs of
``tests/fixtures/songs``:

- ``txt``: the analysis with the song's lyrics as a plain ``.txt`` (``--lyrics``): the
  language recorded (final, from the text), how the words were placed, the word-onset mean
  absolute error and the share within 0.3 s (words matched by position: a lyrics file keeps
  its words), next to the same figures for spreading the words evenly over the song;
- ``asr``: the analysis without a lyrics file: how many words came out, whether the one-line
  warning fired. For a non-English song every output word is an invented English word.

CPU seconds are user+sys of this process (the machine is shared; wall clock is not).

    python benchmarks/lyrics.py [--english] [--songs NAME ...] [--asr auto|none]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stages.analyze import AnalyzeConfig, analyze  # noqa: E402

LANG_SONGS = ROOT / "tests" / "fixtures" / "lang_songs"
SONGS = ROOT / "tests" / "fixtures" / "songs"


def onset_errors(truth: dict, lines) -> np.ndarray:  # noqa: ANN001 - list[LyricLine]
    """|estimated − true| word start for each word of a lyrics file (same words, same order)."""
    ref = [w["start_s"] for ln in truth["lines"] for w in ln["words"]]
    est = [w.start_s for ln in lines for w in ln.words]
    if len(ref) != len(est):
        raise RuntimeError(f"{truth['name']}: {len(est)} words out for {len(ref)} in")
    return np.abs(np.array(est) - np.array(ref))


def spread_errors(truth: dict) -> np.ndarray:
    """The same errors for words spread evenly (by character count) over the whole song."""
    words = [w for ln in truth["lines"] for w in ln["words"]]
    weights = np.array([max(1, len(w["text"])) for w in words], float)
    starts = truth["duration_s"] * np.r_[0.0, np.cumsum(weights)[:-1]] / weights.sum()
    return np.abs(starts - np.array([w["start_s"] for w in words]))


def _txt(truth: dict, path: Path, folder: Path) -> Path:
    txt = path.with_suffix(".txt")
    if txt.is_file():
        return txt
    out = folder / f"{path.stem}.txt"
    out.write_text("\n".join(ln["text"] for ln in truth["lines"]) + "\n", encoding="utf-8")
    return out


def run(paths: list[Path], asr: str) -> None:
    """Print one row per song and mode, then the totals per language."""
    print(f"{'song':20s} {'lang':>4s} {'mode':>4s} {'final':>6s} {'text':>9s} {'words':>5s} {'MAE s':>6s} "
          f"{'<=0.3':>6s} {'even MAE':>8s} {'even<=.3':>8s} {'warn':>4s} {'cpu s':>6s}  placed by")
    per_lang: dict[str, list[np.ndarray]] = {}
    per_lang_even: dict[str, list[np.ndarray]] = {}
    invented: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            truth = json.loads(path.with_suffix(".truth.json").read_text())
            truth.setdefault("name", path.stem)
            lang = truth.get("language", "en")
            for mode in ("txt", "asr"):
                lyr = str(_txt(truth, path, Path(tmp))) if mode == "txt" else None
                c0 = time.process_time()
                a = analyze(path, AnalyzeConfig(asr=asr, lyrics=lyr))
                cpu = time.process_time() - c0
                ly = a.lyrics
                n = sum(len(ln.words) for ln in ly.lines)
                text = f"{ly.text_language.code} {ly.text_language.confidence:.2f}" if ly.text_language else "-"
                row = f"{path.stem:20s} {lang:>4s} {mode:>4s} {ly.language or '-':>6s} {text:>9s} {n:5d} "
                if mode == "txt":
                    e, s = onset_errors(truth, ly.lines), spread_errors(truth)
                    per_lang.setdefault(lang, []).append(e)
                    per_lang_even.setdefault(lang, []).append(s)
                    row += f"{e.mean():6.2f} {np.mean(e <= 0.3):6.2f} {s.mean():8.2f} {np.mean(s <= 0.3):8.2f} "
                else:
                    if lang != "en":
                        invented[lang] = invented.get(lang, 0) + n
                    row += f"{'':6s} {'':6s} {'':8s} {'':8s} "
                by = a.provenance.get("lyrics", "")
                print(row + f"{'yes' if ly.warning else 'no':>4s} {cpu:6.1f}  {by[:70]}", flush=True)
    print("\nper language, .txt lyrics: word-onset MAE / share within 0.3 s (even spreading in brackets); "
          "ASR-only words out on non-English songs")
    for lang in sorted(per_lang):
        e, s = np.concatenate(per_lang[lang]), np.concatenate(per_lang_even[lang])
        extra = f", ASR-only words out: {invented[lang]}" if lang in invented else ""
        print(f"  {lang}: {e.mean():.2f} s / {np.mean(e <= 0.3):.0%}  ({s.mean():.2f} s / {np.mean(s <= 0.3):.0%}), "
              f"{e.size} words{extra}")


def main() -> None:
    """Command-line entry."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--english", action="store_true", help="also the English songs of tests/fixtures/songs")
    ap.add_argument("--songs", nargs="*", default=None, help="only these song names")
    ap.add_argument("--asr", default="auto")
    args = ap.parse_args()
    paths = sorted(LANG_SONGS.glob("*.ogg")) + (sorted(SONGS.glob("*.ogg")) if args.english else [])
    paths = [p for p in paths if json.loads(p.with_suffix(".truth.json").read_text()).get("lines")]
    if args.songs:
        paths = [p for p in paths if p.stem in args.songs]
    run(paths, args.asr)


if __name__ == "__main__":
    main()
