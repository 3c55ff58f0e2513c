"""Outputs never touch inputs: every output flag of every command, aimed at every kind of input or special file."""

from __future__ import annotations

import os
import socket
import stat

import pytest

SMALL = ("--size", "160x90", "--fps", "12", "--asr", "none", "--quiet")
RENDER = ("render", "song.wav", "--ref", "singer.png", *SMALL)
PLAN = ("plan", "song.wav", "--ref", "singer.png", *SMALL)

# (command line before the output flag, the output flag, the other flags needed after it)
OUTPUTS = [
    (RENDER, "-o", ()),
    (("analyze", "song.wav", "--asr", "none", "--lyrics", "words.txt"), "-o", ()),
    (("analyze", "song.wav", "--asr", "none", "-o", "a.json"), "--plot", ()),
    (PLAN, "-o", ()),
    (PLAN, "--otio", ("-o", "p.json")),
    (("preview", "plan.json"), "-o", ()),
    (("preview", "plan.json", "-o", "board.png"), "--otio", ()),
    (("schema",), "-o", ()),
]
# how a person might name an input as an output: directly, through `..`, through a symlink or a hard link
TARGETS = ["song.wav", "sub/../song.wav", "link-to-song.wav", "hard-song.wav", "singer.png", "words.txt", "plan.json"]


def _ids(outputs):
    return [" ".join((*cmd[:1], flag)) for cmd, flag, _ in outputs]


@pytest.fixture
def user(ws):
    (ws / "sub").mkdir()
    (ws / "words.txt").write_text("hello world\n")
    os.symlink("song.wav", ws / "link-to-song.wav")
    os.link(ws / "song.wav", ws / "hard-song.wav")
    return ws


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(("cmd", "flag", "rest"), OUTPUTS, ids=_ids(OUTPUTS))
def test_an_output_never_replaces_an_input(user, cmd, flag, rest, target):
    if (cmd[0], flag, target) == ("plan", "-o", "plan.json"):
        pytest.skip("a plan replaces the plan it was asked to replace (plan.json is not an input of `plan`)")
    user.refused(*cmd, flag, target, *rest)


@pytest.mark.parametrize(("cmd", "flag", "rest"), OUTPUTS, ids=_ids(OUTPUTS))
def test_an_output_that_is_a_folder_is_refused(user, cmd, flag, rest):
    user.refused(*cmd, flag, "sub", *rest, needle="folder")


def _special(ws, kind: str, name: str):
    path = ws / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        return s
    else:  # a private device node with /dev/null's numbers, in the test's own folder
        try:
            os.mknod(path, 0o600 | stat.S_IFCHR, os.stat("/dev/null").st_rdev)
        except (PermissionError, OSError):
            pytest.skip("making a device node needs privileges")
    return None


@pytest.mark.parametrize("kind", ["fifo", "socket", "device"])
@pytest.mark.parametrize(("cmd", "flag", "rest", "name"), [
    (PLAN, "-o", (), "p.json"),
    (("schema",), "-o", (), "s.json"),
    (("preview", "plan.json"), "-o", (), "b.html"),
    (("analyze", "song.wav", "--asr", "none"), "-o", (), "a.json"),
])
def test_a_special_file_is_never_replaced(ws, kind, cmd, flag, rest, name):
    keep = _special(ws, kind, name)
    try:
        ws.refused(*cmd, flag, name, *rest, needle="not a regular file")
    finally:
        if keep is not None:
            keep.close()


def test_two_outputs_of_one_run_may_not_share_a_path(ws):
    ws.refused(*PLAN, "-o", "x.json", "--otio", "x.json")


def test_an_existing_file_mvdirector_did_not_write_is_kept(ws):
    (ws / "notes.json").write_text('{"my": "notes"}')
    ws.refused(*PLAN, "-o", "notes.json", needle="not a plan.json that mvdirector wrote")
    (ws / "holiday.mp4").write_bytes(b"not a video of ours, but named like one")
    ws.refused(*RENDER, "-o", "holiday.mp4", needle="not a video that mvdirector wrote")


def test_a_real_video_mvdirector_did_not_write_is_kept(ws):
    import subprocess

    from mvdirector.media.video import ffmpeg_exe

    phone = ws / "phone.mp4"  # a real MP4 without our signature (a phone clip given as -o by mistake)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=64x64:d=0.2", str(phone)],
                   check=True)
    ws.refused(*RENDER, "-o", "phone.mp4", needle="not a video that mvdirector wrote")


@pytest.mark.parametrize(("cmd", "flag", "name", "needle"), [
    (("analyze", "song.wav", "--asr", "none"), "--plot", "plot.jpg", "is not a PNG image name"),
    (("schema",), "-o", "schema.txt", "is not a JSON Schema name"),
    (("preview", "plan.json"), "-o", "board.gif", "is not a storyboard name"),
    (RENDER, "-o", "video.avi", "avi"),
])
def test_an_output_name_of_the_wrong_kind_is_refused(ws, cmd, flag, name, needle):
    ws.refused(*cmd, flag, name, needle=needle)


def test_an_output_under_a_file_is_refused(ws):
    ws.refused(*PLAN, "-o", "song.wav/plan.json", needle="is a file, not a folder")
