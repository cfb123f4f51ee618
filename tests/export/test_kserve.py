"""`ptx kserve`: the InferenceService manifest for a `ptx triton` repository.

The kserve SDK (0.21) is not in the project's environment: it would downgrade pandas
(3.x -> 2.3, against ray[data]) and pull fastapi and the kubernetes client. So the
manifest is checked field by field against the SDK's resource classes (their
attribute maps, copied below from kserve 0.21.0), and through the SDK itself when
``kserve`` imports here or PTX_KSERVE_PYTHON names a Python that has it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto as TP
from onnx import helper as h

from ptx.errors import InputError
from ptx.export.cli.kserve import kserve_cmd
from ptx.export.kserve import inference_service, to_yaml, write_kserve
from ptx.export.triton import write_repository

# kserve 0.21.0: attribute_map values of the classes the manifest uses (the CRD's fields).
SDK_FIELDS = {
    "V1beta1InferenceService": {"apiVersion", "kind", "metadata", "spec", "status"},
    "V1beta1InferenceServiceSpec": {"canary", "explainer", "predictor", "tracing", "transformer"},
    "V1ObjectMeta": {"annotations", "labels", "name", "namespace", "generateName", "uid"},
    "V1beta1PredictorSpec": {"minReplicas", "maxReplicas", "model", "scaleMetric", "scaleTarget"},
    "V1beta1ModelSpec": {
        "args", "env", "modelFormat", "protocolVersion", "resources", "runtime",
        "runtimeVersion", "storage", "storageUri",
    },
    "V1beta1ModelFormat": {"name", "version"},
    "V1ResourceRequirements": {"claims", "limits", "requests"},
}  # fmt: skip

SDK_CHECK = """
import json, re, sys
import kserve.models
import kubernetes.client

PRIMITIVE = {"str": str, "int": int, "bool": bool, "float": float, "object": object}


def build(data, kind):
    # every key must be a field of the SDK class; the constructors check the rest
    m = re.fullmatch(r"(?:list\\[|List\\[)(.*)\\]", kind)
    if m:
        return [build(v, m.group(1)) for v in data]
    m = re.fullmatch(r"(?:dict\\(str, |Dict\\[str, )(.*)[)\\]]", kind)
    if m:
        return {k: build(v, m.group(1)) for k, v in data.items()}
    if kind in PRIMITIVE:
        assert kind == "object" or isinstance(data, PRIMITIVE[kind]), (kind, data)
        return data
    cls = getattr(kserve.models, kind, None) or getattr(kubernetes.client, kind)
    unknown = set(data) - set(cls.attribute_map.values())
    assert not unknown, (kind, unknown)
    names = {v: k for k, v in cls.attribute_map.items()}
    return cls(**{names[k]: build(v, cls.openapi_types[names[k]]) for k, v in data.items()})


