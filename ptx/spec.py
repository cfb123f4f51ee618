"""ModelSpec: the small, versioned JSON contract that flows through every stage.

Training writes it beside each checkpoint (``spec.json``), export embeds it in
the ONNX ``metadata_props`` under ``ptx.spec``, build copies it into the plan's
sidecar, the runtime reads it to set up pre/post-processing, and bench reads it
to make inputs of the right shapes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ptx import __version__
from ptx import image as _image
from ptx.errors import SpecError
from ptx.io import atomic_write_text
from ptx.tensors import SPEC_DTYPES

SPEC_VERSION = 1
ONNX_METADATA_KEY = "ptx.spec"
TASKS = (
    "enhance", "generate", "stylize", "vae-encode", "vae-decode", "cutout", "tryon", "custom",
)  # fmt: skip
DTYPES = SPEC_DTYPES

Dim = int | str  # an int is static; a string names a dynamic dim ("batch", "height")
MAX_DIM = 2**31 - 1  # TensorRT and ONNX Runtime index dims with int32 / int64; larger is nonsense


def _int(value: object, what: str, lo: int = 0, hi: int = MAX_DIM) -> int:
    """``value`` as an int in [lo, hi], or SpecError naming ``what`` (bools and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise SpecError(f"{what}: expected an integer, got {value!r:.40}")
    if not lo <= int(value) <= hi:
        # str() of a 4,300-digit int raises ValueError itself: say how big, not what
        shown = (
            str(int(value))
            if int(value).bit_length() < 64
            else f"a {int(value).bit_length()}-bit number"
        )
        raise SpecError(f"{what}: {shown} is outside {lo}..{hi}")
    return int(value)


def _floats(value: object, what: str, sizes: tuple[int, ...]) -> tuple[float, ...]:
    """A tuple of finite floats with a length in ``sizes``, or SpecError naming ``what``."""
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise SpecError(f"{what}: expected a list of {' or '.join(map(str, sizes))} numbers")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float | np.number):
            raise SpecError(f"{what}: {v!r:.40} is not a number")
        if not np.isfinite(float(v)):
            raise SpecError(f"{what}: {v} is not finite")
        out.append(float(v))
    if len(out) not in sizes:
        raise SpecError(f"{what}: expected {' or '.join(map(str, sizes))} numbers, got {len(out)}")
    return tuple(out)


def _shape(value: object, what: str, names_ok: bool) -> list:
    """A list of dims (ints; and dynamic-dim names where ``names_ok``), or SpecError."""
    if not isinstance(value, list | tuple):
        raise SpecError(f"{what}: expected a list of dims, got {value!r:.40}")
    out = []
    for axis, d in enumerate(value):
        if names_ok and isinstance(d, str) and d:
            out.append(d)
        else:
            out.append(_int(d, f"{what} axis {axis}"))
    return out


@dataclass
class TensorSpec:
    """One input or output: name, dtype and shape with named dynamic dims."""

    name: str
    dtype: str = "float32"
    shape: list[Dim] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"tensor name must be a non-empty string, got {self.name!r:.40}")
        if self.dtype not in DTYPES:
            raise SpecError(f"tensor '{self.name}': unknown dtype '{self.dtype}' (use {DTYPES})")
        self.shape = _shape(self.shape, f"tensor '{self.name}' shape", names_ok=True)

    @property
    def dynamic_dims(self) -> dict[int, str]:
        """Axis index → name for every dynamic dim."""
        return {i: d for i, d in enumerate(self.shape) if isinstance(d, str)}


