"""What a run reads and writes, and the one check that no write can lose a file (`Files.check`).

Every command lists its inputs and outputs in a `Files` — ``files.read("--lyrics", path)``,
``files.write("-o", path, VIDEO)`` — and calls ``check()`` before any work. A write is refused,
with one line naming both roles, when its path

- is one of the run's inputs, or another output of the same run — compared after ``..``,
  symlinks and (on macOS and Windows) letter case, and by inode, so hard links count too;
- is a folder, or an existing file that is not a regular file (a FIFO, a device, a socket):
  outputs are written to a temporary name and renamed into place, which would replace it;
- does not end in a suffix its kind allows (``--plot song.wav``), or names an existing file
  that this program did not write (a plan written over someone's notes.json);
- is read-only, or lies in a folder that cannot be written (read-only, immutable, no
  permission, a file where a folder should be).

A batch checks every job's files together (`check_together`): no job writes another job's
input or output. ``reserve`` + ``check_space`` refuse a run whose outputs will not fit on disk.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mvdirector.errors import InputError

SNIFF_BYTES = 65536
"""How much of an existing output is read to tell whether this program wrote it."""


def _after_space(head: bytes) -> bytes:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")


@dataclass(frozen=True)
class Kind:
    """What an output holds: its name for messages, the suffixes it may have, how to recognise one."""

    what: str
    suffixes: tuple[str, ...] = ()
    """Allowed file suffixes, lower case; empty: any."""
    ours: Callable[[bytes], bool] | None = None
    """True when an existing file's first bytes look like one this program wrote (it may be replaced)."""
    ours_file: Callable[[Path], bool] | None = None
    """The same judged from the whole file, for kinds whose signature may lie past the first bytes (videos)."""


def _mp4(head: bytes) -> bool:
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip") or head[:4] == b"\x1a\x45\xdf\xa3"


GENERATOR = "mvdirector"
"""Signed into the files this program writes for people, so only those are ever replaced."""
VIDEO_SIGNATURE = f"made with {GENERATOR}"
"""The container comment of every video this program delivers (`stages.assemble`)."""


def _signed_video(path: Path) -> bool:
    """Whether a video file's container comment says this program made it."""
    import av

    try:
        with av.open(str(path)) as c:
            tags = {str(k).lower(): str(v) for k, v in c.metadata.items()}
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError):  # unreadable: not ours
        return False
    return tags.get("comment", "").startswith(VIDEO_SIGNATURE)


VIDEO = Kind("video", (), _mp4, _signed_video)
"""Which suffixes hold which codec is the codec rule's (`mvdirector.rules.check_container`)."""


def _contract(*keys: bytes) -> Callable[[bytes], bool]:
    return lambda h: _after_space(h)[:1] == b"{" and b'"schema_version"' in h and all(k in h for k in keys)


PLAN_JSON = Kind("plan.json", (".json",), _contract(b'"shots"', b'"render"'))
"""A plan replaces only a plan: never an analysis, a report or someone's notes."""
ANALYSIS_JSON = Kind("analysis JSON", (".json",), _contract(b'"beats"', b'"source"'))
SCHEMA = Kind("JSON Schema", (".json",), lambda h: _after_space(h)[:1] == b"{" and b'"$defs"' in h)
PNG_METADATA = {"Software": GENERATOR}
"""``savefig(..., metadata=PNG_METADATA)``: a tEXt chunk ahead of the pixels."""
HTML_META = f'<meta name="generator" content="{GENERATOR}">'
"""The first tag in the head of every HTML page this program writes."""
PNG = Kind("PNG image", (".png",), lambda h: h.startswith(b"\x89PNG\r\n\x1a\n") and GENERATOR.encode() in h)
HTML = Kind("HTML page", (".html", ".htm"), lambda h: GENERATOR.encode() in h[:4096])
"""Signed by `HTML_META` (pages written before the signature name mvdirector in their title)."""
OTIO = Kind("OpenTimelineIO timeline", (".otio",), lambda h: b'"OTIO_SCHEMA"' in h)
STORYBOARD = Kind("storyboard", (".png", ".html"), lambda h: bool(PNG.ours and PNG.ours(h)) or bool(
    HTML.ours and HTML.ours(h)))
JPEG_COMMENT = f"{GENERATOR} cover".encode()
"""The COM segment every cover carries right after the JPEG start marker (`stages.publish.cover`)."""
COVER = Kind("cover image", (".jpg",), lambda h: h.startswith(b"\xff\xd8") and JPEG_COMMENT in h[:64])
ANY = Kind("file")
"""Only identity and writability are checked (the lock, the journal)."""
REPORT_JSON = Kind("report JSON", (".json",), _contract(b'"video"', b'"shots"'))
REFERENCE_JSON = Kind("reference JSON", (".json",), _contract(b'"sha256"'))
KEYS_JSON = Kind("cache-key record", (".json",), lambda h: _after_space(h)[:1] == b"{")
RUN_JSON = Kind("run record", (".json",), lambda h: _after_space(h)[:1] == b"{" and b'"request"' in h)

