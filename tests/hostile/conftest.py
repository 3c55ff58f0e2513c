"""The hostile-input suite's harness: a folder of a user's files, a CLI run in it, and the checks every run must pass.

`Workspace.refused` runs ``mvdirector ARGS`` in the folder (in this process, so the imports are
shared and a case costs milliseconds to a second) and asserts what the README promises for bad
input: exit code 2, one ``error:`` line, no traceback or "internal error", no raw control
character on the terminal, every file that was there before byte-identical (special files
untouched), and no temporary left behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from factories import cli, make_plan

from mvdirector.planio import save_plan

TEMPORARY = re.compile(r"\.tmp\d|^\.assemble-|^\.mvd-probe-")
"""Names of this program's temporaries."""
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")


def snapshot(root: Path) -> dict[str, object]:
    """Every path under ``root``: a regular file's sha256, a folder, or the kind of a special file."""
    out: dict[str, object] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(folder) / name
            st = os.lstat(p)
            key = str(p.relative_to(root))
            if stat.S_ISREG(st.st_mode):
                out[key] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[key] = (stat.S_IFMT(st.st_mode), st.st_ino)
    return out


class Workspace:
    """A user's folder: a short song, a portrait and a plan, plus whatever a case adds."""

    def __init__(self, root: Path, assets: Path) -> None:
        self.root = root
        for name in ("song.wav", "singer.png", "plan.json"):
            shutil.copy(assets / name, root / name)

    def __truediv__(self, name: str) -> Path:
        return self.root / name

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``mvdirector ARGS`` with this folder as the current directory."""
        cwd = os.getcwd()
        os.chdir(self.root)
        try:
            return cli(*args)
        finally:
            os.chdir(cwd)

    def refused(self, *args: str, needle: str = "") -> str:
        """Run ``args``; assert a clean refusal that changed nothing; return the error line."""
        before = snapshot(self.root)
        proc = self.run(*args)
        after = snapshot(self.root)
        text = proc.stderr + proc.stdout
        assert proc.returncode == 2, text
        assert "Traceback" not in text and "internal error" not in text, text
        assert not CONTROL.search(text), repr(text)
        lines = [x for x in proc.stderr.splitlines() if x.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), text
        assert needle.lower() in lines[0].lower(), lines[0]
        changed = [k for k, v in before.items() if after.get(k) != v]
        assert not changed, f"{changed} changed by: {lines[0]}"
        left = [k for k in after if k not in before and TEMPORARY.search(Path(k).name)]
        assert not left, f"temporaries left: {left}"
        return lines[0]


@pytest.fixture(scope="session")
def assets(tmp_path_factory: pytest.TempPathFactory, click_song: Path, portrait: Path) -> Path:
    """The user's files every case starts from."""
    d = tmp_path_factory.mktemp("hostile-assets")
    shutil.copy(click_song, d / "song.wav")
    shutil.copy(portrait, d / "singer.png")
    save_plan(make_plan(), d / "plan.json")
    return d


@pytest.fixture
def ws(tmp_path: Path, assets: Path) -> Workspace:
    """A fresh folder of the user's files."""
    return Workspace(tmp_path, assets)