@dataclass
class ImageConvention:
    """How pixels map to tensor values: layout, channel order, range, mean/std, fitting.

    A uint8 pixel p becomes ((p / 255) * (hi - lo) + lo - mean) / std. ``fit`` says how
    an image of another size meets the model: ``pad`` (any size, reflect-padded to
    ``multiple_of`` and cropped back), ``crop`` (centre-crop to the model's aspect,
    then resize: a fixed-size encoder), ``letterbox`` or ``stretch``. The maths lives
    in ``ptx.image``; these methods are how every stage calls it.
    """

    layout: str = "NCHW"
    channel_order: str = "RGB"
    range: tuple[float, float] = (0.0, 1.0)
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    multiple_of: int = 1  # H and W the model needs (the runtime pads if not handled inside)
    fit: str = "pad"

    def __post_init__(self) -> None:
        if self.layout not in ("NCHW", "NHWC"):
            raise SpecError(f"image layout '{self.layout}' is not NCHW or NHWC")
        if self.channel_order not in ("RGB", "BGR"):
            raise SpecError(f"channel order '{self.channel_order}' is not RGB or BGR")
        if self.fit not in _image.FIT_MODES:
            raise SpecError(f"image fit '{self.fit}' is not one of {', '.join(_image.FIT_MODES)}")
        self.range = _floats(self.range, "image.range", (2,))
        self.mean = _floats(self.mean, "image.mean", (1, 3))
        self.std = _floats(self.std, "image.std", (1, 3))
        self.multiple_of = _int(self.multiple_of, "image.multiple_of", 1, 4096)
        if self.range[0] == self.range[1]:
            raise SpecError(f"image.range needs two different ends, got {list(self.range)}")
        if 0.0 in self.std:
            raise SpecError(f"image.std must not be 0, got {list(self.std)}")

    @property
    def channel_axis(self) -> int:
        """The channel axis of a 4-D batch: 1 (NCHW) or 3 (NHWC)."""
        return 1 if self.layout == "NCHW" else 3

    def to_model(self, images: list[np.ndarray] | np.ndarray, dtype: object = np.float32):
        """uint8 HWC RGB images (a list, or one N×H×W×3 array) -> one model batch."""
        return _image.preprocess(list(images), self, dtype=dtype)

    def to_pixels(self, batch: np.ndarray, size: tuple[int, int] | None = None) -> list:
        """A model batch -> uint8 HWC RGB images, cropped to ``size`` (h, w) when given."""
        return _image.postprocess(np.asarray(batch), self, size=size)

    def from_unit(self, rgb01: np.ndarray, dtype: object = np.float32) -> np.ndarray:
        """Float RGB in [0, 1] (N×H×W×3) -> model values and layout (no rounding to 8 bits)."""
        scale, offset = _image.normalise_constants(self)
        x = np.asarray(rgb01, dtype=np.float32)
        if self.channel_order == "BGR":
            x = x[..., ::-1]
        x = x * (scale * 255.0) + offset
        if self.layout == "NCHW":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x, dtype=dtype)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel (lowest, highest) model value a pixel can take, model channel order."""
        scale, offset = _image.normalise_constants(self)
        ends = np.stack([offset, offset + 255.0 * scale])
        return ends.min(axis=0), ends.max(axis=0)

    def fit_image(self, rgb: np.ndarray, h: int, w: int) -> np.ndarray:
        """``rgb`` made h x w by this convention's ``fit`` rule."""
        return _image.fit(rgb, h, w, self.fit)


@dataclass
class ShapeProfile:
    """min / opt / max shape per input, as a TensorRT optimisation profile."""

    min: dict[str, list[int]]
    opt: dict[str, list[int]]
    max: dict[str, list[int]]

    def __post_init__(self) -> None:
        for key in ("min", "opt", "max"):
            table = getattr(self, key)
            if not isinstance(table, dict):
                raise SpecError(f"profile.{key} must map input names to shapes, got {table!r:.40}")
            shapes = {n: _shape(s, f"profile.{key} '{n}'", False) for n, s in table.items()}
            setattr(self, key, shapes)
        for name in self.opt:
            lo, mid, hi = self.min.get(name), self.opt[name], self.max.get(name)
            if lo is None or hi is None:
                raise SpecError(f"profile for '{name}' needs min, opt and max")
            if not (len(lo) == len(mid) == len(hi)):
                raise SpecError(f"profile for '{name}': min/opt/max ranks differ")
            if any(a > b or b > c for a, b, c in zip(lo, mid, hi, strict=True)):
                raise SpecError(
                    f"profile for '{name}': need min <= opt <= max, got {lo} {mid} {hi}"
                )


