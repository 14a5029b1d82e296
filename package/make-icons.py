#!/usr/bin/env python3
"""Draws Roost's icon (a white envelope on a teal rounded square) as PNG files, without any
imaging library: package/PACKAGE_ICON.PNG (64 px) and PACKAGE_ICON_256.PNG, or with a folder
argument the control panel's launcher icons in it."""
import os
import struct
import sys
import zlib


def png(size):
    teal, white, shade = (0x1f, 0x8a, 0x8a), (0xff, 0xff, 0xff), (0xd8, 0xe8, 0xe8)
    r = size // 6
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            # Rounded corners: transparent outside the corner circles.
            cx = r if x < r else size - 1 - r if x > size - 1 - r else x
            cy = r if y < r else size - 1 - r if y > size - 1 - r else y
            inside = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
            color, alpha = teal, 255 if inside else 0
            # The envelope: a white rectangle with a V-shaped flap line.
            left, right = size * 0.2, size * 0.8
            top, bottom = size * 0.3, size * 0.72
            if inside and left <= x <= right and top <= y <= bottom:
                color = white
                u = (x - left) / (right - left)
                flap = top + (bottom - top) * 0.55 * (1 - abs(2 * u - 1))
                if abs(y - flap) <= max(1, size / 40):
                    color = shade
            row += bytes(color) + bytes([alpha])
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


if len(sys.argv) > 1:
    # The control panel's launcher icons: DIR/roost_SIZE.png.
    os.makedirs(sys.argv[1], exist_ok=True)
    for size in (16, 24, 32, 48, 64, 72, 256):
        with open(os.path.join(sys.argv[1], f"roost_{size}.png"), "wb") as f:
            f.write(png(size))
else:
    here = os.path.dirname(os.path.abspath(__file__))
    for name, size in (("PACKAGE_ICON.PNG", 64), ("PACKAGE_ICON_256.PNG", 256)):
        with open(os.path.join(here, name), "wb") as f:
            f.write(png(size))
