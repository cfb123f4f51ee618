"""Fonts and text that never leaves its box: shrink the size, wrap at words, then ellipsize.

Fonts: a layout's ``font`` (a .ttf/.otf path or a family name for fc-match), else the
DejaVu Sans that matplotlib bundles, else whatever fc-match gives for sans-serif, else
Pillow's own scalable default font. Nothing is downloaded.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptx.errors import InputError

ELLIPSIS = "…"
LINE_SPACING = 1.15  # line pitch as a multiple of the font's ascent + descent


@functools.lru_cache(maxsize=16)
def _fc_match(pattern: str) -> tuple[str, str] | None:
    """(families, file) fontconfig picks for ``pattern``; None without fontconfig."""
    if shutil.which("fc-match") is None:
        return None
    try:
        out = subprocess.run(
            ["fc-match", "--format=%{family}\n%{file}", pattern],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    family, _, file = out.partition("\n")
    return (family, file.strip()) if file.strip() and Path(file.strip()).is_file() else None


def _matplotlib_font(bold: bool) -> str | None:
    try:
        import matplotlib  # optional: only for the font files it bundles
    except ImportError:
        return None
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / name
    return str(path) if path.is_file() else None


@functools.lru_cache(maxsize=16)
def find_font(name: str | None = None, bold: bool = False) -> str | None:
    """A font file path for ``name`` (a path or family) or the default sans; None = Pillow's."""
    if name:
        if Path(name).is_file():
            return name
        found = _fc_match(f"{name}:bold" if bold else name)
        # fontconfig always answers with its closest font: only a family of that name counts
        families = [f.strip().lower() for f in found[0].split(",")] if found else []
        if found is None or name.strip().lower() not in families:
            raise InputError(
                f"font '{name}': not a font file, and no installed font family has that name"
            )
        return found[1]
    if (bundled := _matplotlib_font(bold)) is not None:
        return bundled
    found = _fc_match("sans-serif:bold" if bold else "sans-serif")
    return found[1] if found else None


@functools.lru_cache(maxsize=256)
def load_font(path: str | None, size: int):
    """A Pillow FreeType font of ``size`` px (Pillow's bundled font when ``path`` is None)."""
    from PIL import ImageFont

    if path is None:
        return ImageFont.load_default(size=size)
    try:
        return ImageFont.truetype(path, size=size)
    except OSError as exc:
        raise InputError(f"{path}: cannot load this font ({exc})") from None


@dataclass(frozen=True)
class FittedText:
    """Lines at a font size that fit a box of (width, height) px."""

    lines: list[str]
    size: int
    font_path: str | None
    pitch: int  # px from one line's top to the next

    @property
    def height(self) -> int:
        """The block's height in px."""
        return self.pitch * (len(self.lines) - 1) + line_height(self.font_path, self.size)


def line_height(path: str | None, size: int) -> int:
    """Ascent + descent of the font at ``size``: the ink of any line fits in it."""
    ascent, descent = load_font(path, size).getmetrics()
    return ascent + descent


def _width(font, s: str) -> float:
    if not s:
        return 0.0
    left, _, right, _ = font.getbbox(s)
    return max(float(right), font.getlength(s)) - min(0.0, float(left))


def _wrap(font, paragraphs: list[list[str]], width: int) -> list[str] | None:
    """Greedy word wrap, each paragraph on new lines; None when a word is wider than the box."""
    lines: list[str] = []
    for words in paragraphs:
        line = ""
        for word in words:
            trial = f"{line} {word}" if line else word
            if _width(font, trial) <= width:
                line = trial
                continue
            if _width(font, word) > width:
                return None
            lines.append(line)
            line = word
        lines.append(line)
    return lines


