#!/usr/bin/env python3
"""Render a terminal capture with colours (``tmux capture-pane -e -p``) to PNG.

    scripts/ansi2png.py capture.ans out.png [--cols 100] [--rows 30] [--font-size 16]

Understands the SGR sequences tmux emits: bold, dim, italic, underline,
reverse, the 16 colours, the 256-colour palette and 24-bit colour. Block
elements (full, shaded and partial blocks) are drawn as rectangles so that
bars and sparklines are solid; everything else is drawn with DejaVu Sans
Mono. Needs Pillow (``pip install pillow``) and the DejaVu fonts
(Debian: fonts-dejavu-core).
"""

import argparse
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = ["/usr/share/fonts/truetype/dejavu/", "/usr/share/fonts/dejavu/"]

# A dark theme: the 16 base colours.
BASE16 = [
    (0x1d, 0x1f, 0x21), (0xcc, 0x34, 0x2b), (0x19, 0x88, 0x44), (0xc4, 0xa0, 0x00),
    (0x39, 0x71, 0xed), (0xa3, 0x6a, 0xc7), (0x39, 0x9d, 0xa3), (0xc5, 0xc8, 0xc6),
    (0x96, 0x98, 0x96), (0xff, 0x55, 0x55), (0x50, 0xd0, 0x70), (0xfb, 0xdc, 0x56),
    (0x6f, 0x9d, 0xff), (0xd3, 0x8a, 0xef), (0x5f, 0xd7, 0xd7), (0xff, 0xff, 0xff),
]
DEFAULT_FG = (0xd8, 0xda, 0xd8)
DEFAULT_BG = (0x12, 0x14, 0x16)


def palette(n):
    """The xterm 256-colour palette."""
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


class Style:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = self.dim = self.italic = self.underline = self.reverse = False

    def copy(self):
        s = Style()
        s.__dict__.update(self.__dict__)
        return s

    def apply(self, params):
        codes = [int(p) if p else 0 for p in params.split(";")] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                self.reset()
            elif c == 1:
                self.bold = True
            elif c == 2:
                self.dim = True
            elif c == 3:
                self.italic = True
            elif c == 4:
                self.underline = True
            elif c == 7:
                self.reverse = True
            elif c == 22:
                self.bold = self.dim = False
            elif c == 23:
                self.italic = False
            elif c == 24:
                self.underline = False
            elif c == 27:
                self.reverse = False
            elif 30 <= c <= 37:
                self.fg = BASE16[c - 30]
            elif 40 <= c <= 47:
                self.bg = BASE16[c - 40]
            elif 90 <= c <= 97:
                self.fg = BASE16[c - 90 + 8]
            elif 100 <= c <= 107:
                self.bg = BASE16[c - 100 + 8]
            elif c == 39:
                self.fg = None
            elif c == 49:
                self.bg = None
            elif c in (38, 48) and i + 1 < len(codes):
                if codes[i + 1] == 5 and i + 2 < len(codes):
                    col = palette(codes[i + 2])
                    i += 2
                elif codes[i + 1] == 2 and i + 4 < len(codes):
                    col = tuple(codes[i + 2:i + 5])
                    i += 4
                else:
                    col = None
                if c == 38:
                    self.fg = col
                else:
                    self.bg = col
            i += 1

    def colours(self):
        fg = self.fg or DEFAULT_FG
        bg = self.bg or DEFAULT_BG
        if self.reverse:
            fg, bg = bg, fg
        if self.dim:
            fg = tuple((a + b) // 2 for a, b in zip(fg, bg))
        return fg, bg


SGR = re.compile(r"\x1b\[([0-9;]*)m")
OTHER_ESC = re.compile(r"\x1b\[[0-9;?]*[A-Za-ln-z]")


def parse(text, cols, rows):
    """The capture as a grid of (char, Style)."""
    grid = []
    for line in text.split("\n")[:rows]:
        line = OTHER_ESC.sub("", line)
        style = Style()  # tmux restates styles per line
        cells = []
        pos = 0
        for m in SGR.finditer(line):
            for ch in line[pos:m.start()]:
                cells.append((ch, style.copy()))
            style.apply(m.group(1))
            pos = m.end()
        for ch in line[pos:]:
            cells.append((ch, style.copy()))
        grid.append(cells[:cols])
    while len(grid) < rows:
        grid.append([])
    return grid


def font(name, size):
    for d in FONT_DIRS:
        try:
            return ImageFont.truetype(d + name, size)
        except OSError:
            continue
    sys.exit(f"ansi2png: font {name} not found (Debian: apt-get install fonts-dejavu-core)")


def render(grid, cols, rows, size, out):
    regular = font("DejaVuSansMono.ttf", size)
    bold = font("DejaVuSansMono-Bold.ttf", size)
    cw = round(regular.getlength("M"))
    ch = round(size * 1.3)
    pad = 8
    img = Image.new("RGB", (cols * cw + 2 * pad, rows * ch + 2 * pad), DEFAULT_BG)
    d = ImageDraw.Draw(img)
    shades = {"░": 0.25, "▒": 0.5, "▓": 0.75}
    eighths = {"▁": 1, "▂": 2, "▃": 3, "▄": 4, "▅": 5, "▆": 6, "▇": 7}
    for y, cells in enumerate(grid):
        for x, (c, st) in enumerate(cells):
            fg, bg = st.colours()
            x0, y0 = pad + x * cw, pad + y * ch
            box = [x0, y0, x0 + cw - 1, y0 + ch - 1]
            d.rectangle(box, fill=bg)
            if c == " ":
                pass
            elif c == "█":
                d.rectangle(box, fill=fg)
            elif c in shades:
                a = shades[c]
                mix = tuple(int(f * a + b * (1 - a)) for f, b in zip(fg, bg))
                d.rectangle(box, fill=mix)
            elif c in eighths:
                h = ch * eighths[c] // 8
                d.rectangle([x0, y0 + ch - h, x0 + cw - 1, y0 + ch - 1], fill=fg)
            else:
                f = bold if st.bold else regular
                d.text((x0, y0 + (ch - size) // 2 - 1), c, font=f, fill=fg)
            if st.underline:
                d.line([x0, y0 + ch - 2, x0 + cw - 1, y0 + ch - 2], fill=fg)
    img.save(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("capture")
    p.add_argument("png")
    p.add_argument("--cols", type=int, default=100)
    p.add_argument("--rows", type=int, default=30)
    p.add_argument("--font-size", type=int, default=16)
    a = p.parse_args()
    with open(a.capture, encoding="utf-8", errors="replace") as f:
        text = f.read()
    render(parse(text, a.cols, a.rows), a.cols, a.rows, a.font_size, a.png)


if __name__ == "__main__":
    main()
