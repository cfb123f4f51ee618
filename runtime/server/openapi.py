"""The OpenAPI 3.1 description of every route this server answers (served at /openapi.json)."""

from __future__ import annotations

import ptx
from ptx.runtime.pipelines.generate_profile import DEFAULT_N, MAX_VARIANTS, PREFERENCE_FIELDS
from ptx.runtime.pipelines.tryon import INPUTS as TRYON_INPUTS
from ptx.runtime.server.protocol import DATATYPES
from ptx.runtime.server.state import ServerState


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    what = {
        400: "bad request (the message says what and where)",
        401: "missing or wrong bearer token",
        404: "unknown model or version",
        406: "no acceptable response format",
        413: "body or image over the limit",
        415: "unsupported Content-Encoding or Content-Type",
        503: "queue full or shutting down (see Retry-After)",
        504: "no result within --timeout-s",
    }
    return {str(c): {"description": what[c], **_json(_ref("Error"))} for c in codes}


def _schemas() -> dict:
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype"],
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "datatype": {"type": "string", "enum": sorted(DATATYPES)},
            "parameters": {
                "type": "object",
                "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
            },
            "data": {"type": "array", "items": {}},
        },
    }
    requested = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "parameters": {"type": "object", "properties": {"binary_data": {"type": "boolean"}}},
        },
    }
    count = {
        "type": "object",
        "properties": {"count": {"type": "integer"}, "ns": {"type": "integer"}},
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
        },
        "Tensor": tensor,
        "InferRequest": {
            "type": "object",
            "required": ["inputs"],
            "properties": {
                "id": {"type": "string"},
                "parameters": {
                    "type": "object",
                    "properties": {"binary_data_output": {"type": "boolean"}},
                },
                "inputs": {"type": "array", "items": _ref("Tensor"), "minItems": 1},
                "outputs": {"type": "array", "items": requested},
            },
        },
        "InferResponse": {
            "type": "object",
            "required": ["model_name", "outputs"],
            "properties": {
                "model_name": {"type": "string"},
                "model_version": {"type": "string"},
                "id": {"type": "string"},
                "outputs": {"type": "array", "items": _ref("Tensor")},
            },
        },
        "TensorMetadata": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "datatype": {"type": "string"},
                "shape": {"type": "array", "items": {"type": "integer"}},
            },
        },
        "ModelMetadata": {
            "type": "object",
            "required": ["name", "platform", "inputs", "outputs"],
            "properties": {
                "name": {"type": "string"},
                "versions": {"type": "array", "items": {"type": "string"}},
                "platform": {"type": "string"},
                "inputs": {"type": "array", "items": _ref("TensorMetadata")},
                "outputs": {"type": "array", "items": _ref("TensorMetadata")},
            },
        },
        "Count": count,
        "ModelStats": {
            "type": "object",
            "properties": {
                "model_stats": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "version": {"type": "string"},
                            "inference_count": {"type": "integer"},
                            "execution_count": {"type": "integer"},
                            "inference_stats": {
                                "type": "object",
                                "additionalProperties": _ref("Count"),
                            },
                            "batch_stats": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                }
            },
        },
        "GenerateRequest": {
            "type": "object",
            "description": "labels, or a profile (not both); a profile's own n and seed win",
            "properties": {
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "profile": _ref("Profile"),
                "n": {
                    "type": "integer",
                    "minimum": 1,
                    "default": 1,
                    "description": f"default 1; {DEFAULT_N} with a profile, as ptx run generate",
                },
                "seed": {"type": "integer", "minimum": 0, "default": 0},
            },
        },
        "Profile": _profile(),
    }


def _profile() -> dict:
    """A user's preference profile, as `ptx run generate --profile FILE` reads it."""
    weights = {
        "oneOf": [
            {"type": "object", "additionalProperties": {"type": "number", "exclusiveMinimum": 0}},
            {"type": "array", "items": {"type": "string"}},
        ],
        "description": "value -> positive weight, or a list of values (equal weights)",
    }
    return {
        "type": "object",
        "description": "weighted preferences; n variants split by the product of the weights",
        "properties": {
            "name": {"type": "string"},
            "n": {"type": "integer", "minimum": 1, "maximum": MAX_VARIANTS},
            "seed": {"type": "integer", "minimum": 0},
            **{field: weights for field in PREFERENCE_FIELDS},
        },
        "additionalProperties": False,
    }


def _model_paths(base: str, params: list[dict]) -> dict:
    def get(summary: str, schema: dict) -> dict:
        return {
            "get": {
                "summary": summary,
                "parameters": params,
                "responses": {"200": {"description": "ok", **_json(schema)}, **_errors(404)},
            }
        }

    binary = {"type": "string", "format": "binary"}
    infer = {
        "post": {
            "summary": "KServe v2 inference (JSON tensors, or JSON header + binary tensors)",
            "parameters": [
                *params,
                {
                    "name": "Inference-Header-Content-Length",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": _ref("InferRequest")},
                    "application/octet-stream": {"schema": binary},
                },
            },
            "responses": {
                "200": {
                    "description": "outputs (binary after the JSON header where asked)",
                    "content": {
                        "application/json": {"schema": _ref("InferResponse")},
                        "application/octet-stream": {"schema": binary},
                    },
                },
                **_errors(400, 404, 413, 415, 503, 504),
            },
        }
    }
    return {
        base: get("model metadata", _ref("ModelMetadata")),
        base + "/ready": get("model readiness", {"type": "object"}),
        base + "/config": get("Triton-style model configuration", {"type": "object"}),
        base + "/stats": get("Triton statistics for this model", _ref("ModelStats")),
        base + "/infer": infer,
    }


