"""The photo's own teeth: where the upper row ends (its biting edge) and which part is a lower row on the jaw,
measured on synthetic mouths whose answer is known."""

from __future__ import annotations

import cv2
import numpy as np

from stages.procedural.rig.mesh import LOWER_CHAIN, UPPER_CHAIN
from stages.procedural.rig.teeth import teeth_matte

TEETH, LIP, GAP = 230, 150, 30


def _mouth(rows: dict[range, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 60x100 layer: lip colour everywhere, ``rows`` painted across the opening (x 20..80); the inner lips at
    y = 20 (upper) and y = 40 (lower)."""
    layer = np.full((60, 100, 3), LIP, np.uint8)
    for ys, level in rows.items():
        layer[ys.start:ys.stop, 20:81] = level
    pts = np.zeros((74, 2))
    xs = np.linspace(20, 80, len(UPPER_CHAIN))
    pts[list(UPPER_CHAIN)] = np.stack([xs, np.full_like(xs, 20.0)], axis=1)
    pts[list(LOWER_CHAIN)] = np.stack([xs[::-1], np.full_like(xs, 40.0)], axis=1)
    lip_lab = cv2.cvtColor(np.full((1, 1, 3), LIP / 255.0, np.float32), cv2.COLOR_RGB2LAB)[0, 0]
    return layer, pts, lip_lab


def test_the_upper_row_is_kept_down_to_its_biting_edge_to_a_fraction_of_a_pixel():
    layer, pts, lip_lab = _mouth({range(21, 39): TEETH})  # teeth end between rows 38 and 39
    m = teeth_matte(layer, pts, lip_lab)
    assert m is not None and not m.has_lower
    x0, y0 = m.origin
    col = m.upper[:, 50 - x0]
    ys = np.arange(len(col)) + y0
    crossing = float(np.interp(0.5, col[::-1], ys[::-1]))  # where the weight falls through one half
    assert abs(crossing - 38.5) <= 0.35
    assert col[ys == 30][0] > 0.99 and col[ys == 40][0] < 0.01  # teeth kept, the lower lip left to the jaw


def test_a_lower_row_below_a_dark_line_rides_on_the_jaw():
    layer, pts, lip_lab = _mouth({range(21, 29): TEETH, range(29, 32): GAP, range(32, 39): TEETH})
    m = teeth_matte(layer, pts, lip_lab)
    assert m is not None and m.has_lower
    x0, y0 = m.origin
    up, lo = m.upper[:, 50 - x0], m.lower[:, 50 - x0]
    at = {y: i for i, y in enumerate(range(y0, y0 + len(up)))}
    assert up[at[24]] > 0.95 and lo[at[24]] < 0.05  # the upper row: on the skull
    assert lo[at[35]] > 0.95 and up[at[35]] < 0.05  # the lower row: on the jaw
    assert lo[at[44]] < 0.05  # below the lower inner lip nothing is teeth


def test_a_dark_opening_keeps_only_the_lip_line():
    layer, pts, lip_lab = _mouth({range(21, 40): GAP})
    m = teeth_matte(layer, pts, lip_lab)
    assert m is not None and not m.has_lower
    x0, y0 = m.origin
    col = m.upper[:, 50 - x0]
    at = {y: i for i, y in enumerate(range(y0, y0 + len(col)))}
    assert col[at[30]] > 0.99 and col[at[41]] < 0.01  # no edge to follow: just above the lower lip line
