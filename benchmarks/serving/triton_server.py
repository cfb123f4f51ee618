"""A real ``tritonserver`` (nvidia-pytriton's, in its own venv) serving a ptx repository.

nvidia-pytriton 0.7.0 bundles Triton 2.51 with the python backend only, and needs
numpy<2, so it lives in ``.venv-triton`` (``scripts/triton-venv.sh``). Two things
make it start outside pytriton: ``LD_LIBRARY_PATH`` leads with the lib folder of the
Python the venv was made from (else the python-backend stub loads the system's
libpython and fails), and the venv's ``bin`` leads ``PATH`` (the stub finds its
packages, ptx among them, through it).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from ptx.errors import InputError, ModelError

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV = REPO_ROOT / ".venv-triton"
SCRIPT = REPO_ROOT / "scripts" / "triton-venv.sh"
# pytriton's own choice: the python backend's default 64 MiB of /dev/shm per instance is
# more than a small CI container has.
SHM = ("python,shm-default-byte-size=4194304", "python,shm-growth-byte-size=1048576")


def make_venv(venv: Path = VENV, timeout_s: float = 600.0) -> Path:
    """Create (or reuse) the Triton venv with scripts/triton-venv.sh; ModelError on failure."""
    try:
        done = subprocess.run(
            ["bash", str(SCRIPT), str(venv)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        raise ModelError(f"{SCRIPT.name} did not finish within {timeout_s:g} s") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ModelError(f"{SCRIPT.name} failed: {' | '.join(tail)[:400]}")
    return venv


def _query(venv: Path, code: str) -> str:
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TritonServer:
    """``tritonserver`` on loopback ports loading ``models`` from ``repo``; a context manager."""

    def __init__(self, repo: Path, models: list[str], venv: Path = VENV) -> None:
        self.repo, self.models, self.venv = Path(repo), list(models), Path(venv)
        self.http_port, self.grpc_port = free_port(), free_port()
        self.http_url = f"127.0.0.1:{self.http_port}"
        self.grpc_url = f"127.0.0.1:{self.grpc_port}"
        self.proc: subprocess.Popen | None = None
        fd, log = tempfile.mkstemp(prefix="tritonserver-", suffix=".log")
        os.close(fd)
        self.log_path = Path(log)
        self.load_s: float | None = None

    def command(self) -> tuple[list[str], dict[str, str]]:
        """The tritonserver command line and its environment."""
        site = Path(
            _query(self.venv, "import pytriton, os; print(os.path.dirname(pytriton.__file__))")
        )
        base_lib = _query(self.venv, "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))")
        dist = site / "tritonserver"
        cmd = [
            str(dist / "bin" / "tritonserver"),
            f"--model-repository={self.repo}",
            f"--backend-directory={dist / 'backends'}",
            f"--cache-directory={dist / 'caches'}",
            f"--http-port={self.http_port}",
            f"--grpc-port={self.grpc_port}",
            "--http-address=127.0.0.1",
            "--grpc-address=127.0.0.1",
            "--allow-metrics=false",
            "--model-control-mode=explicit",
            *(f"--load-model={m}" for m in self.models),
            "--exit-on-error=true",
            "--strict-readiness=true",
            "--exit-timeout-secs=3",
            *(f"--backend-config={c}" for c in SHM),
        ]
        env = dict(os.environ)
        libs = [base_lib, str(site.parent / "nvidia_pytriton.libs")]
        env["LD_LIBRARY_PATH"] = ":".join(libs + [env.get("LD_LIBRARY_PATH", "")]).rstrip(":")
        env["PATH"] = f"{self.venv / 'bin'}:{env.get('PATH', '')}"
        for var in ("PYTHONPATH", "PYTHONHOME"):  # the stub must see the Triton venv's only
            env.pop(var, None)
        return cmd, env

    def start(self, timeout_s: float = 120.0) -> TritonServer:
        """Start and wait until every model is ready (ModelError with the log's tail if not)."""
        import tritonclient.http as httpclient  # the client lives in ptx's own venv

        cmd, env = self.command()
        t0 = time.perf_counter()
        with open(self.log_path, "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        client = httpclient.InferenceServerClient(self.http_url)
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise ModelError(
                        f"tritonserver exited with {self.proc.returncode}: {self.tail()}"
                    )
                try:
                    if client.is_server_ready():
                        self.load_s = time.perf_counter() - t0
                        return self
                except Exception:  # not listening yet
                    pass
                time.sleep(0.2)
        finally:
            client.close()
        self.stop()
        raise ModelError(f"tritonserver not ready within {timeout_s:g} s: {self.tail()}")

    def tail(self, lines: int = 8) -> str:
        """The server log's last lines, joined."""
        text = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])[:2000]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> TritonServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)


def check_venv(venv: Path = VENV) -> None:
    """InputError unless ``venv`` holds a finished Triton venv."""
    if not (venv / ".ptx-triton-ready").is_file():
        raise InputError(f"{venv}: no Triton venv; run bash scripts/triton-venv.sh")