def _image_paths(name_param: dict) -> dict:
    binary = {"type": "string", "format": "binary"}
    images = {"image/png": {"schema": binary}, "image/jpeg": {"schema": binary}}
    image_in = {
        "required": True,
        "content": {**images, "application/octet-stream": {"schema": binary}},
    }
    paths = {}
    for route, what in (("enhance", "Enhance a photo"), ("stylize", "Stylize a photo")):
        paths[f"/v1/models/{{name}}/{route}"] = {
            "post": {
                "summary": f"{what}: image bytes in, PNG or JPEG out (by Accept)",
                "parameters": [name_param],
                "requestBody": image_in,
                "responses": {
                    "200": {"description": "the result image", "content": images},
                    **_errors(400, 404, 406, 413, 415, 503, 504),
                },
            }
        }
    paths["/v1/models/{name}/cutout"] = {
        "post": {
            "summary": "Cut the product out: image bytes in, the image with its alpha out (PNG)",
            "parameters": [name_param],
            "requestBody": image_in,
            "responses": {
                "200": {
                    "description": "RGBA PNG",
                    "content": {"image/png": {"schema": binary}},
                },
                **_errors(400, 404, 413, 415, 503, 504),
            },
        }
    }
    paths["/v1/models/{name}/tryon"] = {
        "post": {
            "summary": "Virtual try-on: garment + mannequin pictures in, the dressed mannequin out "
            "(PNG or JPEG by Accept, the model's side x side)",
            "parameters": [name_param],
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": list(TRYON_INPUTS),
                            "properties": {k: binary for k in TRYON_INPUTS},
                        }
                    }
                },
            },
            "responses": {
                "200": {"description": "the mannequin wearing the garment", "content": images},
                **_errors(400, 404, 406, 413, 415, 503, 504),
            },
        }
    }
    listing = {
        "type": "object",
        "properties": {
            "images": {"type": "array", "items": {"type": "object"}},
            "profile": {"type": "string"},
            "seed": {"type": "integer"},
            "groups": {"type": "array", "items": {"type": "object"}},
            "notes": {"type": "array", "items": {"type": "string"}},
        },
    }
    paths["/v1/models/{name}/generate"] = {
        "post": {
            "summary": "Generate images from labels or a preference profile: a grid image, "
            "or base64 PNGs as JSON (with a profile: its groups and notes too)",
            "parameters": [name_param],
            "requestBody": {"required": True, **_json(_ref("GenerateRequest"))},
            "responses": {
                "200": {
                    "description": "a grid (image/*) or a JSON list (application/json)",
                    "content": {**images, "application/json": {"schema": listing}},
                },
                **_errors(400, 404, 406, 413, 415, 503, 504),
            },
        }
    }
    return paths


def _plain(summary: str, schema: dict, *codes: int) -> dict:
    return {
        "get": {
            "summary": summary,
            "responses": {"200": {"description": "ok", **_json(schema)}, **_errors(*codes)},
        }
    }


def openapi(state: ServerState, with_models: bool = True) -> dict:
    """The OpenAPI document of this server; ``with_models``: model names enumerated.

    Without the token (on a server that has one) the names are left out: they are
    not public, so the document says only that a name is a string.
    """
    schema = {"type": "string", "enum": sorted(state.models)} if with_models else {"type": "string"}
    name = {"name": "name", "in": "path", "required": True, "schema": schema}
    version = {"name": "version", "in": "path", "required": True, "schema": {"enum": ["1"]}}
    paths = {
        "/v2/health/live": _plain("liveness", {"type": "object"}),
        "/v2/health/ready": _plain("readiness", {"type": "object"}, 503),
        "/v2": _plain("server metadata", {"type": "object"}),
        "/v2/models/stats": _plain("Triton statistics for every model", _ref("ModelStats")),
        **_model_paths("/v2/models/{name}", [name]),
        **_model_paths("/v2/models/{name}/versions/{version}", [name, version]),
        **_image_paths(name),
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "responses": {
                    "200": {
                        "description": "text exposition",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": _plain("this document", {"type": "object"}),
    }
    doc: dict = {
        "openapi": "3.1.0",
        "info": {
            "title": "ptx serve",
            "version": ptx.__version__,
            "description": "KServe v2 inference protocol plus image routes",
        },
        "paths": paths,
        "components": {"schemas": _schemas()},
    }
    if state.config.token:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        doc["security"] = [{"bearer": []}]
        for public in ("/v2/health/live", "/v2/health/ready", "/openapi.json"):
            paths[public]["get"]["security"] = []
    return doc
