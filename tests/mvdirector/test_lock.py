"""The work-directory lock: exclusive, re-entrant per holder, and never left stuck by a dead process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from factories import run_cli

from mvdirector.errors import BusyError
from mvdirector.lock import WorkdirLock

HOLD = """
import sys, time
from mvdirector.lock import WorkdirLock
lock = WorkdirLock(sys.argv[1], command="holder")
lock.acquire()
print("locked", flush=True)
time.sleep(60)
"""


def _holder(root) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(root)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_second_holder_is_refused_until_release(tmp_path):
    a, b = WorkdirLock(tmp_path), WorkdirLock(tmp_path)
    with a:
        with pytest.raises(BusyError, match=rf"in use by pid {os.getpid()}"):
            b.acquire()
        with a:  # re-entrant for the same holder
            assert a.held
        assert a.held
    assert not a.held
    with b:
        assert b.held


def test_other_process_is_refused_and_its_sigkill_frees_the_lock(tmp_path):
    proc = _holder(tmp_path)
    try:
        with pytest.raises(BusyError) as info:
            WorkdirLock(tmp_path).acquire()
        line = info.value.one_line()
        assert f"pid {proc.pid}" in line and "holder" in line and "\n" not in line
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 5
    while True:  # the kernel drops the lock with the process; nothing to clean up
        try:
            with WorkdirLock(tmp_path):
                break
        except BusyError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_cli_render_on_a_busy_work_directory_exits_2_with_one_line(tmp_path, click_song, portrait):
    wd = tmp_path / "wd"
    proc = _holder(wd)
    try:
        res = run_cli(
            "render",
            str(click_song),
            "--ref",
            str(portrait),
            "--workdir",
            str(wd),
            "--size",
            "64x36",
            "--asr",
            "none",
            "--quiet",
        )
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "is in use by pid" in lines[0] and "Traceback" not in res.stderr
    assert not (wd / "analysis.json").exists()


def test_cli_plan_is_refused_too(tmp_path, click_song, portrait):
    wd = tmp_path / "wd"
    with WorkdirLock(wd):
        res = run_cli(
            "plan",
            str(click_song),
            "--ref",
            str(portrait),
            "--workdir",
            str(wd),
            "-o",
            str(tmp_path / "plan.json"),
            "--asr",
            "none",
            "--quiet",
        )
    assert res.returncode == 2 and "is in use by pid" in res.stderr
    assert not (tmp_path / "plan.json").exists()
