"""`analyze` without lyrics stays light: none of the heavy libraries is imported (CPU budget: start-up counts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SONG = ROOT / "tests" / "fixtures" / "songs" / "waltz_90_3-4.ogg"
HEAVY = ("torch", "transformers", "whisper", "faster_whisper", "ctranslate2", "diffusers", "librosa", "numba")
ALSO = ("scipy.signal", "networkx")  # 1.5 and 0.3 CPU-s of imports, not needed to analyse


def test_analyze_without_lyrics_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from stages.analyze import AnalyzeConfig, analyze\n"
        f"analyze({str(SONG)!r}, AnalyzeConfig(asr='none'))\n"
        f"print(','.join(m for m in {HEAVY + ALSO!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == ""
    assert out.stderr.strip() == ""  # nothing on the terminal either