WORKDIR_KINDS = {"analysis.json": ANALYSIS_JSON, "plan.json": PLAN_JSON, "reference.json": REFERENCE_JSON,
                 "references.json": REFERENCE_JSON,
                 "report.json": REPORT_JSON, "report.html": HTML, "keys.json": KEYS_JSON, "run.json": RUN_JSON}
"""What each file of a work directory holds (`mvdirector.workdir.FILES`); others are ANY."""

_FOLDS_CASE = sys.platform in ("darwin", "win32")


def _real(path: Path) -> str:
    """The absolute path after ``..`` and symlinks, case-folded where the file system ignores case."""
    real = os.path.realpath(os.path.abspath(path))
    return real.casefold() if _FOLDS_CASE else real


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


@dataclass(frozen=True)
class _Entry:
    role: str
    path: Path
    kind: Kind | None  # None for an input


@dataclass
class Files:
    """The inputs and outputs of one run, by role (the flag or name a person knows them by)."""

    reads: list[_Entry] = field(default_factory=list)
    writes: list[_Entry] = field(default_factory=list)
    folders: list[_Entry] = field(default_factory=list)
    reserved: list[tuple[Path, int, str]] = field(default_factory=list)

    def read(self, role: str, path: str | Path | None) -> Files:
        """An input file (a folder: every file directly in it); ``None`` is ignored."""
        if path is not None:
            p = Path(path)
            if p.is_dir():
                return self.read_dir(role, p, ("*",))
            self.reads.append(_Entry(role, p, None))
        return self

    def read_dir(self, role: str, folder: str | Path | None, patterns: Iterable[str]) -> Files:
        """The files of ``folder`` matching ``patterns`` (e.g. ``*.yaml``), as inputs."""
        if folder is not None and Path(folder).is_dir():
            for pattern in patterns:
                for p in sorted(Path(folder).glob(pattern)):
                    if p.is_file():
                        self.reads.append(_Entry(f"{role} file '{p.name}'", p, None))
        return self

    def write(self, role: str, path: str | Path | None, kind: Kind) -> Files:
        """An output file of ``kind``; ``None`` is ignored."""
        if path is not None:
            self.writes.append(_Entry(role, Path(path), kind))
        return self

    def workdir(self, path: str | Path, names: Iterable[str]) -> Files:
        """The work directory and the files the run writes directly in it (``--workdir .`` may hold a
        person's own ``report.html``: each is replaced only if it is the kind of file this run writes)."""
        root = Path(path)
        self.folders.append(_Entry("the work directory", root, None))
        for name in names:
            self.writes.append(_Entry(f"the work directory's {name}", root / name, WORKDIR_KINDS.get(name, ANY)))
        return self

    def merge(self, other: Files) -> Files:
        """Add another list of files (a command's own outputs to its request's)."""
        self.reads += other.reads
        self.writes += other.writes
        self.folders += other.folders
        self.reserved += other.reserved
        return self

    def reserve(self, path: str | Path, nbytes: int, what: str) -> Files:
        """Say that about ``nbytes`` will be written at ``path`` (checked by `check_space`)."""
        self.reserved.append((Path(path), int(nbytes), what))
        return self

    # ------------------------------------------------------------------ checks

    def check(self) -> None:
        """Refuse, with one InputError, any output that could destroy a file or cannot be written."""
        seen: dict[object, _Entry] = {}
        for e in self.reads:
            for key in _keys(e.path):
                seen.setdefault(key, e)
        for f in self.folders:
            _check_folder(f)
        for w in self.writes:
            for key in _keys(w.path):
                other = seen.get(key)
                if other is not None:
                    raise _clash(w, other)
            for key in _keys(w.path):
                seen[key] = w
            _check_output(w)

    def check_space(self) -> None:
        """Refuse when the reserved bytes do not fit in the free space of their file systems."""
        need: dict[int, tuple[int, Path, list[str]]] = {}
        for path, nbytes, what in self.reserved:
            base = _existing_ancestor(path)
            dev = os.stat(base).st_dev
            total, _, whats = need.get(dev, (0, base, []))
            need[dev] = (total + nbytes, base, [*whats, what])
        for total, base, whats in need.values():
            free = shutil.disk_usage(base).free
            if free < total:
                raise InputError(
                    f"disk full: '{base}' has {_mb(free)} free but {' and '.join(whats)} need about {_mb(total)}",
                    "free some space there, or pick another --workdir / -o",
                )


def _a(what: str) -> str:
    return ("an " if what[:1].lower() in "aeio" else "a ") + what


def _mb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def _keys(path: Path) -> list[object]:
    """The identities of a path: its resolved name, and its inode when it exists (hard links, case)."""
    keys: list[object] = [_real(path)]
    ino = _inode(path)
    if ino is not None:
        keys.append(ino)
    return keys


