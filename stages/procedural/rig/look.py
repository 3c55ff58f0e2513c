"""The colours of one shot's mouth interior, measured on the shot's own (graded) picture.

The cavity is the lips' colour darkened — a warm dark, since the light inside a mouth bounces off
red flesh — lighter and warmer low down; the tongue a muted shade of the lips. Teeth are the photo's
where it shows them (``teeth``), else, for a closed mouth, drawn from the photo's near-whites (the
eyes' whites) when it has any.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .mesh import INNER_LIPS, LEFT_EYE, RIGHT_EYE
from .outline import poly_mask
from .teeth import TeethMatte, teeth_matte
from .warp import bounding_region

OPEN_PHOTO = 0.06  # a photo whose inner-lip gap exceeds this share of the mouth width shows its interior
CAVITY = 0.24  # the cavity's top (under the teeth) as a share of the lips' brightness ...
CAVITY_LOW = 0.34  # ... and low down, behind the tongue
TONGUE = 0.62  # the tongue's lit front
MIN_CAVITY_LUMA = 30.0  # however dark the lips, the cavity keeps this much light (a hole reads as a hole)


@dataclass(frozen=True)
class InteriorLook:
    """Colours (RGB floats, graded) of one shot's mouth interior."""

    cavity: np.ndarray
    cavity_low: np.ndarray
    tongue: np.ndarray
    teeth: np.ndarray | None  # synthetic teeth colour (the photo's near-whites); None = draw no teeth
    photo_teeth: bool  # the photo's own interior is shown (open mouth in the photo)
    matte: TeethMatte | None = None  # the photo's own teeth, where it shows them


def _warm(colour: np.ndarray, luma: float, chroma: float = 1.0) -> np.ndarray:
    """``colour``'s hue at ``luma`` (Rec. 709) with its chroma scaled by ``chroma``, kept in the warm order
    red > green >= blue: flesh in shadow, never a violet or a teal, whatever a cool grade did to the lips."""
    c = np.maximum(np.asarray(colour, np.float64), 1.0)
    weights = np.array([0.2126, 0.7152, 0.0722])
    y = float(c @ weights)
    if float(c.max() - c.min()) < 0.04 * y:  # grey lips (a black-and-white photo): a grey interior
        return np.full(3, luma, np.float32)
    c = np.maximum(y + chroma * (c - y), 0.05 * y)
    c[2] = min(c[2], c[1])
    c[0] = max(c[0], c[1] * 1.12)
    return (c * (luma / max(float(c @ weights), 1e-6))).astype(np.float32)


def look_from_layer(layer: np.ndarray, points_layer: np.ndarray, rest_gap_share: float) -> InteriorLook:
    """Measure lip, skin and near-white colours on the (graded) working layer at the rest landmarks."""
    h, w = layer.shape[:2]
    box = bounding_region(points_layer[:68], w, h, margin=2)
    if box.empty:
        grey = np.array([60.0, 40.0, 38.0], np.float32)
        return InteriorLook(cavity=grey * 0.5, cavity_low=grey * 0.7, tongue=grey, teeth=None, photo_teeth=False)
    crop = layer[box.y0:box.y1, box.x0:box.x1, :3].reshape(-1, 3).astype(np.float32)
    origin = (box.x0, box.y0)
    shape = (box.y1 - box.y0, box.x1 - box.x0)

    def pixels(polys: list[np.ndarray], minus: list[np.ndarray] | None = None) -> np.ndarray:
        m = poly_mask(shape, polys, origin) > 127
        if minus:
            m &= poly_mask(shape, minus, origin) < 128
        return crop[m.ravel()]

    lips = pixels([points_layer[48:60]], [points_layer[60:68]])
    lip = np.median(lips, axis=0) if len(lips) >= 4 else np.array([150.0, 90.0, 85.0])
    cheeks = pixels([points_layer[[1, 2, 3, 31, 39]]]) if len(points_layer) > 39 else np.zeros((0, 3))
    skin = np.median(cheeks, axis=0) if len(cheeks) >= 4 else lip
    luma = float(lip @ np.array([0.2126, 0.7152, 0.0722]))
    # Light bouncing inside the mouth takes the colour of what it bounces off: the lips, a little skin.
    flesh = 0.8 * lip + 0.2 * lip * skin / 255.0
    cavity = _warm(flesh, max(MIN_CAVITY_LUMA, CAVITY * luma) * 0.8, chroma=1.3)
    cavity_low = _warm(flesh, max(MIN_CAVITY_LUMA * 1.4, CAVITY_LOW * luma), chroma=1.4)
    tongue = _warm(lip, max(MIN_CAVITY_LUMA * 2.0, TONGUE * luma), chroma=1.6)
    photo_teeth = rest_gap_share > OPEN_PHOTO
    matte = None
    if photo_teeth:  # the photo's own teeth
        lip_lab = cv2.cvtColor(np.float32(lip / 255.0)[None, None], cv2.COLOR_RGB2Lab)[0, 0]
        matte = teeth_matte(layer, points_layer, lip_lab)
        teeth = _near_white(pixels([points_layer[list(INNER_LIPS)]]), lip)
    else:  # the eyes' whites, darkened a little
        whites = np.concatenate([pixels([points_layer[list(RIGHT_EYE)]]), pixels([points_layer[list(LEFT_EYE)]])])
        teeth = _near_white(whites, lip)
    return InteriorLook(cavity=cavity, cavity_low=cavity_low, tongue=tongue, teeth=teeth, photo_teeth=photo_teeth,
                        matte=matte)


def _near_white(pixels: np.ndarray, lip: np.ndarray) -> np.ndarray | None:
    """The photo's brightest unsaturated tone (the eyes' whites), as a teeth colour; None if too dark or few."""
    if len(pixels) < 6:
        return None
    lum = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    sat = pixels.max(axis=1) - pixels.min(axis=1)
    pick = pixels[(lum >= np.quantile(lum, 0.75)) & (sat <= np.quantile(sat, 0.6))]
    if len(pick) < 3:
        return None
    white = np.median(pick, axis=0)
    if white.mean() < 1.15 * lip.mean() or white.mean() < 90:
        return None  # nothing near white: teeth would read as a grey smear
    return white * 0.86
