"""`ptx serve` (thin: parse, build the app, run it)."""

from __future__ import annotations

import json

import click

from ptx.errors import require
from ptx.runtime.cli._common import precision_option, trial_shape_option, trial_shapes
from ptx.runtime.server.config import GRPC_FRONTENDS, ServerConfig, parse_models
from ptx.runtime.server.native.build import choose as choose_grpc_frontend
from ptx.runtime.server.run import check_port_free, serve_forever


@click.command("serve")
@click.option(
    "--model", "models", multiple=True, required=True,
    help="NAME=path.onnx|path.plan (repeat for several models)",
)  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind")
@click.option("--port", default=8000, show_default=True, type=int, help="port (0 = any free)")
@click.option(
    "--grpc-port", type=int, default=None,
    help="also serve KServe v2 gRPC (Triton's GRPCInferenceService) on this port",
)  # fmt: skip
@click.option(
    "--grpc-frontend", type=click.Choice(GRPC_FRONTENDS), default="auto",
    show_default=True,
    help="gRPC server: native (C++, `make grpc-native`), python (grpc.aio), auto = native if built",
)  # fmt: skip
@click.option("--max-batch", default=8, show_default=True, help="samples per merged batch")
@click.option(
    "--max-delay-us", default=2000, show_default=True,
    help="longest wait for a batch to fill, from its oldest request",
)  # fmt: skip
@click.option("--instances", default=1, show_default=True, help="engine instances per model")
@click.option(
    "--queue", default=64, show_default=True, help="waiting requests per model (503 past)"
)
@click.option("--timeout-s", default=30.0, show_default=True, help="per-request limit (504 past)")
@click.option("--max-body-mb", default=32.0, show_default=True, help="request body limit (413)")
@click.option("--max-pixels", default=50e6, show_default=True, type=float, help="image limit")
@click.option(
    "--token", envvar="PTX_SERVE_TOKEN", default=None, help="bearer token [env PTX_SERVE_TOKEN]"
)
@click.option(
    "--allow-public", is_flag=True, help="bind a non-loopback --host without --token anyway"
)
@click.option(
    "--max-request-mb", default=2048.0, show_default=True,
    help="one image request's decoded pixels + activations, estimated from its header (413 past)",
)  # fmt: skip
@click.option(
    "--max-inflight-mb", default=4096.0, show_default=True,
    help="all admitted image requests together (503 + Retry-After past)",
)  # fmt: skip
@click.option("--header-timeout-s", default=10.0, show_default=True, help="slow headers: close")
@click.option("--body-timeout-s", default=30.0, show_default=True, help="slow bodies: 408")
@click.option(
    "--max-connections", default=1000, show_default=True, help="open connections (503 past)"
)
@click.option(
    "--max-inflight-body-mb", default=512.0, show_default=True,
    help="request bodies being received at once (503 past)",
)  # fmt: skip
@click.option("--backend", default="auto", show_default=True, help="auto, onnxruntime, tensorrt")
@click.option(
    "--device", default=None,
    help="cpu, or cuda[:N]: a .plan's image routes decode on the host, then resize/normalise, "
    "the model and back to pixels on the GPU [cuda for a .plan, else cpu]",
)  # fmt: skip
@precision_option()
@trial_shape_option()
@click.option("--threads", type=int, default=None, help="intra-op threads per instance")
@click.option("--log-level", default="info", show_default=True, help="uvicorn log level")
@click.option("--access-log", is_flag=True, help="log every request")
@click.option("--json", "as_json", is_flag=True, help="print the loaded models as JSON on start")
def serve(
    models, host, port, grpc_port, grpc_frontend, max_batch, max_delay_us, instances, queue,
    timeout_s, max_body_mb, max_pixels, token, allow_public, max_request_mb, max_inflight_mb,
    header_timeout_s, body_timeout_s, max_connections, max_inflight_body_mb, backend, device,
    precision, trial_shape, threads, log_level, access_log, as_json,
) -> None:  # fmt: skip
    """Serve models over HTTP (and gRPC): KServe v2, image routes, /metrics, /openapi.json."""
    for module in ("starlette", "uvicorn", "prometheus_client"):
        require(module, "serve", "ptx serve")
    if grpc_port is not None:
        for module in ("grpc", "tritonclient.grpc"):
            require(module, "serve", "ptx serve --grpc-port")
    # The server imports starlette and prometheus_client at the top: optional packages,
    # checked above so a bare install gets the install hint, and kept out of `ptx --help`.
    from ptx.runtime.server.app import create_app

    config = ServerConfig(
        models=parse_models(models), host=host, port=port, grpc_port=grpc_port,
        max_batch=max_batch,
        max_delay_us=max_delay_us, instances=instances, queue=queue, timeout_s=timeout_s,
        max_body_mb=max_body_mb, max_pixels=int(max_pixels), token=token, backend=backend,
        device=device, threads=threads, allow_public=allow_public, max_request_mb=max_request_mb,
        max_inflight_mb=max_inflight_mb, header_timeout_s=header_timeout_s,
        body_timeout_s=body_timeout_s, max_connections=max_connections,
        max_inflight_body_mb=max_inflight_body_mb, precision=precision,
        trial_shapes=trial_shapes(trial_shape), grpc_frontend=grpc_frontend,
    )  # fmt: skip
    if allow_public and not token:
        click.echo(
            f"warning: serving on {host} without --token: anyone who can reach it may use it",
            err=True,
        )
    if grpc_port is not None and grpc_frontend == "native":  # not built: one line, now
        choose_grpc_frontend(grpc_frontend)
    if grpc_port:
        check_port_free(host, grpc_port, "gRPC (--grpc-port)")
    app = create_app(config)
    loaded = {name: m.metadata() for name, m in app.state.ptx.models.items()}
    if as_json:
        urls = {"url": f"http://{host}:{port}"}
        if grpc_port is not None:
            urls["grpc"] = f"{host}:{grpc_port}"
        click.echo(json.dumps({**urls, "models": loaded}))
    else:
        for name, meta in loaded.items():
            io = ", ".join(f"{t['name']}{t['shape']}:{t['datatype']}" for t in meta["inputs"])
            click.echo(f"model {name} [{meta['platform']}] inputs: {io}", err=True)
    serve_forever(app, config, log_level=log_level, access_log=access_log)