@dataclass
class ModelSpec:
    """Everything a later stage needs to know about a model without its code."""

    task: str
    family: str = "custom"
    inputs: list[TensorSpec] = field(default_factory=list)
    outputs: list[TensorSpec] = field(default_factory=list)
    image: ImageConvention | None = None
    labels: dict[str, list[str]] = field(default_factory=dict)
    latent_size: int | None = None
    profile: ShapeProfile | None = None
    precision: str = "fp32"
    config: dict[str, Any] = field(default_factory=dict)  # hyper-parameters to rebuild the module
    producer: dict[str, str] = field(default_factory=dict)  # package -> version
    source_hash: str | None = None  # sha256 of the checkpoint weights
    metrics: dict[str, float] = field(default_factory=dict)
    version: int = SPEC_VERSION

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise SpecError(f"unknown task '{self.task}' (use one of {', '.join(TASKS)})")
        if self.precision not in ("fp32", "fp16", "mixed"):
            raise SpecError(f"unknown precision '{self.precision}' (fp32, fp16 or mixed)")
        if self.latent_size is not None:
            self.latent_size = _int(self.latent_size, "latent_size", 1)
        if not isinstance(self.labels, dict) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in self.labels.values()
        ):
            raise SpecError("labels must map each label name to a list of strings")
        for key in ("config", "producer", "metrics"):
            if not isinstance(getattr(self, key), dict):
                raise SpecError(f"{key} must be a JSON object, got {getattr(self, key)!r:.40}")

    # -- lookup -----------------------------------------------------------
    def input(self, name: str) -> TensorSpec:
        """The input called ``name``."""
        for t in self.inputs:
            if t.name == name:
                return t
        raise SpecError(f"model has no input '{name}' (inputs: {[t.name for t in self.inputs]})")

    # -- serialisation ----------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict."""
        d = asdict(self)
        d["version"] = self.version
        return d

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys, so hashes of it are stable)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        """Parse a dict, rejecting newer spec versions with a clear message."""
        if not isinstance(data, dict):
            raise SpecError("ModelSpec must be a JSON object")
        version = data.get("version")
        if not isinstance(version, int):
            raise SpecError("ModelSpec has no integer 'version'")
        if version > SPEC_VERSION:
            raise SpecError(
                f"ModelSpec version {version} is newer than this ptx understands "
                f"(up to {SPEC_VERSION}); upgrade ptx (pip install -U ptx)"
            )
        try:
            d = dict(data)
            d["inputs"] = [TensorSpec(**t) for t in d.get("inputs", [])]
            d["outputs"] = [TensorSpec(**t) for t in d.get("outputs", [])]
            if d.get("image") is not None:
                d["image"] = ImageConvention(**d["image"])
            if d.get("profile") is not None:
                d["profile"] = ShapeProfile(**d["profile"])
            return cls(**d)
        except (TypeError, ValueError, AttributeError) as exc:  # a field of the wrong JSON type
            raise SpecError(f"malformed ModelSpec: {exc}") from exc

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelSpec:
        """Parse JSON text."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SpecError(f"ModelSpec is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        """Write atomically to ``path``."""
        atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> ModelSpec:
        """Read from a JSON file."""
        p = Path(path)
        if not p.is_file():
            raise SpecError(f"no ModelSpec at {p}")
        return cls.from_json(p.read_text())


def spec_from_onnx(model_or_path: Any) -> ModelSpec | None:
    """The ModelSpec embedded in an ONNX model's metadata, or None for a foreign model."""
    if isinstance(model_or_path, str | Path):
        import onnx

        model_or_path = onnx.load(str(model_or_path), load_external_data=False)
    for prop in model_or_path.metadata_props:
        if prop.key == ONNX_METADATA_KEY:
            return ModelSpec.from_json(prop.value)
    return None


def embed_in_onnx(model: Any, spec: ModelSpec) -> None:
    """Write ``spec`` into an ONNX ModelProto's metadata_props (replacing any old one)."""
    keep = [p for p in model.metadata_props if p.key != ONNX_METADATA_KEY]
    del model.metadata_props[:]
    for p in keep:
        model.metadata_props.append(p)
    entry = model.metadata_props.add()
    entry.key = ONNX_METADATA_KEY
    entry.value = spec.to_json()


def producer_versions(*packages: str) -> dict[str, str]:
    """Installed versions of ptx and the named packages (missing ones skipped)."""
    out = {"ptx": __version__}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
