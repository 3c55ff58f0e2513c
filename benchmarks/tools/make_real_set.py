"""Build a folder of public annotated recordings for ``benchmarks/analysis.py --real DIR``.

Nothing here is committed to this repository; the sources are read from local clones:

- ``--mirdata``  mir-dataset-loaders/mirdata: its test resources hold a full 30 s Ballroom waltz
  and a 56 s Hainsworth excerpt (audio) and a 5 s jazz-trio excerpt with beats (JTD);
- ``--ismir2019``  superbock/ISMIR2019: the full beat/downbeat annotations of Ballroom and Hainsworth;
- ``--asap``  fosfrancesco/asap-dataset: human piano performances (MIDI) with beat, downbeat and
  time-signature annotations — rendered with fluidsynth's General-MIDI piano, first 60 s, for
  real rubato and classical meters (compound meters are annotated at the dotted-quarter beat);
- ``--librosa-data``  librosa/data: example recordings without annotations (scored by agreement
  with plain madmom).

It lives under tools/ so `make bench` (every script in benchmarks/) does not run it.
Each recording becomes ``<name>.<ext>`` plus ``<name>.beats`` (time, position in the bar; 1 =
downbeat). Needs git and, for ASAP, ``fluidsynth`` with ``fluid-soundfont-gm``.

    python benchmarks/tools/make_real_set.py OUT --mirdata DIR --ismir2019 DIR --asap DIR --librosa-data DIR
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import tempfile
from pathlib import Path

import numpy as np

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
CROP_S = 60.0
ASAP = [  # one performance per piece: 4/4, 3/4, 2/4, 6/8, 12/8, 2/2, 3/8 and 9/8, several composers
    "Beethoven/Piano_Sonatas/11-1/Arciglione03",
    "Haydn/Keyboard_Sonatas/31-1/Masycheva01",
    "Liszt/Concert_Etude_S145/1/FEINER03",
    "Beethoven/Piano_Sonatas/11-3/MaximovI05",
    "Brahms/Six_Pieces_op_118/2/Shilyaev03",
    "Chopin/Etudes_op_25/5/Levitsky10M",
    "Debussy/Pour_le_Piano/1/MunA12M",
    "Chopin/Etudes_op_10/3/SunMeiting08",
    "Mozart/Piano_Sonatas/11-3/Stahievitch02",
    "Beethoven/Piano_Sonatas/15-4/Floril01",
    "Mozart/Piano_Sonatas/12-3/BLINOV01",
    "Liszt/Annees_de_pelerinage_2/1_Gondoliera/LeungM08M",
    "Bach/Prelude/bwv_854/LuA01M",
    "Beethoven/Piano_Sonatas/23-1/Cai01",
    "Schubert/Impromptu_op142/3/Cui04",
    "Beethoven/Piano_Sonatas/12-1/Garritson01",
    "Bach/Fugue/bwv_864/SunD01M",
]
MIRDATA = [  # (audio in mirdata's test resources, annotation in ISMIR2019, name)
    (
        "tests/resources/mir_datasets/ballroom/B_1.0/audio/Waltz/Media-105901.wav",
        "ballroom/annotations/beats/ballroom_Media-105901.beats",
        "ballroom_waltz_Media-105901",
    ),
    (
        "tests/resources/mir_datasets/hainsworth/H_1.0/audio/hains001.flac",
        "hainsworth/annotations/beats/hainsworth_001.beats",
        "hainsworth_001",
    ),
]
JTD = "tests/resources/mir_datasets/jtd/"
JTD_ID = "barronk-allgodschildren-drummondrrileyb-1990-8b77c067"
LIBROSA = [
    "147793__setuniman__sweet-waltz-0i-22mi",
    "442789__lena-orsa__happy-music-pistachio-ice-cream-ragtime",
    "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra)",
    "Karissa_Hobbs_-_Lets_Go_Fishin",
    "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy",
    "Kevin_MacLeod_-_Vibe_Ace",
    "admiralbob77_-_Choice_-_Drum-bass",
]


def git_show(repo: Path, path: str) -> bytes:
    """A file's bytes at HEAD of a local clone (works on bare mirrors too)."""
    return subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{path}"], capture_output=True, check=True).stdout


def asap(repo: Path, out: Path) -> None:
    """Render each ASAP performance's first minute and write its beats with bar positions."""
    import soundfile as sf

    for piece in ASAP:
        name = "asap_" + piece.replace("/", "_")
        with tempfile.TemporaryDirectory() as tmp:
            mid, wav = Path(tmp) / "p.mid", Path(tmp) / "p.wav"
            mid.write_bytes(git_show(repo, piece + ".mid"))
            cmd = ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", "44100", "-F", str(wav), SOUNDFONT, str(mid)]
            subprocess.run(cmd, check=True, capture_output=True)
            y, sr = sf.read(wav, dtype="float32", always_2d=True)
        y = y.mean(axis=1)[: int(CROP_S * sr)]
        fade = int(0.5 * sr)
        y[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        sf.write(out / f"{name}.flac", 0.9 * y / np.abs(y).max(), sr)
        rows, pos = [], 0
        for line in git_show(repo, piece + "_annotations.txt").decode().splitlines():
            t, _, label = line.split("\t")
            if float(t) > CROP_S - 0.6:
                break
            pos = 1 if label.split(",")[0] == "db" else (pos + 1 if pos else 0)
            rows.append(f"{float(t):.4f}\t{pos}")
        (out / f"{name}.beats").write_text("\n".join(rows) + "\n")


def mirdata(repo: Path, ismir: Path, out: Path) -> None:
    """Ballroom and Hainsworth audio with their full annotations; the JTD jazz excerpt."""
    for audio, ann, name in MIRDATA:
        (out / f"{name}{Path(audio).suffix}").write_bytes(git_show(repo, audio))
        rows = []
        for line in git_show(ismir, ann).decode().splitlines():
            if line.strip():
                t, b = line.split()[:2]
                rows.append(f"{float(t):.4f}\t{b.split('.')[-1] if '.' in b else b}")
        (out / f"{name}.beats").write_text("\n".join(rows) + "\n")
    (out / "jtd_allgodschildren.wav").write_bytes(git_show(repo, JTD + f"raw/{JTD_ID}.wav"))
    table = csv.DictReader(io.StringIO(git_show(repo, JTD + f"annotations/{JTD_ID}/beats.csv").decode()))
    rows = [f"{float(r['beats']):.4f}\t{int(float(r['metre_auto']))}" for r in table]
    (out / "jtd_allgodschildren.beats").write_text("\n".join(rows) + "\n")


def main() -> None:
    """Command-line entry: build whatever the given clones allow."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--mirdata", type=Path)
    ap.add_argument("--ismir2019", type=Path)
    ap.add_argument("--asap", type=Path)
    ap.add_argument("--librosa-data", type=Path)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.asap:
        asap(args.asap, args.out)
    if args.mirdata and args.ismir2019:
        mirdata(args.mirdata, args.ismir2019, args.out)
    if args.librosa_data:
        for name in LIBROSA:
            (args.out / f"{name}.ogg").write_bytes(git_show(args.librosa_data, f"audio/{name}.ogg"))


if __name__ == "__main__":
    main()
