"""Manifests: `batch --check` runs each job's pre-flight, and no job writes another job's files."""

from __future__ import annotations

import pytest


def _second_song(ws):
    (ws / "b.wav").write_bytes((ws / "song.wav").read_bytes())


@pytest.mark.parametrize(("name", "text", "needle"), [
    ("m.csv", b"", "holds no jobs"),
    ("m.csv", b"song,reference\n", "holds no jobs"),
    ("m.yaml", b"", "holds no jobs"),
    ("m.yaml", b"- {song: song.wav, reference: singer.png, output: b.wav}\n- {song: b.wav, reference: singer.png}\n",
     "b.wav"),
    ("m.yaml", b"- {song: song.wav, reference: singer.png, output: song.wav}\n", "song.wav"),
    ("m.yaml", b"- {song: song.wav, reference: singer.png, output: singer.png}\n", "singer.png"),
    ("m.yaml", b"- {song: song.wav, reference: singer.png, output: m.yaml}\n", "m.yaml"),
    ("m.yaml", b"- {song: song.wav, reference: singer.png, output: same.mp4}\n"
               b"- {song: b.wav, reference: singer.png, output: same.mp4}\n", "same.mp4"),
    ("m.yaml", b"- {song: song.wav, reference: singer.png, workdir: w}\n- {song: b.wav, reference: singer.png, "
               b"workdir: w}\n", "w"),
    ("m.yaml", b"- {song: song.wav, reference: singer.png, overrides: {renderer_options: {stepz: 3}}}\n", "stepz"),
    ("m.yaml", b"- {song: song.wav, reference: singer.png, overrides: {force: [everything]}}\n", "force"),
    ("m.yaml", b"- {song: song.wav, reference: singer.png, overrides: {crf: .nan}}\n", "crf"),
    ("m.yaml", b"- {song: song.wav, reference: singer.png, overrides: {fps: 1e400}}\n", "fps"),
    ("m.yaml", b"- !!python/object/apply:os.system ['echo owned']\n", "not valid YAML"),
    ("m.csv", b"song,reference,overrides\nsong.wav,singer.png,\"!!python/object/apply:os.system ['echo owned']\"\n",
     "overrides"),
    ("m.csv", b"song,reference,colour\nsong.wav,singer.png,red\n", "colour"),
    ("m.csv", b"song,reference\n\x00\x01\x02,\xff\xfe\n", "binary"),
])
def test_a_bad_manifest_is_one_line_and_runs_nothing(ws, name, text, needle):
    _second_song(ws)
    (ws / name).write_bytes(text)
    line = ws.refused("batch", name, "--check", needle=needle)
    assert ws.refused("batch", name, needle=needle) == line  # the run refuses what --check refuses


def test_a_csv_saved_by_excel_with_a_bom_is_read(ws):
    (ws / "m.csv").write_bytes("\ufeffsong,reference,output\nsong.wav,singer.png,o.mp4\n".encode("utf-8"))
    proc = ws.run("batch", "m.csv", "--check")
    assert proc.returncode == 0 and "ok: 1 job" in proc.stdout + proc.stderr, proc.stderr
