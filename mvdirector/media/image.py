"""Load reference images of any common mode, size and orientation as RGB uint8 arrays.

Handled: EXIF orientation (rotated/mirrored phone photos), RGBA/LA/transparent palettes
(composited on white), CMYK (through its ICC profile when it has one), grayscale, 1-bit,
16-bit and float images (rescaled to 8 bits), embedded ICC profiles (converted to sRGB),
huge images (JPEGs decoded at reduced scale, everything downscaled to ``MAX_SIDE``) and tiny
ones (kept, with a warning). Each conversion that may cost quality adds a warning.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np

from mvdirector.errors import InputError

log = logging.getLogger(__name__)

MAX_SIDE = 4096
"""Longer sides are downscaled to this (the renderer never needs more)."""
MIN_SIDE = 128
"""Shorter sides below this get a quality warning."""
MAX_PIXELS = 400_000_000
"""Refuse images above this many pixels (a decompression bomb or a scan no portrait needs)."""

_HIGH_DEPTH = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_GRAY = ("L", "1", "LA", "La", *_HIGH_DEPTH)


def _open_error(p: Path, e: Exception) -> InputError:
    return InputError(f"cannot read reference image '{p}': {e}", "give a PNG or JPEG portrait")


def _to_srgb(im, warnings: list[str], name: str):
    """Convert an image with an embedded ICC profile (RGB or CMYK) to sRGB; returns an RGB(A) image."""
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in ("RGB", "RGBA", "CMYK"):
        return im
    try:
        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        dst = ImageCms.createProfile("sRGB")
        out_mode = "RGBA" if im.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(im, src, dst, outputMode=out_mode)
    except Exception as e:  # noqa: BLE001 - a broken profile must not stop the render
        warnings.append(f"reference image '{name}' has an unusable colour profile ({e}); colours may be off")
        return im


def _high_depth_to_8bit(im):
    """16-bit/32-bit integer or float grayscale to 8-bit, using the value range the data actually has."""
    from PIL import Image

    a = np.asarray(im, dtype=np.float64)
    hi = float(np.nanmax(a)) if a.size else 0.0
    if im.mode == "F" and hi <= 1.0:
        scale = 1.0
    elif hi > 255:
        scale = 65535.0 if hi <= 65535 else hi
    else:
        scale = 255.0
    return Image.fromarray(np.clip(np.nan_to_num(a) / scale * 255.0 + 0.5, 0, 255).astype(np.uint8))


def load_image_with_warnings(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """Decode ``path`` into (H, W, 3) uint8 RGB, upright, sRGB, at most ``MAX_SIDE`` px, plus warnings.

    Raises InputError for a missing, empty, unreadable or absurdly large file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        raise InputError(f"reference image '{p}' does not exist", "check the path given to --ref")
    if p.is_dir() or p.stat().st_size == 0:
        raise InputError(f"reference image '{p}' is empty or not a file", "give a PNG or JPEG portrait")
    warnings: list[str] = []
    name = p.name
    try:
        with Image.open(p) as im:
            w0, h0 = im.size
            if w0 * h0 > MAX_PIXELS:
                raise InputError(
                    f"reference image '{p}' is {w0}x{h0} ({w0 * h0 / 1e6:.0f} MP), "
                    f"over the {MAX_PIXELS / 1e6:.0f} MP limit",
                    f"downscale it to at most {MAX_SIDE} px on the long side",
                )
            if im.format == "JPEG" and max(w0, h0) > MAX_SIDE:
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: far less time and memory for huge photos.
                # (Accept down to 3/4 of MAX_SIDE so an 8000 px photo decodes at 1/2 scale.)
                k = 3 * MAX_SIDE / (4 * max(w0, h0))
                im.draft(im.mode, (max(1, int(w0 * k)), max(1, int(h0 * k))))
            im.load()
            mode = im.mode
            try:
                im = ImageOps.exif_transpose(im)
            except Exception as e:  # noqa: BLE001 - broken EXIF: keep the pixels as stored
                warnings.append(f"reference image '{name}' has unreadable EXIF orientation ({e}); used as stored")
            im = _to_srgb(im, warnings, name)
            if im.mode in _HIGH_DEPTH:
                im = _high_depth_to_8bit(im).convert("RGB")
            elif im.mode in ("RGBA", "LA", "La", "PA", "RGBa") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                if np.asarray(rgba.getchannel("A")).min() < 255:
                    warnings.append(f"reference image '{name}' is transparent; transparent areas are shown as white")
                bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, rgba).convert("RGB")
            elif im.mode == "CMYK":
                warnings.append(
                    f"reference image '{name}' is CMYK without a colour profile; colours are converted approximately"
                )
                im = im.convert("RGB")
            else:
                im = im.convert("RGB")
            arr = np.asarray(im, dtype=np.uint8)
    except InputError:
        raise
    except Image.DecompressionBombError as e:
        raise InputError(f"reference image '{p}' is too large to decode safely: {e}",
                         f"downscale it to at most {MAX_SIDE} px on the long side") from e
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, MemoryError) as e:
        raise _open_error(p, e) from e
    if mode in _GRAY:
        warnings.append(f"reference image '{name}' is grayscale; the video will be grayscale too")
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.size == 0:
        raise InputError(f"reference image '{p}' decoded to shape {arr.shape}", "give an RGB PNG or JPEG portrait")
    h, w = arr.shape[:2]
    if max(h, w) > MAX_SIDE:
        import cv2

        s = MAX_SIDE / max(h, w)
        arr = cv2.resize(arr, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        log.info("reference image %s downscaled from %dx%d to %dx%d", name, w0, h0, arr.shape[1], arr.shape[0])
    if min(h, w) < MIN_SIDE:
        warnings.append(
            f"reference image '{name}' is only {w}x{h} px; close framings will look soft — use at least "
            f"{MIN_SIDE * 4} px"
        )
    return np.ascontiguousarray(arr), warnings


def load_image(path: str | Path) -> np.ndarray:
    """Decode ``path`` into (H, W, 3) uint8 RGB (see `load_image_with_warnings`)."""
    return load_image_with_warnings(path)[0]
