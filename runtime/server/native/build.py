"""The cached build of the native gRPC front end (``_ptx_grpc``) and its lean C++ client.

cmake configures ``native/build`` against this Python (as `make capi` does), then the
extension is copied beside this file, where ``ptx.runtime.server.native._ptx_grpc``
imports it. A build whose sources are older than the copied module is not redone.
Needs cmake, a C++ compiler, libgrpc++ and protoc with grpc_cpp_plugin (Debian:
``apt-get install -y libgrpc++-dev protobuf-compiler-grpc``).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from ptx.errors import InputError, PtxError
from ptx.runtime.server.config import GRPC_FRONTENDS

HERE = Path(__file__).resolve().parent
BUILD_DIR = HERE / "build"
SOURCES = ("CMakeLists.txt", "ptx_grpc.cc", "lone_core.h", "lean_client.cc", "descriptors.py")
INSTALL_HINT = "apt-get install -y libgrpc++-dev protobuf-compiler-grpc"

log = logging.getLogger("ptx.serve")


class NativeBuildError(PtxError):
    """The native gRPC front end could not be built."""


def module_path() -> Path:
    """Where the built extension lives (importable as ptx.runtime.server.native._ptx_grpc)."""
    return HERE / f"_ptx_grpc{sysconfig.get_config_var('EXT_SUFFIX')}"


def lean_client_path() -> Path:
    """The lean C++ client built beside the extension."""
    return BUILD_DIR / "ptx_grpc_lean"


def missing_tools() -> str | None:
    """Why the front end cannot be built here (a tool or library missing), or None."""
    for tool in ("cmake", "c++", "protoc", "grpc_cpp_plugin", "pkg-config"):
        if shutil.which(tool) is None:
            return f"'{tool}' is not installed ({INSTALL_HINT})"
    probe = subprocess.run(
        ["pkg-config", "--exists", "grpc++", "protobuf"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return f"libgrpc++/protobuf development files are missing ({INSTALL_HINT})"
    return None


def up_to_date() -> bool:
    """True when the extension and the client exist and are newer than every source."""
    built = [module_path(), lean_client_path()]
    if not all(p.exists() for p in built):
        return False
    oldest = min(p.stat().st_mtime for p in built)
    return all((HERE / s).stat().st_mtime <= oldest for s in SOURCES)


def build(force: bool = False, quiet: bool = True) -> Path:
    """Build (unless up to date) and return the extension's path (NativeBuildError)."""
    if up_to_date() and not force:
        return module_path()
    reason = missing_tools()
    if reason:
        raise NativeBuildError(f"cannot build the native gRPC front end: {reason}")
    out = subprocess.DEVNULL if quiet else None
    steps = (
        ["cmake", "-S", str(HERE), "-B", str(BUILD_DIR), f"-DPython_EXECUTABLE={sys.executable}",
         "-DCMAKE_BUILD_TYPE=Release"],
        ["cmake", "--build", str(BUILD_DIR), "-j", str(min(2, os.cpu_count() or 1))],
    )  # fmt: skip
    for cmd in steps:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr or "").strip().splitlines()[-1:] or ["(no message)"]
            raise NativeBuildError(f"native gRPC build failed ({cmd[1]}): {tail[0]}")
    built = BUILD_DIR / module_path().name
    # A new file then a rename: a server still running the old module keeps its copy.
    tmp = module_path().with_suffix(".tmp")
    shutil.copy2(built, tmp)
    os.replace(tmp, module_path())
    lean_client_path().touch()  # both now newer than the sources
    return module_path()


def choose(frontend: str) -> str:
    """``native`` or ``python`` for ``--grpc-frontend`` (auto: native when built)."""
    if frontend not in GRPC_FRONTENDS:
        names = ", ".join(GRPC_FRONTENDS)
        raise InputError(f"--grpc-frontend must be one of {names}, got '{frontend}'")
    built = module_path().exists()
    if frontend == "native" and not built:
        raise InputError(
            "--grpc-frontend native: the native front end is not built; run `make grpc-native` "
            f"(needs: {INSTALL_HINT})"
        )
    if frontend == "auto" and not built:
        log.info("gRPC: the python front end (`make grpc-native` builds the faster native one)")
        return "python"
    return "python" if frontend == "python" else "native"


def main(argv: list[str] | None = None) -> int:
    """Build the native front end (cached; ``--force`` rebuilds) and print its path."""
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["--force"]):
        print("usage: python -m ptx.runtime.server.native.build [--force]", file=sys.stderr)
        return 2
    try:
        path = build(force=bool(args), quiet=False)
    except PtxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
