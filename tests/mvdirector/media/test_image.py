"""Reference images of every awkward kind load as upright sRGB RGB uint8, with warnings where quality suffers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mvdirector.errors import InputError
from mvdirector.media.image import MAX_SIDE, load_image, load_image_with_warnings


def portrait(w: int = 96, h: int = 128) -> np.ndarray:
    """An asymmetric test card: red top-left quadrant, blue bottom, green gradient."""
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 1] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    a[: h // 2, : w // 2, 0] = 220
    a[h * 3 // 4 :, :, 2] = 200
    return a


def test_plain_rgb_roundtrip(tmp_path):
    a = portrait()
    Image.fromarray(a).save(tmp_path / "p.png")
    out, warns = load_image_with_warnings(tmp_path / "p.png")
    assert out.dtype == np.uint8 and out.shape == a.shape and out.flags.c_contiguous
    assert np.array_equal(out, a)
    assert warns == [] or all("only" in w for w in warns)


@pytest.mark.parametrize(("orientation", "k"), [(3, 2), (6, 1), (8, -1)])
def test_exif_orientation_is_applied(tmp_path, orientation, k):
    a = portrait(256, 320)
    # Stored turned by k quarter turns, tagged so that viewers (and we) turn it back upright.
    stored = np.rot90(a, k=k)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(np.ascontiguousarray(stored)).save(tmp_path / "r.png", exif=exif)
    out = load_image(tmp_path / "r.png")
    assert out.shape == a.shape
    assert np.abs(out.astype(int) - a.astype(int)).mean() < 1


def test_rgba_is_composited_on_white_with_a_warning(tmp_path):
    a = np.zeros((200, 200, 4), np.uint8)
    a[..., 0] = 255
    a[:100, :, 3] = 255  # top half opaque red, bottom half transparent
    Image.fromarray(a).save(tmp_path / "t.png")
    out, warns = load_image_with_warnings(tmp_path / "t.png")
    assert tuple(out[10, 10]) == (255, 0, 0) and tuple(out[150, 10]) == (255, 255, 255)
    assert any("transparent" in w for w in warns)


def test_grayscale_and_16_bit(tmp_path):
    g = np.tile(np.linspace(0, 255, 256, dtype=np.uint8), (200, 1))
    Image.fromarray(g).save(tmp_path / "g.png")
    out, warns = load_image_with_warnings(tmp_path / "g.png")
    assert out.shape == (200, 256, 3) and np.array_equal(out[..., 0], out[..., 2])
    assert any("grayscale" in w for w in warns)
    g16 = (g.astype(np.uint16) * 257)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    out16, warns16 = load_image_with_warnings(tmp_path / "g16.png")
    assert np.abs(out16[..., 0].astype(int) - g.astype(int)).max() <= 1
    assert any("grayscale" in w for w in warns16)


def test_cmyk_is_converted_with_a_warning(tmp_path):
    a = portrait(200, 200)
    Image.fromarray(a).convert("CMYK").save(tmp_path / "c.jpg", quality=95)
    out, warns = load_image_with_warnings(tmp_path / "c.jpg")
    assert out.shape == a.shape
    assert np.abs(out.astype(int) - a.astype(int)).mean() < 12
    assert any("CMYK" in w for w in warns)


def test_huge_jpeg_is_downscaled(tmp_path):
    big = Image.fromarray(portrait(64, 48)).resize((8000, 6000), Image.Resampling.NEAREST)
    big.save(tmp_path / "huge.jpg", quality=80)
    out, _ = load_image_with_warnings(tmp_path / "huge.jpg")
    assert 0.74 * MAX_SIDE <= max(out.shape[:2]) <= MAX_SIDE and abs(out.shape[1] / out.shape[0] - 8000 / 6000) < 0.01
    assert out[100, 100, 0] > 180 and out[-100, 100, 2] > 150  # still the same picture


def test_tiny_image_warns(tmp_path):
    Image.fromarray(portrait(64, 64)).save(tmp_path / "tiny.png")
    out, warns = load_image_with_warnings(tmp_path / "tiny.png")
    assert out.shape == (64, 64, 3)
    assert any("64x64" in w for w in warns)


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (130, 130), 0)
    im.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    im.paste(1, (0, 0, 130, 65))
    im.info["transparency"] = 0
    im.save(tmp_path / "pal.png", transparency=0)
    out = load_image(tmp_path / "pal.png")
    assert tuple(out[10, 10]) == (10, 200, 30) and tuple(out[100, 10]) == (255, 255, 255)


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_unreadable_files_are_input_errors(tmp_path, content):
    p = tmp_path / "bad.png"
    p.write_bytes(content)
    with pytest.raises(InputError, match="bad.png"):
        load_image(p)
    with pytest.raises(InputError, match="does not exist"):
        load_image(tmp_path / "missing.png")
