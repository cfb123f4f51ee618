"""Durable atomic file writes, image encoding and folder listing shared by every stage.

Writes: a temp file beside the target (named with the writer's pid), fsync'd, renamed
over the target, then the folder fsync'd, so a crash or a kill -9 leaves the old file
or the new one, never half of one; temp files of writers that died are removed by the
next write to the same target. Decoding lives in ptx.decode and is re-exported here
(``ptx.io.read_image`` and friends), so callers have one module for image files.
No torch here.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ptx.alpha import ALPHA_FORMATS, rgba_image
from ptx.decode import DEFAULT_MAX_PIXELS as DEFAULT_MAX_PIXELS
from ptx.decode import IMAGE_FORMATS as IMAGE_FORMATS
from ptx.decode import IMAGE_SUFFIXES as IMAGE_SUFFIXES
from ptx.decode import decode_image as decode_image
from ptx.decode import decode_image_alpha as decode_image_alpha
from ptx.decode import image_header as image_header
from ptx.decode import max_pixels as max_pixels
from ptx.decode import read_image as read_image
from ptx.decode import read_image_alpha as read_image_alpha
from ptx.errors import ImageError, InputError

# suffix -> the Pillow format written for it (the input's own format where Pillow can
# write it); any other suffix is written as PNG.
WRITE_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
# zlib level of PNG outputs (PTX_PNG_LEVEL overrides, 0-9): level 1 encodes a 512x512
# photo in ~18 ms against ~54 ms at Pillow's default 6, for files ~5-10 % larger.
DEFAULT_PNG_LEVEL = 1
# mkstemp makes 0600 files; finished files should get the usual umask-based mode so a
# server running as another user (Triton, a web server) can read what ptx wrote.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


# -- atomic writes --------------------------------------------------------------
def _fsync(path: Path, directory: bool = False) -> None:
    """Flush ``path`` (a file, or a folder's entries) to the disk; a no-op where unsupported."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # e.g. folders cannot be opened on Windows
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems (tmpfs on old kernels, network mounts) refuse: best effort
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_parts(dest: Path) -> int:
    """Remove temp files left beside ``dest`` by writers that died (kill -9); returns the count."""
    removed = 0
    for part in dest.parent.glob(f".{dest.name}.*.part"):
        pid = part.name[len(dest.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            part.unlink(missing_ok=True)
            removed += 1
    return removed


def remove_stale_parts_in(folder: str | Path) -> int:
    """remove_stale_parts for every target in ``folder`` at once (one listing, not one a file)."""
    removed = 0
    for part in Path(folder).glob(".*.part"):
        pid = part.name.rsplit(".", 3)[1]  # .{name}.{pid}.{mkstemp's dot-free tail}.part
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            part.unlink(missing_ok=True)
            removed += 1
    return removed


def sync_folder(folder: str | Path) -> None:
    """Make the renames into ``folder`` durable (after atomic writes with ``sync_dir=False``)."""
    _fsync(Path(folder), directory=True)


def _temp_beside(dest: Path, sweep: bool) -> tuple[int, Path]:
    """An open fd and the path of a new temp file beside ``dest`` (named with our pid)."""
    try:
        if not dest.parent.is_dir():  # one stat; mkdir's EEXIST costs an exception a file
            dest.parent.mkdir(parents=True, exist_ok=True)
        if sweep:
            remove_stale_parts(dest)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{dest.name}.{os.getpid()}.", suffix=".part", dir=dest.parent
        )
    except OSError as exc:
        raise InputError(f"{dest}: cannot write here ({exc.strerror or exc})") from exc
    return fd, Path(tmp)


@contextlib.contextmanager
def _publishing(tmp_path: Path, dest: Path, sync_dir: bool) -> Iterator[None]:
    """Rename ``tmp_path`` over ``dest`` once the body is done; on any failure remove it."""
    try:
        yield
        os.replace(tmp_path, dest)
        if sync_dir:
            _fsync(dest.parent, directory=True)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        raise InputError(
            f"{dest}: write failed ({exc.strerror or exc}); nothing was written"
        ) from exc
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path, sweep: bool = True, sync_dir: bool = True) -> Iterator[Path]:
    """Yield a temp path beside ``path``; make it durable and rename it over ``path`` on success.

    An exception or Ctrl-C inside the block removes the temp file, so readers
    see the old file or none, never half of one. A writer of many files per folder
    may pass ``sweep=False`` (it calls remove_stale_parts_in itself: listing the
    folder each time costs ~6 ms a file at 10,000 files) and ``sync_dir=False`` (it
    calls sync_folder before it counts the files as written).
    """
    dest = Path(path)
    fd, tmp_path = _temp_beside(dest, sweep)
    os.close(fd)
    with _publishing(tmp_path, dest, sync_dir):
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        _fsync(tmp_path)


def atomic_write_bytes(
    path: str | Path, data: bytes, sweep: bool = True, sync_dir: bool = True
) -> None:
    """Write bytes atomically (``sweep``, ``sync_dir``: see atomic_path).

    Through the temp file's own descriptor: reopening it by path to write, chmod and
    fsync cost twice the CPU (~0.45 vs ~0.2 ms a 100 KB file), paid for every output.
    """
    dest = Path(path)
    fd, tmp_path = _temp_beside(dest, sweep)
    with _publishing(tmp_path, dest, sync_dir):
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o666 & ~_UMASK)
            else:  # Windows before Python 3.13
                os.chmod(tmp_path, 0o666 & ~_UMASK)
            with contextlib.suppress(OSError):  # best effort, as _fsync
                os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text (UTF-8) atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def png_level() -> int:
    """The zlib level PNG outputs are written at (env PTX_PNG_LEVEL overrides 1; 0-9)."""
    raw = os.environ.get("PTX_PNG_LEVEL")
    if raw is None:
        return DEFAULT_PNG_LEVEL
    if raw.strip() not in tuple("0123456789"):
        raise InputError(f"PTX_PNG_LEVEL must be an integer 0-9, got '{raw}'")
    return int(raw)


