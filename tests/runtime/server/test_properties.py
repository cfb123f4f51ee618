"""Property tests (Hypothesis, bounded): what reaches the server never raises anything but
the one-line error of its kind.

The v2 protocol parser, the binary-tensor splitter, the spec loader (a served model's
embedded spec) and the image decoder behind the image routes. CI runs a bounded number
of examples; ``PTX_FUZZ_EXAMPLES=5000`` (``make fuzz``) runs a longer search.
"""

from __future__ import annotations

import contextlib
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ptx.errors import ImageError, InputError, SpecError
from ptx.io import decode_image, encode_image, image_header
from ptx.runtime.server.protocol import decode_request, split_body
from ptx.spec import ImageConvention, ModelSpec, TensorSpec
from ptx.tensors import TensorInfo

EXAMPLES = int(os.environ.get("PTX_FUZZ_EXAMPLES", "40"))
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=EXAMPLES <= 100,  # CI: the same examples every run
)
IMAGE = TensorInfo("image", np.dtype(np.float32), ("batch", 3, "h", "w"))
LABEL = TensorInfo("label", np.dtype(np.int64), ("batch",))
OUT = TensorInfo("out", np.dtype(np.float32), ("batch", 3, "h", "w"))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
dims = st.integers(min_value=-2, max_value=2**33) | st.sampled_from([0, 1, 2, 3])
tensors = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["image", "label", "nope"]) | st.text(max_size=4),
        "shape": st.lists(dims, max_size=5) | json_values,
        "datatype": st.sampled_from(["FP32", "INT64", "FP16", "BYTES"]) | st.text(max_size=4),
    },
    optional={
        "data": st.lists(st.integers(-5, 5) | st.floats(-2, 2), max_size=24) | json_values,
        "parameters": st.fixed_dictionaries(
            {}, optional={"binary_data_size": st.integers(-4, 400) | json_values}
        )
        | json_values,
    },
)
requests = st.fixed_dictionaries(
    {"inputs": st.lists(tensors, max_size=3) | json_values},
    optional={"outputs": json_values, "parameters": json_values, "id": json_values},
)


@BOUNDED
@given(doc=requests, tail=st.binary(max_size=64))
def test_v2_parser_answers_or_says_why(doc, tail):
    try:
        req = decode_request(json.dumps(doc).encode(), tail, [IMAGE, LABEL], [OUT])
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    for name, arr in req.feeds.items():
        assert arr.size > 0 and name in ("image", "label")


@BOUNDED
@given(raw=st.binary(max_size=200))
def test_v2_parser_on_raw_bytes(raw):
    with contextlib.suppress(InputError):
        decode_request(raw, b"", [IMAGE], [OUT])


@BOUNDED
@given(
    body=st.binary(max_size=100),
    length=st.none() | st.integers(-5, 120).map(str) | st.text(max_size=6),
)
def test_binary_splitter_keeps_every_byte_or_refuses(body, length):
    try:
        header, tail = split_body(body, length)
    except InputError:
        return
    assert bytes(header) + bytes(tail) == body and len(header) >= 1 or length is None


@BOUNDED
@given(
    x=st.lists(st.floats(-1e3, 1e3, width=32), min_size=3, max_size=3 * 4).filter(
        lambda v: len(v) % 3 == 0
    )
)
def test_json_and_binary_tensors_decode_alike(x):
    arr = np.asarray(x, np.float32).reshape(1, 3, -1, 1)
    t = {"name": "image", "shape": list(arr.shape), "datatype": "FP32"}
    as_json = decode_request(
        json.dumps({"inputs": [{**t, "data": arr.ravel().tolist()}]}).encode(), b"", [IMAGE], [OUT]
    )
    header = json.dumps(
        {"inputs": [{**t, "parameters": {"binary_data_size": arr.nbytes}}]}
    ).encode()
    as_bin = decode_request(header, memoryview(arr.tobytes()), [IMAGE], [OUT])
    np.testing.assert_array_equal(as_json.feeds["image"], as_bin.feeds["image"])


def _valid_spec() -> dict:
    return ModelSpec(
        task="enhance",
        family="custom",
        inputs=[TensorSpec("image", "float32", ["batch", 3, "h", "w"])],
        outputs=[TensorSpec("out", "float32", ["batch", 3, "h", "w"])],
        image=ImageConvention(),
    ).to_dict()


@BOUNDED
@given(data=st.data())
def test_spec_loader_loads_or_says_why(data):
    doc = _valid_spec()
    for _ in range(data.draw(st.integers(1, 3))):  # replace a few fields, maybe nested
        key = data.draw(st.sampled_from(sorted(doc)))
        if isinstance(doc[key], dict) and doc[key] and data.draw(st.booleans()):
            sub = data.draw(st.sampled_from(sorted(doc[key])))
            doc[key][sub] = data.draw(json_values)
        else:
            doc[key] = data.draw(json_values)
    try:
        spec = ModelSpec.from_json(json.dumps(doc))
    except SpecError as exc:
        assert "\n" not in str(exc)
        return
    ModelSpec.from_json(spec.to_json())  # what loads, round-trips


@BOUNDED
@given(raw=st.text(max_size=300))
def test_spec_loader_on_raw_text(raw):
    with contextlib.suppress(SpecError):
        ModelSpec.from_json(raw)


def test_spec_loader_on_invalid_utf8():
    with pytest.raises(SpecError):
        ModelSpec.from_json(b"\x80{}")


_SEEDS = [
    encode_image(np.random.default_rng(0).integers(0, 255, (9, 7, 3), dtype=np.uint8), fmt)
    for fmt in ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")
]


@BOUNDED
@given(
    seed=st.sampled_from(_SEEDS),
    cut=st.integers(0, 400),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=6),
)
def test_image_decoder_decodes_or_says_why(seed, cut, flips):
    data = bytearray(seed[: max(1, len(seed) - cut)])
    for at, xor in flips:
        data[at % len(data)] ^= xor
    try:
        w, h, fmt = image_header(bytes(data))
        rgb = decode_image(bytes(data), limit=4096)
    except ImageError as exc:
        assert "\n" not in str(exc)
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert fmt in ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP") and w * h >= 1


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_decoder_seeds_decode(fmt):
    rgb = decode_image(encode_image(np.zeros((4, 4, 3), np.uint8), fmt))
    assert rgb.shape == (4, 4, 3)
