"""Hand-built ICC v2 matrix/TRC display profiles, so colour tests and studies need no files.

The primaries and white points are the published ones (ITU-R BT.709 for sRGB, SMPTE EG 432-1
for Display P3, Adobe RGB (1998)); the colorants are adapted to the D50 connection space with
the Bradford matrix, as the ICC specification asks.
"""

from __future__ import annotations

import struct

import numpy as np

D50 = np.array([0.9642, 1.0, 0.8249])
D65_XY = (0.3127, 0.3290)
PRIMARIES = {
    "display-p3": ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)),
    "adobe-rgb": ((0.640, 0.330), (0.210, 0.710), (0.150, 0.060)),
    "srgb": ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060)),
}
BRADFORD = np.array(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
)


def _xyz(xy: tuple[float, float]) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1 - x - y) / y])


def colorants(primaries: tuple, white_xy: tuple[float, float] = D65_XY) -> np.ndarray:
    """Columns: the D50-adapted XYZ of the red, green and blue primaries."""
    p = np.stack([_xyz(xy) for xy in primaries], axis=1)
    white = _xyz(white_xy)
    m = p * np.linalg.solve(p, white)  # scale each primary so R=G=B=1 is the white
    lms_src, lms_dst = BRADFORD @ white, BRADFORD @ D50
    adapt = np.linalg.inv(BRADFORD) @ np.diag(lms_dst / lms_src) @ BRADFORD
    return adapt @ m


def _s15(v: float) -> bytes:
    return struct.pack(">i", int(round(v * 65536)))


def _xyz_tag(xyz) -> bytes:
    return b"XYZ " + b"\0" * 4 + b"".join(_s15(v) for v in xyz)


def _curve(gamma: float) -> bytes:
    return b"curv" + b"\0" * 4 + struct.pack(">IH", 1, int(round(gamma * 256))) + b"\0\0"


def _desc(text: str) -> bytes:
    ascii_ = text.encode() + b"\0"
    return (
        b"desc" + b"\0" * 4 + struct.pack(">I", len(ascii_)) + ascii_
        + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + b"\0" * 67
    )  # fmt: skip


def matrix_profile(name: str, gamma: float = 2.2) -> bytes:
    """ICC v2 display profile bytes for ``name`` (a PRIMARIES key), one gamma for all channels."""
    cols = colorants(PRIMARIES[name])
    tags = [
        (b"desc", _desc(f"ptx test {name} gamma {gamma}")),
        (b"cprt", b"text" + b"\0" * 4 + b"public domain\0"),
        (b"wtpt", _xyz_tag(D50)),
        (b"rXYZ", _xyz_tag(cols[:, 0])),
        (b"gXYZ", _xyz_tag(cols[:, 1])),
        (b"bXYZ", _xyz_tag(cols[:, 2])),
        (b"rTRC", _curve(gamma)),
        (b"gTRC", _curve(gamma)),
        (b"bTRC", _curve(gamma)),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (
        struct.pack(">I", size) + b"\0" * 4 + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ "
        + b"\0" * 12 + b"acsp" + b"\0" * 24 + struct.pack(">I", 0) + b"".join(_s15(v) for v in D50)
    )  # fmt: skip
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + data