def write_format(path: str | Path) -> str:
    """The Pillow format written for ``path``'s suffix (WRITE_FORMATS; PNG otherwise)."""
    return WRITE_FORMATS.get(Path(path).suffix.lower(), "PNG")


@dataclass(frozen=True)
class JpegTables:
    """A colour JPEG's quantization tables and chroma subsampling: what its re-encode keeps."""

    qtables: tuple[tuple[int, ...], ...]
    subsampling: int  # Pillow's code: 0 is 4:4:4, 1 is 4:2:2, 2 is 4:2:0


def jpeg_tables(source: bytes | str | Path | None) -> JpegTables | None:
    """The tables of a colour JPEG, from its header; None for anything else or unreadable.

    Why: an output written at a fixed quality 95 with 4:2:0 chroma re-encoded an untouched
    4:4:4 studio JPEG at 30-38 dB and grew a quality-75 one 1.9x; with the input's own
    tables it comes back at 52-58 dB and the same size.
    """
    from PIL import Image, JpegImagePlugin

    if source is None:
        return None
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source,
                        formats=("JPEG",)) as img:  # fmt: skip
            tables = getattr(img, "quantization", None) or {}
            sub = JpegImagePlugin.get_sampling(img)
            if img.mode != "RGB" or len(tables) < 2 or sub < 0:
                return None  # grey, CMYK or odd sampling: the default quality applies
            return JpegTables(tuple(tuple(tables[k]) for k in sorted(tables)), sub)
    except Exception:  # noqa: BLE001 - not a readable JPEG: nothing to keep
        return None


def encode_image(
    rgb: np.ndarray,
    fmt: str = "PNG",
    quality: int = 95,
    level: int | None = None,
    alpha: np.ndarray | None = None,
    tables: JpegTables | None = None,
) -> bytes:
    """Encode uint8 RGB HWC to PNG / JPEG / WEBP / BMP / TIFF bytes.

    ``quality`` applies to JPEG and WebP, ``level`` (zlib 0-9) to PNG: png_level() unless given.
    ``alpha`` (the input's, H x W uint8): given back where the format holds it (ptx.alpha),
    ``rgb`` taken off the white it was composited on; JPEG and BMP stay on white.
    ``tables`` (the input JPEG's, jpeg_tables): a JPEG is written with them, not ``quality``.
    """
    from PIL import Image

    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageError(f"expected uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
    fmt = fmt.upper().replace("JPG", "JPEG")
    if alpha is not None and fmt in ALPHA_FORMATS:
        return encode_pil(rgba_image(rgb, alpha), fmt, quality, level)
    return encode_pil(Image.fromarray(rgb), fmt, quality, level, tables)


def encode_pil(
    img,
    fmt: str = "PNG",
    quality: int = 95,
    level: int | None = None,
    tables: JpegTables | None = None,
) -> bytes:
    """A Pillow image's bytes with encode_image's options (for callers that built it already)."""
    buf = io.BytesIO()
    fmt = fmt.upper().replace("JPG", "JPEG")
    if fmt == "JPEG" and tables is not None:
        kwargs = {"qtables": [list(t) for t in tables.qtables], "subsampling": tables.subsampling}
    elif fmt in ("JPEG", "WEBP"):
        kwargs = {"quality": quality}
    elif fmt == "PNG":
        kwargs = {"compress_level": png_level() if level is None else level}
    else:
        kwargs = {}
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def encode_for(
    path: str | Path,
    rgb: np.ndarray,
    quality: int = 95,
    level: int | None = None,
    alpha: np.ndarray | None = None,
    source: bytes | str | Path | None = None,
) -> bytes:
    """The bytes write_image writes for ``path``: its suffix's format (write_format).

    ``source`` (the input file or bytes): a JPEG output keeps a JPEG input's tables.
    """
    fmt = write_format(path)
    tables = jpeg_tables(source) if fmt == "JPEG" else None
    return encode_image(rgb, fmt, quality, level, alpha, tables)


def write_image(path: str | Path, rgb: np.ndarray, quality: int = 95) -> None:
    """Write uint8 RGB HWC atomically; the format follows the file suffix (write_format)."""
    atomic_write_bytes(path, encode_for(path, rgb, quality))


# -- folders ---------------------------------------------------------------------
def list_images(root: str | Path, suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> list[Path]:
    """Image files under ``root`` (recursive, sorted); a single file is returned as is."""
    p = Path(root)
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    if p.is_file():
        return [p]
    return sorted(
        f
        for f in p.rglob("*")
        if f.is_file()
        and f.suffix.lower() in suffixes
        and not any(part.startswith(".") for part in f.relative_to(p).parts)
    )


@dataclass
class SkipLog:
    """Bad files a folder run skipped, with the reason for each."""

    skipped: list[tuple[str, str]] = field(default_factory=list)

    def add(self, path: str | Path, reason: str) -> None:
        """Record one skipped file."""
        self.skipped.append((str(path), reason))

    def __len__(self) -> int:
        return len(self.skipped)


def iter_images(
    root: str | Path, skips: SkipLog | None = None, limit: int | None = None
) -> Iterator[tuple[Path, np.ndarray]]:
    """Yield (path, uint8 RGB) for every readable image under ``root``; skip and count the rest."""
    for path in list_images(root):
        try:
            yield path, read_image(path, limit)
        except ImageError as exc:
            if skips is None:
                raise
            skips.add(path, str(exc))