def _ellipsize(font, line: str, width: int, force: bool = False) -> str:
    """``line`` if it fits (unless ``force``), else its longest prefix that fits + an ellipsis."""
    if not force and _width(font, line) <= width:
        return line
    lo, hi = 0, len(line)
    while lo < hi:  # binary search on the prefix length
        mid = (lo + hi + 1) // 2
        if _width(font, line[:mid].rstrip() + ELLIPSIS) <= width:
            lo = mid
        else:
            hi = mid - 1
    cut = line[:lo].rstrip() + ELLIPSIS
    return cut if _width(font, cut) <= width else ""


def fit_text(
    text: str, width: int, height: int, font_path: str | None, max_size: int, min_size: int
) -> FittedText:
    """Lay ``text`` out in width x height px: the largest size that fits whole, wrapped.

    When even ``min_size`` cannot hold it, the lines that fit are kept and the last
    one (or a single over-long word) ends in an ellipsis.
    """
    paragraphs = [p.split() for p in text.strip().split("\n")]
    width, height = max(1, int(width)), max(1, int(height))
    size = max_size
    while True:
        font = load_font(font_path, size)
        pitch = max(1, round(line_height(font_path, size) * LINE_SPACING))
        lines = _wrap(font, paragraphs, width)
        if lines is not None:
            block = pitch * (len(lines) - 1) + line_height(font_path, size)
            if block <= height:
                return FittedText(lines, size, font_path, pitch)
        if size <= min_size:
            break
        size = max(min_size, min(size - 1, int(size * 0.92)))
    return _truncated(paragraphs, width, height, font_path, min_size)


def _truncated(
    paragraphs: list[list[str]], width: int, height: int, font_path: str | None, size: int
) -> FittedText:
    font = load_font(font_path, size)
    lh = line_height(font_path, size)
    pitch = max(1, round(lh * LINE_SPACING))
    max_lines = 0 if lh > height else 1 + (height - lh) // pitch
    lines: list[str] = []
    for words in paragraphs:  # wrap, cutting any word wider than the box on its own line
        line = ""
        for word in words:
            trial = f"{line} {word}" if line else word
            if _width(font, trial) <= width:
                line = trial
                continue
            if line:
                lines.append(line)
            line = _ellipsize(font, word, width)
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        if lines:  # text left over: the last kept line says so
            lines[-1] = _ellipsize(font, lines[-1], width, force=True)
    return FittedText(lines, size, font_path, pitch)


def draw_text(
    image,
    fitted: FittedText,
    box: tuple[int, int, int, int],
    fill: tuple[int, int, int],
    align: str = "left",
    valign: str = "top",
) -> None:
    """Draw fitted lines into ``box`` (x, y, w, h) of a Pillow image, aligned as asked."""
    from PIL import ImageDraw

    if not fitted.lines:
        return
    x, y, w, h = box
    font = load_font(fitted.font_path, fitted.size)
    top = y + {"top": 0, "middle": (h - fitted.height) // 2, "bottom": h - fitted.height}[valign]
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(fitted.lines):
        lw = _width(font, line)
        left = font.getbbox(line)[0] if line else 0
        dx = {"left": 0, "centre": (w - lw) / 2, "right": w - lw}[align] - min(0, left)
        draw.text((x + dx, top + i * fitted.pitch), line, font=font, fill=fill, anchor="la")


def contrast_colour(rgb: np.ndarray) -> tuple[int, int, int]:
    """Near-black or white, whichever reads better on the mean colour of ``rgb`` (WCAG luma)."""
    mean = np.asarray(rgb, dtype=np.float64).reshape(-1, 3).mean(axis=0) / 255.0
    lin = np.where(mean <= 0.03928, mean / 12.92, ((mean + 0.055) / 1.055) ** 2.4)
    luma = float(lin @ np.array([0.2126, 0.7152, 0.0722]))
    dark, dark_luma = (17, 24, 39), 0.0089
    return dark if (luma + 0.05) / (dark_luma + 0.05) >= 1.05 / (luma + 0.05) else (255, 255, 255)
