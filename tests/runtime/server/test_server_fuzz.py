"""Schemathesis drives every route of /openapi.json: no 5xx but explicit overload, no crash."""

from __future__ import annotations

import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

EXAMPLES = 12  # per operation, bounded: ~18 operations on 2 cores
OVERLOAD = 503


@pytest.fixture(scope="module")
def server(model_files, srv):
    s = srv.start(model_files, max_body_mb=1, max_pixels=256 * 256)
    yield s
    s.stop()


def test_openapi_describes_every_route(server):
    doc = httpx.get(server.url + "/openapi.json").json()
    paths = doc["paths"]
    for route in (
        "/v2/health/live", "/v2/health/ready", "/v2", "/v2/models/{name}",
        "/v2/models/{name}/ready", "/v2/models/{name}/infer", "/v2/models/{name}/stats",
        "/v1/models/{name}/enhance", "/v1/models/{name}/stylize", "/v1/models/{name}/generate",
        "/v1/models/{name}/cutout", "/v1/models/{name}/tryon", "/metrics",
    ):  # fmt: skip
        assert route in paths, route
    tryon = paths["/v1/models/{name}/tryon"]["post"]["requestBody"]["content"]
    form = tryon["multipart/form-data"]["schema"]
    assert form["required"] == ["garment", "mannequin"] and set(form["properties"]) == {
        "garment", "mannequin"}  # fmt: skip
    schemas = doc["components"]["schemas"]
    assert schemas["GenerateRequest"]["properties"]["profile"] == {
        "$ref": "#/components/schemas/Profile"
    }
    assert {"colors", "categories", "styles", "n", "seed", "name"} == set(
        schemas["Profile"]["properties"]
    )
    served = paths["/v2/models/{name}"]["get"]["parameters"][0]["schema"]["enum"]
    assert served == ["affine", "fp16", "gen", "style"]


def _fuzz(operation, url: str, failures: list[str]) -> None:
    """Up to EXAMPLES generated requests for one operation, server errors collected."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case) -> None:
        response = case.call(base_url=url)
        status = response.status_code
        if status >= 500 and status != OVERLOAD:
            failures.append(f"{operation.label}: {status} {response.text[:200]}")
        if status >= 400:
            assert "error" in response.json(), response.text[:200]

    run()


def test_fuzz_no_server_errors(server):
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures: list[str] = []
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for operation in operations:
            _fuzz(operation, server.url, failures)
            assert http.get("/v2/health/live").status_code == 200  # still serving
    assert not failures, "\n".join(failures[:10])