def _clash(w: _Entry, other: _Entry) -> InputError:
    if other.kind is None:
        return InputError(
            f"{w.role} '{w.path}' is {other.role} '{other.path}': writing there would destroy it",
            f"give {w.role} another path",
        )
    return InputError(
        f"{w.role} '{w.path}' is also {other.role} '{other.path}': one would overwrite the other",
        f"give {w.role} another path",
    )


def _existing_ancestor(path: Path) -> Path:
    p = Path(os.path.abspath(path))
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def _probe(folder: Path) -> OSError | None:
    """Try to create (and remove) a file in ``folder``; the error when that is impossible."""
    try:
        fd, name = tempfile.mkstemp(prefix=".mvd-probe-", dir=folder)
    except OSError as e:
        return e
    os.close(fd)
    os.unlink(name)
    return None


def _unwritable(folder: Path, e: OSError, role: str) -> InputError:
    from mvdirector.environment import describe_os_error

    return InputError(f"cannot write {role} in '{folder}': {describe_os_error(e)}", "pick a writable place")


def _check_parent(role: str, path: Path) -> None:
    """The folder of an output exists (or can be made) and can be written."""
    base = _existing_ancestor(path.parent)
    if not base.is_dir():
        raise InputError(
            f"{role} '{path}' cannot be made: '{base}' is a file, not a folder", f"give {role} another path"
        )
    err = _probe(base)
    if err is not None:
        raise _unwritable(base, err, role)


def _check_folder(f: _Entry) -> None:
    p = f.path
    if os.path.lexists(p) and not p.is_dir():
        raise InputError(
            f"{f.role} '{p}' is a file, not a folder", "pass --workdir DIR, or move that file out of the way"
        )
    _check_parent(f.role, p / "x")


def _check_output(w: _Entry) -> None:
    """One output on its own: not a folder or special file, a fitting suffix, ours to replace, writable."""
    p, kind = w.path, w.kind or ANY
    try:
        st = os.stat(p)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as e:
        raise _unwritable(p.parent, e, w.role) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        example = p / ("out" + (kind.suffixes or ("",))[0])
        raise InputError(f"{w.role} '{p}' is a folder", f"give {w.role} a file name, e.g. '{example}'")
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise InputError(
            f"{w.role} '{p}' is not a regular file (a device, pipe or socket) and is never replaced",
            f"give {w.role} the path of a file",
        )
    if kind.suffixes and p.suffix.lower() not in kind.suffixes:
        raise InputError(
            f"{w.role} '{p.name}' is not {_a(kind.what)} name", f"name it with {' or '.join(kind.suffixes)}"
        )
    if st is not None and st.st_size and kind.ours is not None:
        try:
            with open(p, "rb") as fh:
                head = fh.read(SNIFF_BYTES)
        except OSError as e:
            raise _unwritable(p.parent, e, w.role) from None
        if not kind.ours(head) or (kind.ours_file is not None and not kind.ours_file(p)):
            raise InputError(
                f"{w.role} '{p}' exists and is not {_a(kind.what)} that mvdirector wrote; it is not replaced",
                f"give {w.role} another name, or delete that file first if it may go",
            )
    if st is not None and not os.access(p, os.W_OK):
        raise InputError(f"{w.role} '{p}' is read-only (or immutable)", "make it writable, or pick another path")
    _check_parent(w.role, p)


def check_together(runs: list[tuple[str, Files]], roles: dict[str, str] | None = None) -> list[str]:
    """Problems of several runs side by side (a batch): one's output is another's input or output.

    ``roles`` renames roles for the messages (``-o`` is ``output`` in a manifest).
    """
    roles = roles or {}
    written: dict[object, tuple[str, _Entry]] = {}
    problems: list[str] = []
    told: set[tuple[str, str]] = set()

    def named(e: _Entry) -> tuple[str, Path]:
        """A role for the message: a work-directory file is reported as its work directory."""
        if e.role.startswith("the work directory's "):
            return "the work directory", e.path.parent
        role = roles.get(e.role, e.role)
        return (role if role.startswith("the ") else f"the {role}"), e.path

    def clash(label: str, e: _Entry) -> None:
        for key in _keys(e.path):
            prev = written.get(key)
            if prev is not None and prev[0] != label and (label, prev[0]) not in told:
                told.add((label, prev[0]))
                (mine, path), (theirs, _) = named(e), named(prev[1])
                mine = mine.removeprefix("the ") if not mine.startswith("the work") else mine
                problems.append(
                    f"{label}: {mine} '{path}' is also {theirs} of {prev[0]} — give each job its own "
                    "output and work directory"
                )
                return

    for label, files in runs:
        for w in sorted(files.writes, key=lambda e: e.role.startswith("the work directory's")):  # -o first
            clash(label, w)
            for key in _keys(w.path):
                written.setdefault(key, (label, w))
    for label, files in runs:
        for r in files.reads:
            clash(label, r)
    return problems
