"""Load reference images of any common mode and orientation as RGB uint8 arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mvdirector.errors import InputError

MAX_SIDE = 4096
MIN_SIDE = 128


def load_image_with_warnings(path: str | Path) -> tuple[np.ndarray, list[str]]:
    """Decode ``path`` into (H, W, 3) uint8 RGB, EXIF-rotated, plus warnings about quality.

    RGBA and LA are composited on white; CMYK, grayscale, palette and 16-bit images are
    converted; sides over 4096 px are downscaled. Raises InputError if it cannot be read.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        raise InputError(f"reference image '{p}' does not exist", "check the path given to --ref")
    if p.is_dir() or p.stat().st_size == 0:
        raise InputError(f"reference image '{p}' is empty or not a file", "give a PNG or JPEG portrait")
    warnings: list[str] = []
    try:
        with Image.open(p) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            mode = im.mode
            if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                a = np.asarray(im, dtype=np.float64)
                hi = a.max() if a.max() > 0 else 1.0
                scale = 65535.0 if hi > 255 else 255.0
                im = Image.fromarray(np.clip(a / scale * 255.0, 0, 255).astype(np.uint8)).convert("RGB")
            elif mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, rgba).convert("RGB")
            else:
                im = im.convert("RGB")
            if mode in ("L", "1", "LA", "I;16", "I", "F"):
                warnings.append(f"reference image '{p.name}' is grayscale; the video will be grayscale too")
            arr = np.asarray(im, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise InputError(f"cannot read reference image '{p}': {e}", "give a PNG or JPEG portrait") from e
    h, w = arr.shape[:2]
    if max(h, w) > MAX_SIDE:
        import cv2

        s = MAX_SIDE / max(h, w)
        arr = cv2.resize(arr, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        warnings.append(f"reference image is {w}x{h}; downscaled to {arr.shape[1]}x{arr.shape[0]}")
    if min(h, w) < MIN_SIDE:
        warnings.append(f"reference image is only {w}x{h} px; close framings will look soft")
    return np.ascontiguousarray(arr), warnings


def load_image(path: str | Path) -> np.ndarray:
    """Decode ``path`` into (H, W, 3) uint8 RGB (see `load_image_with_warnings`)."""
    return load_image_with_warnings(path)[0]
