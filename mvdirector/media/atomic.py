"""Write files under a temporary name and rename them into place, so a killed run never
leaves a file that looks finished.

The temporary is recorded in the work directory's journal first (`mvdirector.temps`), so
the next run removes it if this one is killed; a path that exists and is not a regular file
(a device, a FIFO, a folder) is never replaced.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mvdirector import temps
from mvdirector.errors import InputError


def temp_path_for(final: Path) -> Path:
    """A temporary sibling of ``final`` that keeps its suffix (ffmpeg picks formats by suffix)."""
    return temps.temp_path_for(final)


def check_replaceable(final: Path) -> None:
    """InputError unless ``final`` is absent or a regular file (a rename would replace a device or FIFO)."""
    try:
        st = os.stat(final)
    except (FileNotFoundError, NotADirectoryError):
        return
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise InputError(f"'{final}' is {kind} and is never replaced", "give the path of a file")


@contextlib.contextmanager
def atomic_output(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path; rename it to ``final`` if the block succeeds, delete it if not."""
    final = Path(final)
    check_replaceable(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temps.reserve(final)
    try:
        yield tmp
        check_replaceable(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (fsync, then rename)."""
    with atomic_output(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write a pydantic model or JSON-able object to ``path`` atomically, pretty-printed."""
    if isinstance(obj, BaseModel):
        text = obj.model_dump_json(indent=2)
    else:
        text = json.dumps(obj, indent=2, sort_keys=True, default=str)
    write_text_atomic(path, text + "\n")


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
