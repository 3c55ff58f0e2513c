"""Caches that let a re-assembly after a one-shot edit redo only what that shot touches.

* `PieceCache` keeps re-encoded pieces (transitions, graded shots) under a key of everything
  that decides their frames: the clips' content, the frame ranges, the transition windows,
  the colour transforms and the encoder settings.
* `MeasureMemo` keeps each shot's identity/colour measurement and thumbnail under a key of
  the parts its frames come from, so an unchanged shot is not decoded again.

Both keep only the entries used by the latest run, so they never outgrow one video.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from mvdirector.media.atomic import atomic_output, file_sha256, write_json_atomic


def digest(payload: Any) -> str:
    """sha256 of the canonical JSON of ``payload`` (dataclasses as dicts)."""

    def default(o: Any) -> Any:
        if is_dataclass(o) and not isinstance(o, type):
            return asdict(o)
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"cannot digest {type(o).__name__}")

    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=default)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ContentIds:
    """sha256 of clip files, computed once per run."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def of(self, path: str | Path) -> str:
        """Content hash of the file at ``path``."""
        key = str(path)
        if key not in self._seen:
            self._seen[key] = file_sha256(path)
        return self._seen[key]


class PieceCache:
    """Encoded pieces kept in a folder as ``<key>.<suffix>``."""

    def __init__(self, folder: str | Path, suffix: str) -> None:
        self.folder = Path(folder)
        self.suffix = suffix
        self.used: set[str] = set()

    def path(self, key: str) -> Path:
        """Where the piece with ``key`` lives (whether or not it exists yet)."""
        self.used.add(key)
        return self.folder / f"{key}{self.suffix}"

    def prune(self) -> None:
        """Delete the pieces the latest run did not use."""
        if not self.folder.is_dir():
            return
        for f in self.folder.iterdir():
            if f.is_file() and f.name.endswith(self.suffix) and f.name[: -len(self.suffix)] not in self.used:
                f.unlink(missing_ok=True)


class MeasureMemo:
    """Per-shot measurements (a JSON file) and thumbnails (JPEGs) in a folder."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.file = self.folder / "measure.json"
        try:
            data = json.loads(self.file.read_text())
        except (OSError, ValueError):
            data = {}
        self._old: dict[str, dict[str, Any]] = data if isinstance(data, dict) else {}
        self._used: dict[str, dict[str, Any]] = {}

    def get(self, key: str, thumb_to: Path | None) -> dict[str, Any] | None:
        """The stored entry for ``key`` (its thumbnail copied to ``thumb_to``), or None."""
        entry = self._old.get(key)
        if entry is None:
            return None
        if thumb_to is not None:
            src = self.folder / f"{key[:24]}.jpg"
            if not src.is_file():
                return None
            thumb_to.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, thumb_to)
        self._used[key] = entry
        return entry

    def put(self, key: str, entry: dict[str, Any], thumb_from: Path | None) -> None:
        """Store ``entry`` under ``key`` (and a copy of its thumbnail)."""
        if thumb_from is not None and thumb_from.is_file():
            with atomic_output(self.folder / f"{key[:24]}.jpg") as tmp:
                shutil.copyfile(thumb_from, tmp)
        self._used[key] = entry

    def save(self) -> None:
        """Write the entries used by this run; drop the others and their thumbnails."""
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.file, self._used)
        keep = {f"{k[:24]}.jpg" for k in self._used}
        for f in self.folder.glob("*.jpg"):
            if f.name not in keep:
                f.unlink(missing_ok=True)


def shots_overlapping(ranges: list[tuple[int, int]], start: int, end: int) -> Iterable[int]:
    """Indices of the shots whose frame ranges overlap ``[start, end)``."""
    return (i for i, (a, b) in enumerate(ranges) if a < end and start < b)
