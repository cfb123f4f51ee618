"""`ptx serve` in a subprocess: SIGTERM finishes the in-flight request, then exits 0."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import httpx
import numpy as np
import pytest

SERVE = "import sys; from ptx.runtime.cli.serve import serve; serve(sys.argv[1:])"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _live(url: str) -> bool:
    try:
        return httpx.get(url + "/v2/health/live", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX")
def test_sigterm_drains_in_flight_requests_then_exits_cleanly(model_files, srv):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-c", SERVE, "--model", f"affine={model_files['affine']}",
           "--port", str(port), "--log-level", "warning", "--json"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = json.loads(proc.stdout.readline())
        assert started["url"] == url and "affine" in started["models"]
        srv.wait_for(lambda: _live(url) or proc.poll() is not None, 30, "server start")
        assert proc.poll() is None, proc.stderr.read()
        x = np.full((1, 3, 2, 2), 0.5, np.float32)
        held = srv.SlowClient(port, "/v2/models/affine/infer", srv.infer_json("image", x))
        srv.wait_for(
            lambda: (
                'ptx_requests_in_flight{model="affine"} 1.0' in httpx.get(url + "/metrics").text
            ),
            what="request in flight",
        )
        proc.send_signal(signal.SIGTERM)
        srv.wait_for(lambda: not _live(url), 10, "listener closed")  # no new connections
        assert proc.poll() is None  # still draining the held request
        status, body = held.finish()
        assert status == 200, body
        assert json.loads(body)["outputs"][0]["data"] == [0.5] * 12
        assert proc.wait(timeout=30) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_bad_model_is_one_line_and_exit_2(tmp_path):
    from click.testing import CliRunner

    from ptx.cli import main, register

    register("serve", "ptx.runtime.cli.serve:serve")
    runner = CliRunner()
    missing = runner.invoke(main, ["serve", "--model", f"m={tmp_path / 'nope.onnx'}"])
    assert missing.exit_code == 2
    assert missing.output.count("\n") == 1 and "no such model file" in missing.output
    bad = runner.invoke(main, ["serve", "--model", "bad name=x.onnx"])
    assert bad.exit_code == 2 and "name 'bad name'" in bad.output
