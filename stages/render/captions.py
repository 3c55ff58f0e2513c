"""Lyric captions with word-by-word highlight, readable on any background.

The font is DejaVu Sans Bold shipped inside matplotlib (``matplotlib.get_data_path()``), so
nothing is downloaded. Text sits inside the title-safe area (10 % margins), wraps to at most
two lines (shrinking the font if it must), on a translucent dark panel with an outlined
stroke. Words already sung are white, the word being sung is highlighted, words to come are
dimmed. Each highlight state is drawn once with Pillow and cached as a premultiplied RGBA
band, so a frame costs one small alpha blend.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from mvdirector.schemas import LyricOverlay

SAFE = 0.1  # title-safe margin on every side, fraction of the frame
SAFE_BOTTOM_VERTICAL = 0.2  # vertical (9:16) players cover the bottom fifth with their own controls
SUNG = (255, 255, 255, 255)
CURRENT = (255, 212, 60, 255)
COMING = (235, 235, 235, 150)
PANEL_ALPHA = 110
HOLD_S = 0.25  # keep a word highlighted this long after it ends


@lru_cache(maxsize=1)
def font_path() -> Path:
    """DejaVuSans-Bold.ttf (or DejaVuSans.ttf) from matplotlib's data directory."""
    import matplotlib

    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    for name in ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf"):
        if (fonts / name).is_file():
            return fonts / name
    raise FileNotFoundError(f"no DejaVu font in {fonts}")


_FONTS = threading.local()


def _font(size: int):  # noqa: ANN202 - PIL.ImageFont.FreeTypeFont
    """The caption font at ``size`` px, one object per thread: shots render side by side in threads, and a
    FreeType face must not be used by two threads at once."""
    fonts = getattr(_FONTS, "by_size", None)
    if fonts is None:
        fonts = _FONTS.by_size = {}
    font = fonts.get(size)
    if font is None:
        from PIL import ImageFont

        if len(fonts) >= 16:
            fonts.clear()
        font = fonts[size] = ImageFont.truetype(str(font_path()), size)
    return font