isvc = build(json.load(sys.stdin), "V1beta1InferenceService")
assert isvc.spec.predictor.model.model_format.name == "triton"
print("ok", type(isvc).__name__)
"""


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kserve")
    dims = ["batch", 3, "height", "width"]
    graph = h.make_graph(
        [h.make_node("Relu", ["image"], ["out"])],
        "g",
        [h.make_tensor_value_info("image", TP.FLOAT, dims)],
        [h.make_tensor_value_info("out", TP.FLOAT, dims)],
    )
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), folder / "e.onnx")
    write_repository(folder / "e.onnx", folder / "repo", name="enhance", kind="cpu")
    return folder / "repo"


def _check_fields(isvc: dict) -> None:
    spec, meta = isvc["spec"], isvc["metadata"]
    predictor = spec["predictor"]
    model = predictor["model"]
    pairs = [
        (isvc, "V1beta1InferenceService"),
        (spec, "V1beta1InferenceServiceSpec"),
        (meta, "V1ObjectMeta"),
        (predictor, "V1beta1PredictorSpec"),
        (model, "V1beta1ModelSpec"),
        (model["modelFormat"], "V1beta1ModelFormat"),
        (model["resources"], "V1ResourceRequirements"),
    ]
    for obj, cls in pairs:
        assert set(obj) <= SDK_FIELDS[cls], (cls, set(obj) - SDK_FIELDS[cls])


def test_manifest_has_the_triton_runtime_storage_resources_and_replicas(repo, tmp_path):
    yaml = pytest.importorskip("yaml")
    report = write_kserve(
        repo, "s3://bucket/ptx-repo", out=tmp_path / "isvc.yaml", name="ptx-enhance",
        min_replicas=1, max_replicas=4, cpu="4", memory="8Gi", gpus=1,
    )  # fmt: skip
    assert report.models == ["enhance"] and report.name == "ptx-enhance"
    isvc = yaml.safe_load((tmp_path / "isvc.yaml").read_text())
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert isvc["kind"] == "InferenceService"
    predictor = isvc["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 4)
    model = predictor["model"]
    assert model["modelFormat"] == {"name": "triton"} and model["protocolVersion"] == "v2"
    assert model["storageUri"] == "s3://bucket/ptx-repo"
    want = {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "1"}
    assert model["resources"] == {"requests": want, "limits": want}
    _check_fields(isvc)


def test_yaml_emitter_round_trips_awkward_strings():
    yaml = pytest.importorskip("yaml")
    value = {"a": ["x: y", "#no", "yes", "1.0", 'q"uote'], "b": {}, "c": [{"k": 1, "j": True}]}
    assert yaml.safe_load(to_yaml(value)) == value


def _sdk_python() -> str | None:
    if importlib.util.find_spec("kserve") is not None:
        return "python"
    return os.environ.get("PTX_KSERVE_PYTHON")


@pytest.mark.skipif(_sdk_python() is None, reason="kserve SDK not installed (PTX_KSERVE_PYTHON)")
def test_manifest_deserialises_through_the_kserve_sdk(repo):
    isvc = inference_service("ptx-enhance", "gs://b/r", max_replicas=3, gpus=1, runtime="trt")
    python = _sdk_python()
    exe = [python] if python != "python" else [__import__("sys").executable]
    res = subprocess.run(
        [*exe, "-c", SDK_CHECK], input=json.dumps(isvc), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert "ok V1beta1InferenceService" in res.stdout


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"storage_uri": "bucket/repo"}, "storage-uri"),
        ({"storage_uri": "ftp://x/y"}, "storage-uri"),
        ({"name": "Bad_Name"}, "--name"),
        ({"min_replicas": 3, "max_replicas": 2}, "replicas"),
        ({"memory": "lots"}, "--memory"),
    ],
)
def test_bad_settings_are_one_line(repo, tmp_path, kwargs, match):
    args = {"storage_uri": "s3://b/r", "out": tmp_path / "x.yaml", **kwargs}
    with pytest.raises(InputError, match=match) as err:
        write_kserve(repo, **args)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "x.yaml").exists()


def test_a_folder_without_models_or_an_out_inside_the_repo_is_refused(repo, tmp_path):
    with pytest.raises(InputError, match="no model entries"):
        write_kserve(tmp_path, "s3://b/r")
    with pytest.raises(InputError, match="not inside the repository"):
        write_kserve(repo, "s3://b/r", out=repo / "isvc.yaml")


def test_cli_writes_beside_the_repository(repo):
    res = CliRunner().invoke(
        kserve_cmd, ["--repo", str(repo), "--storage-uri", "pvc://models/repo", "--json"]
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["name"] == "repo" and report["manifest"].endswith("repo.kserve.yaml")
    text = Path(report["manifest"]).read_text()
    assert text.startswith("# ptx kserve: Triton serving enhance from pvc://models/repo")


def test_ptx_triton_kserve_writes_the_repository_and_the_manifest(repo, tmp_path):
    yaml = pytest.importorskip("yaml")
    from ptx.export.cli.triton import triton

    model = repo / "enhance" / "1" / "model.onnx"
    target = tmp_path / "models"
    res = CliRunner().invoke(
        triton,
        ["--model", str(model), "--repo", str(target), "--name", "enhance", "--kind", "cpu",
         "--kserve", "gs://bucket/models", "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["kserve"]["models"] == ["enhance"]
    isvc = yaml.safe_load(Path(report["kserve"]["manifest"]).read_text())
    model_spec = isvc["spec"]["predictor"]["model"]
    assert model_spec["storageUri"] == "gs://bucket/models"
    assert "nvidia.com/gpu" not in model_spec["resources"]["limits"]  # --kind cpu
    assert Path(report["kserve"]["manifest"]) == tmp_path / "models.kserve.yaml"
