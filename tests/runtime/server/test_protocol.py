"""The KServe v2 codec on its own: JSON and binary tensors in, binary or JSON out, strictness."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ptx.errors import InputError
from ptx.runtime.engine import TensorInfo
from ptx.runtime.server.protocol import decode_request, encode_response, split_body

IMAGE = TensorInfo("image", np.dtype(np.float32), ("batch", 3, None, None))
LABEL = TensorInfo("label", np.dtype(np.int64), ("batch",))
OUT = TensorInfo("out", np.dtype(np.float32), ("batch", 3, None, None))


def _binary_body(doc: dict, *arrays: np.ndarray) -> tuple[bytes, str]:
    header = json.dumps(doc).encode()
    return header + b"".join(a.tobytes() for a in arrays), str(len(header))


def test_json_and_binary_inputs_decode_to_the_same_arrays():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2)
    labels = np.array([3, -1], dtype=np.int64)
    json_doc = {
        "inputs": [
            {"name": "image", "shape": [2, 3, 2, 2], "datatype": "FP32", "data": x.tolist()},
            {"name": "label", "shape": [2], "datatype": "INT64", "data": labels.tolist()},
        ]
    }
    a = decode_request(json.dumps(json_doc).encode(), b"", [IMAGE, LABEL], [OUT])
    bin_doc = {
        "inputs": [
            {
                "name": "image",
                "shape": [2, 3, 2, 2],
                "datatype": "FP32",
                "parameters": {"binary_data_size": x.nbytes},
            },
            {
                "name": "label",
                "shape": [2],
                "datatype": "INT64",
                "parameters": {"binary_data_size": labels.nbytes},
            },
        ],
        "outputs": [{"name": "out", "parameters": {"binary_data": True}}],
    }
    body, hlen = _binary_body(bin_doc, x, labels)
    b = decode_request(*split_body(body, hlen), [IMAGE, LABEL], [OUT])
    for req in (a, b):
        np.testing.assert_array_equal(req.feeds["image"], x)
        np.testing.assert_array_equal(req.feeds["label"], labels)
        assert req.feeds["label"].dtype == np.int64
    assert a.outputs is None and b.outputs == {"out": True}


def test_response_binary_layout_is_what_tritonclient_reads():
    from tritonclient.http import InferResult

    y = np.linspace(-1, 1, 12, dtype=np.float32).reshape(1, 3, 2, 2)
    req = decode_request(
        json.dumps(
            {
                "id": "r1",
                "inputs": [
                    {"name": "image", "shape": [1, 3, 2, 2], "datatype": "FP32", "data": [0.0] * 12}
                ],  # fmt: skip
                "parameters": {"binary_data_output": True},
            }
        ).encode(),
        b"",
        [IMAGE],
        [OUT],
    )
    body, hlen = encode_response("m", req, {"out": y})
    assert hlen is not None and hlen < len(body)
    result = InferResult.from_response_body(body, header_length=hlen)
    np.testing.assert_array_equal(result.as_numpy("out"), y)
    assert result.get_response()["id"] == "r1"
    req.binary_default = False
    body, hlen = encode_response("m", req, {"out": y})
    assert hlen is None
    np.testing.assert_array_equal(InferResult.from_response_body(body).as_numpy("out"), y)


@pytest.mark.parametrize(
    "tensor, message",
    [
        ({"name": "image", "shape": [1, 3, 1, 1], "datatype": "FP64", "data": [0, 0, 0]}, "FP32"),
        ({"name": "image", "shape": [1, 4, 1, 1], "datatype": "FP32", "data": [0] * 4}, "fit"),
        ({"name": "image", "shape": [1, 3, 1], "datatype": "FP32", "data": [0] * 3}, "fit"),
        ({"name": "image", "shape": [1, 3, 1, 1], "datatype": "FP32", "data": [0, 0]}, "3"),
        ({"name": "image", "shape": [1, 3, 1, 1], "datatype": "FP32", "data": ["a"] * 3}, "kind"),
        ({"name": "image", "shape": [1, -3, 1, 1], "datatype": "FP32", "data": []}, "negative"),
        ({"name": "nope", "shape": [1], "datatype": "FP32", "data": [0]}, "unknown input"),
        ({"name": "image", "shape": [1, 3, 1, 1], "datatype": "FP32"}, "neither"),
    ],
)
def test_bad_tensors_are_one_clear_input_error(tensor, message):
    with pytest.raises(InputError, match=message):
        decode_request(json.dumps({"inputs": [tensor]}).encode(), b"", [IMAGE], [OUT])


def test_int_json_data_must_be_integers_in_range():
    for data in ([1.5, 2], [2**63, 0]):
        doc = {"inputs": [{"name": "label", "shape": [2], "datatype": "INT64", "data": data}]}
        with pytest.raises(InputError, match="label"):
            decode_request(json.dumps(doc).encode(), b"", [LABEL], [OUT])


def test_truncated_and_surplus_binary_data_are_refused():
    x = np.zeros((1, 3, 2, 2), np.float32)
    doc = {
        "inputs": [
            {
                "name": "image",
                "shape": [1, 3, 2, 2],
                "datatype": "FP32",
                "parameters": {"binary_data_size": x.nbytes},
            }  # fmt: skip
        ]
    }
    body, hlen = _binary_body(doc, x)
    with pytest.raises(InputError, match="truncated"):
        decode_request(*split_body(body[:-5], hlen), [IMAGE], [OUT])
    with pytest.raises(InputError, match="belong to no input"):
        decode_request(*split_body(body + b"xx", hlen), [IMAGE], [OUT])
    with pytest.raises(InputError, match="outside"):
        split_body(body, str(len(body) + 1))
    with pytest.raises(InputError, match="integer"):
        split_body(body, "ten")


def test_malformed_json_and_missing_inputs():
    with pytest.raises(InputError, match="not valid JSON"):
        decode_request(b"{nope", b"", [IMAGE], [OUT])
    with pytest.raises(InputError, match="JSON object"):
        decode_request(b"[1, 2]", b"", [IMAGE], [OUT])
    with pytest.raises(InputError, match="missing input"):
        doc = {"inputs": [{"name": "label", "shape": [1], "datatype": "INT64", "data": [1]}]}
        decode_request(json.dumps(doc).encode(), b"", [IMAGE, LABEL], [OUT])
    with pytest.raises(InputError, match="unknown output"):
        doc = {
            "inputs": [{"name": "label", "shape": [1], "datatype": "INT64", "data": [1]}],
            "outputs": [{"name": "logits"}],
        }
        decode_request(json.dumps(doc).encode(), b"", [LABEL], [OUT])


def test_datatypes_are_the_one_tensor_vocabulary():
    """The server's KServe names and Triton config types come from ptx.tensors."""
    from ptx.runtime.server.models import _config_tensor
    from ptx.runtime.server.protocol import DATATYPES, datatype_of
    from ptx.tensors import DTYPES

    assert {d.kserve: d.numpy for d in DTYPES.values()} == DATATYPES
    assert datatype_of(np.float16) == "FP16" and datatype_of(np.dtype("bool")) == "BOOL"
    with pytest.raises(InputError, match="complex64 has no KServe v2 datatype"):
        datatype_of(np.complex64)
    info = TensorInfo("x", np.dtype(np.int64), ("batch", 3))
    assert _config_tensor(info, merge=True) == {"name": "x", "data_type": "TYPE_INT64", "dims": [3]}
