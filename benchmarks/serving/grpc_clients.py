"""The clients and echo servers the gRPC overhead study times (grpc_overhead.py).

tritonclient (gRPC and HTTP), a lean Python client (one ModelInferRequest serialised
once, sent as bytes through a bare channel), the lean C++ client built beside the native
front end, and two echo servers with no ptx: grpc.aio, and the native front end
answering from a ready array (or running the engine itself, with no ptx logic).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from ptx.errors import ModelError
from ptx.runtime.server.native import build as native_build

# The transport floor: a grpc.aio server in its own process answering ModelInfer with a
# ready response of the same size, no ptx in it: what gRPC and tritonclient cost alone.
ECHO_SERVER = """
import asyncio, sys
import grpc
from tritonclient.grpc import service_pb2 as pb, service_pb2_grpc as pbg
name, shape = sys.argv[1], [int(d) for d in sys.argv[2].split(",")]
answer = pb.ModelInferResponse(model_name="enhance", model_version="1")
answer.outputs.add(name=name, datatype="FP32", shape=shape)
n = 4
for d in shape:
    n *= d
answer.raw_output_contents.append(bytes(n))
class Echo(pbg.GRPCInferenceServiceServicer):
    async def ModelInfer(self, request, context):
        return answer
async def main():
    server = grpc.aio.server()
    pbg.add_GRPCInferenceServiceServicer_to_server(Echo(), server)
    print(server.add_insecure_port("127.0.0.1:0"), flush=True)
    await server.start()
    await server.wait_for_termination()
asyncio.run(main())
"""
# The native front end's floor: the C++ server answering every ModelInfer from a Python
# callable that returns a ready array (the GIL taken once, no ptx): transport + hand-off.
# With a model (argv 3, 4: path, backend) the callable runs the engine on the request's
# input instead, loaded as the benchmark loads it: a native server with no ptx logic.
# argv 5: intra-op threads; argv 6 "0": lone calls not kept on one core (lone_core.h).
NATIVE_ECHO = """
import sys, threading
import numpy as np
from ptx import runtime
from ptx.runtime.backends import quiet_pool
from ptx.runtime.cpu import physical_cores
from ptx.runtime.server import grpc_native
name, shape = sys.argv[1], tuple(int(d) for d in sys.argv[2].split(","))
answer = [(name, "FP32", shape, np.zeros(shape, np.float32))]
engine = None
if len(sys.argv) > 3:
    backend = sys.argv[4]
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else physical_cores()
    engine = runtime.load(sys.argv[3], threads=threads, backend=backend,
                          **quiet_pool(backend))
def infer(model, version, inputs, raw, outputs, authorization, whole):
    if engine is None:
        return 0, "", answer
    x = np.frombuffer(raw[0], "<f4").reshape(inputs[0][2])
    y = engine.run({inputs[0][0]: x})[name]
    return 0, "", [(name, "FP32", y.shape, y)]
def call(method, body, authorization):
    return 12, "echo server", None
lone_core = len(sys.argv) <= 6 or sys.argv[6] != "0"
handle, port = grpc_native.load().start("127.0.0.1:0", 1 << 30, infer, call, lone_core)
print(port, flush=True)
threading.Event().wait()
"""


def client_calls(url: str, grpc_url: str, feeds: dict, out: str) -> tuple[dict, list]:
    """({"grpc": call, "http": call} through tritonclient, the clients to close)."""
    import tritonclient.grpc as grpcclient  # optional: the serve extra
    import tritonclient.http as httpclient

    clients = [grpcclient.InferenceServerClient(grpc_url)]
    clients.append(httpclient.InferenceServerClient(url.removeprefix("http://")))
    calls = {}
    for label, module, client in zip(
        ("grpc", "http"), (grpcclient, httpclient), clients, strict=True
    ):

        def call(m=module, c=client):
            inputs = []
            for name, arr in feeds.items():
                tensor = m.InferInput(name, list(arr.shape), "FP32")
                tensor.set_data_from_numpy(arr)
                inputs.append(tensor)
            return c.infer("enhance", inputs, outputs=[m.InferRequestedOutput(out)]).as_numpy(out)

        calls[label] = call
    return calls, clients


def lean_call(grpc_url: str, feeds: dict, out: str):
    """A call sending one pre-serialised ModelInferRequest through a bare channel; its closer."""
    import grpc  # optional: the serve extra
    from tritonclient.grpc import service_pb2 as pb

    request = pb.ModelInferRequest(model_name="enhance")
    for name, arr in feeds.items():
        request.inputs.add(name=name, datatype="FP32", shape=list(arr.shape))
        request.raw_input_contents.append(np.ascontiguousarray(arr, "<f4").tobytes())
    request.outputs.add(name=out)
    payload = request.SerializeToString()
    channel = grpc.insecure_channel(grpc_url, options=[("grpc.max_receive_message_length", -1)])
    infer = channel.unary_unary(
        "/inference.GRPCInferenceService/ModelInfer",
        request_serializer=None,  # the bytes go as they are
        response_deserializer=pb.ModelInferResponse.FromString,
    )

    def call():
        answer = infer(payload)
        shape = list(answer.outputs[0].shape)
        return np.frombuffer(answer.raw_output_contents[0], "<f4").reshape(shape)

    return call, channel


class CppLean:
    """The lean C++ client (native/lean_client.cc) as a path: a process per round."""

    def __init__(self, grpc_url: str, feeds: dict, out: str) -> None:
        ((name, arr),) = feeds.items()
        dims = ",".join(map(str, arr.shape))
        self.cmd = [str(native_build.lean_client_path()), grpc_url, "enhance", name, out, dims]

    def round(self, seconds: float) -> list[float]:
        """ms of each call made in ``seconds`` (after the client's own warm-up)."""
        done = subprocess.run(
            [*self.cmd, f"{seconds:g}"], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise ModelError(f"C++ lean client failed: {done.stderr.strip()}")
        return [float(line) / 1e3 for line in done.stdout.split()]


def start_echo(script: str, out: str, shape: str, *extra: str) -> tuple[subprocess.Popen, str]:
    """An echo server process (ECHO_SERVER or NATIVE_ECHO) and its gRPC address."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, out, shape, *extra], stdout=subprocess.PIPE, text=True
    )
    return proc, f"127.0.0.1:{proc.stdout.readline().strip()}"