class CaptionRenderer:
    """Draws one lyric overlay onto frames of a fixed size."""

    def __init__(self, lyric: LyricOverlay, width: int, height: int,
                 avoid: tuple[tuple[float, float], ...] = ()) -> None:
        """``avoid``: spans of rows (top, bottom) in frame pixels the caption should not cover, the first the one
        that moves it (the singer's mouth in a close framing; then e.g. the eyes): when the panel at the bottom
        of the safe area covers the first, it goes to the top of the safe area, if that covers none."""
        self.width, self.height = width, height
        self.avoid = avoid
        words = [w for w in lyric.words if w.text.strip()]
        self.tokens = lyric.line.split() or [w.text.strip() for w in words] or [lyric.line.strip() or " "]
        # The shot's timed words are a stretch of its line: find the line token each one is.
        self.timed = align_words(self.tokens, words)  # (token index, start_s, end_s), in time order
        self.size, self.lines = self._layout()
        # States only move forward in a shot, so caching the last one is enough (memory stays small).
        self._key: tuple[int, bool] | None = None
        self._drawn: tuple[np.ndarray, np.ndarray, tuple[int, int]] | None = None
        self._u8: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _layout(self) -> tuple[int, list[list[int]]]:
        """Font size and word indices per line: at most two lines inside the safe width, panel padding included."""
        size = max(10, round(min(0.058 * self.height, 0.075 * self.width)))
        for _ in range(12):
            max_w = (1 - 2 * SAFE) * self.width - 2 * round(0.5 * size)  # the panel's side padding (``_draw``)
            font = _font(size)
            space = font.getlength(" ")
            lines: list[list[int]] = [[]]
            cur = 0.0
            for i, tok in enumerate(self.tokens):
                tw = font.getlength(tok)
                if lines[-1] and cur + space + tw > max_w:
                    lines.append([])
                    cur = 0.0
                cur += (space if lines[-1] else 0.0) + tw
                lines[-1].append(i)
            widest = max(sum(font.getlength(self.tokens[i]) for i in ln) + space * (len(ln) - 1) for ln in lines)
            if len(lines) <= 2 and widest <= max_w:
                return size, lines
            size = max(10, int(size * 0.88))
        return size, lines

    def state(self, t_s: float) -> tuple[int, bool]:
        """(tokens of the line sung so far, whether the last of them is being sung now) at shot time ``t_s``.

        Words of the line before the shot's first timed word were sung in earlier shots; without
        any timed word the whole line shows as sung (plain white).
        """
        if not self.timed:
            return len(self.tokens), False
        started = [k for k in self.timed if k[1] <= t_s]
        if not started:
            return self.timed[0][0], False
        token, _, end = started[-1]
        return token + 1, t_s <= end + HOLD_S

    def _draw(self, key: tuple[int, bool]) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        from PIL import Image, ImageDraw

        started, current = key
        font = _font(self.size)
        space = font.getlength(" ")
        ascent, descent = font.getmetrics()
        line_h = round((ascent + descent) * 1.15)
        stroke = max(1, self.size // 14)
        pad_x, pad_y = round(0.5 * self.size), round(0.25 * self.size)
        widths = [sum(font.getlength(self.tokens[i]) for i in ln) + space * (len(ln) - 1) for ln in self.lines]
        box_w = round(max(widths)) + 2 * pad_x
        box_h = line_h * len(self.lines) + 2 * pad_y
        box_w, box_h = min(box_w, self.width), min(box_h, self.height)
        img = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
        draw = ImageDraw.Draw(img)
        draw.rounded_rectangle((0, 0, box_w - 1, box_h - 1), radius=max(2, self.size // 3),
                               fill=(0, 0, 0, PANEL_ALPHA))
        layer = Image.new("RGBA", (box_w, box_h), (0, 0, 0, 0))
        tdraw = ImageDraw.Draw(layer)
        for li, ln in enumerate(self.lines):
            x = (box_w - widths[li]) / 2
            y = pad_y + li * line_h
            for i in ln:
                if i < started - (1 if current else 0):
                    colour = SUNG
                elif current and i == started - 1:
                    colour = CURRENT
                else:
                    colour = COMING
                tdraw.text((x, y), self.tokens[i], font=font, fill=colour, stroke_width=stroke,
                           stroke_fill=(0, 0, 0, colour[3]))
                x += font.getlength(self.tokens[i]) + space
        img = Image.alpha_composite(img, layer)
        rgba = np.asarray(img, dtype=np.float32)
        alpha = rgba[..., 3:4] / 255.0
        premult = rgba[..., :3] * alpha
        x0 = (self.width - box_w) // 2
        return premult, alpha, (x0, self._top(box_h))

    def _top(self, box_h: int) -> int:
        """The panel's top row: at the bottom of the safe area, or at its top (see ``avoid``)."""
        bottom = SAFE_BOTTOM_VERTICAL if self.height > self.width else SAFE
        y_low = max(0, round(self.height * (1 - bottom)) - box_h)
        y_high = round(self.height * SAFE)

        def covers(y: int, span: tuple[float, float]) -> bool:
            return y < span[1] and y + box_h > span[0]

        if self.avoid and covers(y_low, self.avoid[0]) and not any(covers(y_high, a) for a in self.avoid):
            return y_high
        return y_low

    def apply(self, frame: np.ndarray, t_s: float, opacity: float = 1.0) -> np.ndarray:
        """Draw the caption as it is at shot time ``t_s`` onto ``frame`` (RGB or RGBX, in place) and return it.

        ``opacity`` < 1 fades the whole caption (panel included), e.g. around a crossfade."""
        key = self.state(t_s)
        if key != self._key or self._drawn is None:
            self._key, self._drawn = key, self._draw(key)
            self._u8 = {}
        premult, alpha, (x0, y0) = self._drawn
        h, w = alpha.shape[:2]
        roi = frame[y0 : y0 + h, x0 : x0 + w]
        c = frame.shape[2]
        if opacity >= 0.999:
            if c not in self._u8:
                pm = np.zeros((h, w, c), np.uint8)
                pm[..., :3] = np.clip(np.round(premult), 0, 255)
                inv = np.full((h, w, c), 255, np.uint8)
                inv[..., :3] = np.round(255.0 * (1.0 - alpha))
                self._u8[c] = (pm, inv)
            pm, inv = self._u8[c]
            cv2.multiply(roi, inv, dst=roi, scale=1.0 / 255.0)
            cv2.add(roi, pm, dst=roi)
            return frame
        a = alpha * opacity
        rgb = roi[..., :3].astype(np.float32) * (1.0 - a) + premult * opacity
        roi[..., :3] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
        return frame


def _norm(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def align_words(tokens: list[str], words: list) -> list[tuple[int, float, float]]:
    """Match timed words to line tokens in order (same letters, looking at most 6 tokens ahead)."""
    out: list[tuple[int, float, float]] = []
    norms = [_norm(t) for t in tokens]
    pos = 0
    for w in words:
        target = _norm(w.text)
        for j in range(pos, min(len(tokens), pos + 6)):
            if norms[j] == target:
                out.append((j, w.start_s, w.end_s))
                pos = j + 1
                break
    if not out and words and len(words) == len(tokens):
        out = [(i, w.start_s, w.end_s) for i, w in enumerate(words)]  # spelled differently, same count
    return out
