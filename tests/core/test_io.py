"""ptx.io: image decode for every mode and every kind of bad file, folders, atomic writes."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from ptx.errors import ImageError, InputError
from ptx.io import (
    SkipLog,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    decode_image,
    encode_image,
    image_header,
    iter_images,
    list_images,
    png_level,
    read_image,
    write_format,
    write_image,
)


def _enc(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _noise(h: int = 48, w: int = 48) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# -- modes ------------------------------------------------------------------------
def test_exif_orientation_6_is_applied() -> None:
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, :10] = (255, 0, 0)  # red on the stored image's left edge
    img = Image.fromarray(a)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    rgb = decode_image(_enc(img, "JPEG", exif=exif.tobytes(), quality=95))
    assert rgb.shape == (40, 20, 3)
    assert rgb[:8, :, 0].mean() > 200 and rgb[:8, :, 1].mean() < 40  # left edge is now the top
    assert rgb[-20:, :, 0].mean() < 40


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK", "RGB-progressive"])
def test_jpeg_decode_equals_pillows_own_transpose_and_convert(mode: str, orientation: int) -> None:
    # decode_image transposes in place and skips convert() for RGB (each a copy a
    # file); the pixels must stay those of Pillow's copying exif_transpose + convert.
    img = Image.fromarray(_noise(24, 40)).convert(mode.split("-")[0])
    exif = img.getexif()
    exif[0x0112] = orientation
    data = _enc(img, "JPEG", exif=exif.tobytes(), quality=90, progressive="progressive" in mode)
    want = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    got = decode_image(data)
    assert got.shape == want.shape == ((40, 24, 3) if orientation > 4 else (24, 40, 3))
    np.testing.assert_array_equal(got, want)


def test_rgba_is_composited_on_white() -> None:
    a = np.zeros((4, 3, 4), np.uint8)
    a[:, 0] = (0, 255, 0, 0)  # transparent pixels that happen to store green
    a[:, 1] = (255, 0, 0, 255)
    a[:, 2] = (0, 0, 0, 128)
    rgb = decode_image(_enc(Image.fromarray(a, "RGBA"), "PNG"))
    assert (rgb[:, 0] == 255).all()
    assert (rgb[:, 1] == (255, 0, 0)).all()
    assert np.abs(rgb[:, 2].astype(int) - 127).max() <= 1


def test_grey_la_and_palette_become_rgb() -> None:
    grey = decode_image(_enc(Image.new("L", (5, 4), 77), "PNG"))
    assert grey.shape == (4, 5, 3) and (grey == 77).all()
    la = decode_image(_enc(Image.new("LA", (3, 3), (10, 0)), "PNG"))
    assert (la == 255).all()  # fully transparent grey shows the white it is shown on
    pal = Image.new("P", (4, 2), 0)
    pal.putpalette([200, 30, 40, 10, 20, 250] + [0] * 762)
    pal.putpixel((3, 1), 1)
    rgb = decode_image(_enc(pal, "PNG"))
    assert tuple(rgb[0, 0]) == (200, 30, 40) and tuple(rgb[1, 3]) == (10, 20, 250)
    pal.info["transparency"] = 1
    rgb = decode_image(_enc(pal, "PNG", transparency=1))
    assert tuple(rgb[1, 3]) == (255, 255, 255) and tuple(rgb[0, 0]) == (200, 30, 40)


def test_cmyk_jpeg_becomes_rgb() -> None:
    rgb = decode_image(_enc(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG", quality=95))
    assert rgb.shape == (8, 8, 3)
    assert rgb[..., 0].mean() > 230 and rgb[..., 1].mean() < 25 and rgb[..., 2].mean() < 25


def test_16_bit_png_is_scaled_not_clipped() -> None:
    a = np.array([[0, 200, 32768, 65535]], dtype=np.uint16)
    img = Image.fromarray(a)
    assert img.mode.startswith("I;16")
    rgb = decode_image(_enc(img, "PNG"))
    assert rgb[0, :, 0].tolist() == [0, 1, 128, 255]
    dark = decode_image(_enc(Image.fromarray(np.array([[0, 200, 255]], np.uint16)), "PNG"))
    assert dark[0, :, 0].tolist() == [0, 1, 1]  # a dark 16-bit scan stays dark


def test_webp_decodes() -> None:
    a = _noise(16, 24)
    assert (decode_image(_enc(Image.fromarray(a), "WEBP", lossless=True)) == a).all()
    lossy = decode_image(_enc(Image.fromarray(a), "WEBP", quality=90))
    assert lossy.shape == (16, 24, 3)


# -- bad input --------------------------------------------------------------------
def test_zero_byte_and_text_files_are_one_line_image_errors(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("not a picture\n")
    with pytest.raises(ImageError, match=r"empty\.png: empty file"):
        read_image(tmp_path / "empty.png")
    with pytest.raises(ImageError, match="not an image") as exc:
        read_image(tmp_path / "notes.jpg")
    assert "\n" not in str(exc.value) and "notes.jpg" in str(exc.value)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated_files_are_refused(fmt: str, keep: float) -> None:
    data = _enc(Image.fromarray(_noise()), fmt)
    with pytest.raises(ImageError, match="truncated"):
        decode_image(data[: int(len(data) * keep)], f"cut.{fmt.lower()}")


def test_corrupt_bytes_are_refused() -> None:
    png = bytearray(_enc(Image.fromarray(_noise()), "PNG"))
    png[120:200] = b"\x00" * 80  # inside the IDAT stream
    with pytest.raises(ImageError, match="corrupt"):
        decode_image(bytes(png), "bad.png")
    garbage = b"\x89PNG\r\n\x1a\n" + bytes(np.random.default_rng(1).integers(0, 256, 300, np.uint8))
    with pytest.raises(ImageError):
        decode_image(garbage, "garbage.png")


def test_pixel_limit_by_argument_and_environment(monkeypatch) -> None:
    data = _enc(Image.fromarray(_noise(40, 50)), "PNG")
    with pytest.raises(ImageError, match="over the"):
        decode_image(data, "big.png", limit=1999)
    assert decode_image(data, limit=2000).shape == (40, 50, 3)
    monkeypatch.setenv("PTX_MAX_PIXELS", "1000")
    with pytest.raises(ImageError, match="PTX_MAX_PIXELS"):
        decode_image(data, "big.png")
    monkeypatch.setenv("PTX_MAX_PIXELS", "lots")
    with pytest.raises(InputError, match="must be an integer"):
        decode_image(data)


def test_decompression_bomb_header_is_refused_before_decoding() -> None:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)  # 10 gigapixels claimed
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )
    with pytest.raises(ImageError, match=r"100000x100000 .* over the 50 MP limit"):
        decode_image(bomb, "bomb.png")


def test_missing_file_and_folder_are_image_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a folder"):
        read_image(tmp_path)


def test_unreadable_file_is_an_image_error(tmp_path: Path, monkeypatch) -> None:
    p = tmp_path / "locked.png"
    write_image(p, _noise(8, 8))

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)  # chmod 0 does not stop root
    with pytest.raises(ImageError, match="locked.png: cannot read .Permission denied"):
        read_image(p)


# -- folders ------------------------------------------------------------------------
def _bad_folder(root: Path) -> None:
    write_image(root / "a.png", _noise(8, 8))
    write_image(root / "sub" / "deeper" / "b.JPG", _noise(8, 8))
    (root / "zero.png").write_bytes(b"")
    (root / "sub" / "text.webp").write_text("hello")
    jpg = _enc(Image.fromarray(_noise()), "JPEG")
    (root / "cut.jpeg").write_bytes(jpg[: len(jpg) // 2])
    (root / "readme.txt").write_text("ignored: not an image suffix")
    (root / ".hidden.png").write_bytes(b"ignored: hidden")


def test_list_images_is_recursive_sorted_and_skips_hidden(tmp_path: Path) -> None:
    _bad_folder(tmp_path)
    names = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert names == ["a.png", "cut.jpeg", "sub/deeper/b.JPG", "sub/text.webp", "zero.png"]
    with pytest.raises(InputError, match="no such file or folder"):
        list_images(tmp_path / "missing")


def test_folder_run_skips_and_counts_bad_files(tmp_path: Path) -> None:
    _bad_folder(tmp_path)
    skips = SkipLog()
    good = [p.name for p, _ in iter_images(tmp_path, skips)]
    assert good == ["a.png", "b.JPG"]
    assert len(skips) == 3
    reasons = dict(skips.skipped)
    assert "empty" in reasons[str(tmp_path / "zero.png")]
    assert "not an image" in reasons[str(tmp_path / "sub" / "text.webp")]
    assert "truncated" in reasons[str(tmp_path / "cut.jpeg")]
    with pytest.raises(ImageError):
        list(iter_images(tmp_path))  # no SkipLog: the first bad file stops the run


# -- atomic writes --------------------------------------------------------------------
@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_atomic_path_leaves_nothing_on_exception(tmp_path: Path, exc) -> None:
    dest = tmp_path / "out" / "model.bin"
    with pytest.raises(exc), atomic_path(dest) as tmp:
        tmp.write_bytes(b"half of a file")
        raise exc()
    assert list((tmp_path / "out").iterdir()) == []
    atomic_write_text(dest, "old")
    with pytest.raises(exc), atomic_path(dest) as tmp:
        tmp.write_text("new but unfinished")
        raise exc()
    assert dest.read_text() == "old"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["model.bin"]


def test_atomic_write_gives_the_usual_file_mode(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    atomic_write_text(tmp_path / "f.txt", "x")
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o666 & ~umask


def test_encode_write_roundtrip(tmp_path: Path) -> None:
    a = _noise(12, 20)
    write_image(tmp_path / "x.png", a)
    assert (read_image(tmp_path / "x.png") == a).all()
    write_image(tmp_path / "x.jpg", a, quality=95)
    assert read_image(tmp_path / "x.jpg").shape == a.shape
    with pytest.raises(ImageError, match="uint8 HxWx3"):
        encode_image(a.astype(np.float32))


def test_only_allowed_formats_are_opened(tmp_path: Path) -> None:
    from PIL import Image

    img = Image.fromarray(np.full((8, 8, 3), 128, np.uint8))
    for fmt in ("PCX", "TGA", "PPM", "ICO"):  # Pillow reads these; ptx must not
        buf = io.BytesIO()
        img.save(buf, format=fmt)
        with pytest.raises(ImageError, match=r"not an image in an allowed format \(JPEG, PNG"):
            decode_image(buf.getvalue(), f"x.{fmt.lower()}")
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n"
    with pytest.raises(ImageError, match="allowed format"):
        decode_image(eps, "x.eps")  # never reaches Ghostscript
    gif = io.BytesIO()
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    assert decode_image(gif.getvalue())[0, 0, 0] > 200  # the first frame, red
    assert image_header(gif.getvalue()) == (4, 4, "GIF")
    with pytest.raises(ImageError, match="empty"):
        image_header(b"")


def test_header_probe_of_a_huge_image_needs_no_decode() -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (14_000, 13_000)).save(buf, format="PNG")  # 182 MP, past Pillow's bomb limit
    assert image_header(buf.getvalue()) == (14_000, 13_000, "PNG")
    with pytest.raises(ImageError, match="over the 50 MP limit"):
        decode_image(buf.getvalue())


def test_writes_are_fsynced_and_stale_parts_of_dead_writers_go(tmp_path: Path, monkeypatch) -> None:
    import subprocess

    import ptx.io as pio

    synced: list[int] = []  # inode of every fsync'd descriptor (the file by its own fd)
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real(fd)

    monkeypatch.setattr(pio.os, "fsync", spy)
    dest = tmp_path / "out.bin"
    proc = subprocess.Popen(["true"])
    proc.wait()
    stale = tmp_path / f".out.bin.{proc.pid}.abc123.part"
    stale.write_bytes(b"half")
    mine = tmp_path / f".out.bin.{os.getpid()}.zzz.part"  # a live writer's (this process)
    mine.write_bytes(b"busy")
    atomic_write_bytes(dest, b"whole")
    assert dest.read_bytes() == b"whole"
    assert not stale.exists() and mine.exists()
    # the file that became dest, then the folder
    assert synced[-2:] == [dest.stat().st_ino, tmp_path.stat().st_ino]


def test_unwritable_destination_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write here"):
        atomic_write_bytes(blocker / "sub" / "out.bin", b"data")


def test_header_probe_in_a_fresh_process_has_no_pillow_bomb_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    from PIL import Image

    path = tmp_path / "big.png"
    Image.new("L", (14_000, 13_000)).save(path)  # 182 MP: Pillow's own limit raises at 179
    code = (
        "import sys; from ptx.io import image_header; "
        "print(image_header(open(sys.argv[1], 'rb').read()))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "(14000, 13000, 'PNG')" in out.stdout


def test_16_bit_decode_stays_small_in_memory() -> None:
    import tracemalloc

    from PIL import Image

    side = 1500
    ramp = (np.arange(side * side, dtype=np.uint32) % 65536).astype(np.uint16).reshape(side, side)
    buf = io.BytesIO()
    Image.fromarray(ramp).save(buf, format="PNG")
    data = buf.getvalue()
    tracemalloc.start()
    rgb = decode_image(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert rgb[0, 257, 0] == 1 and rgb.dtype == np.uint8
    # float64 copies took 24+ bytes a pixel; integer maths stays near 12 (output 3, scratch 4-8)
    assert peak < 14 * side * side, f"{peak / side / side:.1f} bytes per pixel"


def _photo(h: int = 64, w: int = 80) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    noise = np.random.default_rng(0).normal(0, 8, (h, w, 3))
    return np.clip(np.stack([xx * 3, yy * 3, xx + yy], -1) + noise, 0, 255).astype(np.uint8)


def test_png_outputs_are_written_at_level_1_unless_told(monkeypatch) -> None:
    rgb = _photo()

    def pillow(level: int) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="PNG", compress_level=level)
        return buf.getvalue()

    monkeypatch.delenv("PTX_PNG_LEVEL", raising=False)
    assert png_level() == 1
    assert encode_image(rgb, "PNG") == pillow(1) != pillow(6)
    assert encode_image(rgb, "PNG", level=9) == pillow(9)
    monkeypatch.setenv("PTX_PNG_LEVEL", "6")
    assert png_level() == 6 and encode_image(rgb, "PNG") == pillow(6)
    np.testing.assert_array_equal(decode_image(encode_image(rgb, "PNG", level=0)), rgb)
    for bad in ("fast", "10", "-1", ""):
        monkeypatch.setenv("PTX_PNG_LEVEL", bad)
        with pytest.raises(InputError, match="PTX_PNG_LEVEL must be an integer 0-9"):
            encode_image(rgb, "PNG")
    assert encode_image(rgb, "JPEG")[:2] == b"\xff\xd8"  # other formats ignore it


def test_write_format_follows_the_suffix_and_write_image_uses_it(tmp_path: Path) -> None:
    assert [write_format(f"a{s}") for s in (".JPG", ".jpeg", ".png", ".webp", ".bmp", ".TIF")] == [
        "JPEG", "JPEG", "PNG", "WEBP", "BMP", "TIFF",
    ]  # fmt: skip
    assert write_format("a.gif") == write_format("a") == "PNG"
    rgb = _photo(9, 7)
    write_image(tmp_path / "e.bmp", rgb)  # was PNG bytes under a .bmp name
    assert (tmp_path / "e.bmp").read_bytes()[:2] == b"BM"
    np.testing.assert_array_equal(read_image(tmp_path / "e.bmp"), rgb)
