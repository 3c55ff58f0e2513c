"""The work directory of a render: its files, the record of which cache key made each, and cleanup.

``song.mvd/`` holds ``analysis.json``, ``reference.json``, ``plan.json``, ``run.json``,
``report.json``/``report.html``, ``shots/<id>.<key8>.mp4``, ``keys.json`` (which key made
which output) and the assembler's memos. Files are written under a temporary name and renamed
into place, so the leftovers of a killed run are only ever temporaries, each recorded by name in
``.mvd-temps`` (`mvdirector.temps`) — clean-up removes those and nothing else.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mvdirector import temps
from mvdirector.errors import InputError
from mvdirector.media.atomic import write_json_atomic

KEYS = "keys.json"
"""The record of which cache key made each result."""
FILES = ("analysis.json", "reference.json", "references.json", "plan.json", KEYS, "run.json", "report.json",
         "report.html", ".lock", temps.JOURNAL)
"""Files a run writes directly in its work directory (no input or other output may be one of them)."""

CACHE = "cache"
"""Folder where renderers keep per-photo preparations between runs (`ShotJob.cache_dir`)."""
THUMBNAILS = "thumbs"
"""Folder holding the report's shot thumbnails."""
FORMATS_DIR = "formats"
"""Folder of the per-format reports and assembly memos with ``--formats`` (``formats/<tag>/``)."""
IDENTITY_CACHE = "identity-cache.json"
"""Per-frame identity measurements the assembler reuses when re-assembling after an edit."""


@dataclass
class Workdir:
    """A work directory and its record of which cache key made each stage output."""

    root: Path
    keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, root: Path) -> Workdir:
        """Create (if needed) and open a work directory, checking that it is writable."""
        try:
            root.mkdir(parents=True, exist_ok=True)
            (root / "shots").mkdir(exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".mvd-probe-", dir=root)
            os.close(fd)
            os.unlink(probe)
        except OSError as e:
            from mvdirector.environment import describe_os_error

            raise InputError(
                f"cannot write to work directory '{root}': {describe_os_error(e)}",
                "pick a writable place with --workdir",
            ) from None
        keys: dict[str, str] = {}
        kf = root / KEYS
        if kf.exists():
            try:
                keys = json.loads(kf.read_text())
            except (ValueError, OSError):
                keys = {}
            if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
                keys = {}  # a hand-damaged record: everything is recomputed
        return cls(root, keys)

    def path(self, name: str) -> Path:
        """Path of a file in the work directory."""
        return self.root / name

    def fresh(self, name: str, key: str) -> bool:
        """True when ``name`` exists and was made under cache key ``key``."""
        return self.keys.get(name) == key and self.path(name).exists()

    def record(self, name: str, key: str) -> None:
        """Remember that ``name`` was made under ``key`` (written atomically)."""
        self.keys[name] = key
        write_json_atomic(self.root / KEYS, self.keys)

    def forget(self, name: str) -> None:
        """Drop the record of ``name`` (written atomically)."""
        if self.keys.pop(name, None) is not None:
            write_json_atomic(self.root / KEYS, self.keys)

    @staticmethod
    def _stamp(path: Path) -> str:
        st = path.stat()
        return f"{st.st_size}:{st.st_mtime_ns}"

    def fresh_file(self, name: str, key: str, path: Path) -> bool:
        """True when ``path`` exists, was made under ``key`` and has not been replaced since."""
        try:
            return self.keys.get(name) == f"{key}@{self._stamp(path)}"
        except OSError:
            return False

    def record_file(self, name: str, key: str, path: Path) -> None:
        """Remember that ``path`` (possibly outside the work directory) was made under ``key``."""
        self.record(name, f"{key}@{self._stamp(path)}")

    def clean_temps(self) -> int:
        """Remove the temporaries a killed run left behind (those its journal lists); return how many.

        Call it only while holding the work-directory lock: then no other run is writing here.
        """
        return temps.clean(self.root)
