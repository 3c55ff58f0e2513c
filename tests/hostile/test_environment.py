"""The machine refuses: disk full, read-only, a file where a folder goes, a busy work directory, a killed run."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest

from mvdirector import temps
from mvdirector.lock import WorkdirLock

FAST = ("--size", "160x90", "--fps", "12", "--asr", "none", "--quiet")
RENDER = ("render", "song.wav", "--ref", "singer.png", *FAST)


@pytest.mark.parametrize(("flags", "make"), [
    (("--workdir", "afile"), "afile"),
    ((), "song.mvd"),  # the default work directory's name is taken by a file
    (("--workdir", "song.wav/wd"), None),
])
def test_a_work_directory_that_is_a_file_is_one_line(ws, flags, make):
    if make:
        (ws / make).write_bytes(b"the user's own file")
    ws.refused(*RENDER, *flags, needle="is a file, not a folder")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO])
def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary(ws, monkeypatch, code):
    assert ws.run("schema", "-o", "schema.json").returncode == 0
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", failing_fsync)
    try:
        line = ws.refused("schema", "-o", "schema.json")
    finally:
        monkeypatch.setattr(os, "fsync", real_fsync)
    words = {errno.ENOSPC: "disk full", errno.EDQUOT: "quota", errno.EROFS: "read-only", errno.EACCES: "permission",
             errno.EPERM: "not permitted", errno.EIO: "input/output"}[code]
    assert words in line


def test_a_render_that_will_not_fit_on_disk_is_refused_up_front(ws, monkeypatch):
    usage = shutil.disk_usage(ws.root)
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage._replace(free=10_000))
    ws.refused(*RENDER, needle="disk full")
    assert not (ws / "song.mvd").exists()


def test_an_unwritable_output_folder_is_one_line(ws, monkeypatch):
    import tempfile

    real = tempfile.mkstemp

    def read_only(*a, **k):
        if k.get("prefix") == ".mvd-probe-":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real(*a, **k)

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    ws.refused(*RENDER, "-o", "out/video.mp4", needle="read-only")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions")
def test_a_read_only_folder_is_one_line(ws):
    (ws / "ro").mkdir()
    os.chmod(ws / "ro", 0o555)
    try:
        ws.refused("schema", "-o", "ro/schema.json", needle="permission")
        ws.refused(*RENDER, "--workdir", "ro/wd", needle="permission")
    finally:
        os.chmod(ws / "ro", 0o755)


def test_the_lock_holds_when_its_file_is_deleted(ws):
    wd = ws / "song.mvd"
    with WorkdirLock(wd, command="another render"):
        (wd / ".lock").unlink()
        ws.refused(*RENDER, needle="in use")
    assert not (wd / "shots").exists()


def test_clean_up_removes_only_what_this_program_recorded(ws):
    wd = ws / "song.mvd"
    wd.mkdir()
    out = ws / "videos"
    out.mkdir()
    mine = [wd / ".plan.tmp99999999.json", out / ".video.tmp99999999.mp4", out / ".assemble-99999999-abcd"]
    theirs = [ws / ".notes.tmp1", wd / ".old.tmp3.json", out / ".assemble-mine", ws / "song.mvd.tmp"]
    for p in theirs + mine:
        p.mkdir() if ".assemble-" in p.name else p.write_bytes(b"data")
    journal = wd / temps.JOURNAL
    journal.write_text("".join(json.dumps({"path": str(p), "pid": 99999999}) + "\n" for p in mine)
                       + json.dumps({"path": str(ws / "song.wav"), "pid": 99999999}) + "\n"  # not a temporary's name
                       + "not json\n")
    with WorkdirLock(wd):
        assert temps.clean(wd) == len(mine)
    assert not any(p.exists() for p in mine)
    assert all(p.exists() for p in theirs) and (ws / "song.wav").exists()


def test_a_temporary_still_held_open_is_kept_for_the_next_clean_up(ws, monkeypatch):
    """On Windows a file another process still has open cannot be removed (an encode a killed run left
    behind): the clean-up keeps its journal line and tries again next time, instead of failing the run."""
    wd = ws / "held.mvd"
    wd.mkdir()
    held, free = wd / ".song-a.tmp99999999.m4a", wd / ".plan.tmp99999999.json"
    for p in (held, free):
        p.write_bytes(b"data")
    (wd / temps.JOURNAL).write_text("".join(json.dumps({"path": str(p), "pid": 99999999}) + "\n" for p in (held, free)))
    real = Path.unlink

    def unlink(self, missing_ok=False):
        if self == held:
            raise PermissionError(13, "in use by another process")
        return real(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    with WorkdirLock(wd):
        assert temps.clean(wd) == 1
    assert held.exists() and not free.exists()
    assert [json.loads(x)["path"] for x in (wd / temps.JOURNAL).read_text().splitlines()] == [str(held)]
    monkeypatch.undo()
    with WorkdirLock(wd):
        assert temps.clean(wd) == 1
    assert not held.exists()


def test_a_temporary_beside_the_output_is_recorded_in_the_work_directory(ws):
    from mvdirector.media.atomic import atomic_output

    wd, out = ws / "wd", ws / "elsewhere" / "video.mp4"
    wd.mkdir()
    with pytest.raises(KeyboardInterrupt), temps.recording(wd), atomic_output(out) as tmp:
        tmp.write_bytes(b"half a video")
        raise KeyboardInterrupt
    recorded = [json.loads(x)["path"] for x in (wd / temps.JOURNAL).read_text().splitlines()]
    assert recorded == [str(tmp)]


@pytest.mark.parametrize(("name", "content"), [
    ("report.html", b"<html><body>my band's page</body></html>"),
    ("analysis.json", b'{"my": "tempo notes"}'),
    ("plan.json", b"my plan for the shoot"),
    ("run.json", b"[1, 2, 3]"),
])
def test_a_persons_own_files_in_the_work_directory_are_kept(ws, name, content):
    (ws / name).write_bytes(content)
    ws.refused(*RENDER, "--workdir", ".", needle=f"{name}' exists and is not")
