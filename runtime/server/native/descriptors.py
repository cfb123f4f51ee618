"""Write the FileDescriptorSet of tritonclient's KServe v2 gRPC service (grpc_service.proto
and what it imports) for protoc's ``--descriptor_set_in``: the C++ front end is generated
from the very descriptors tritonclient speaks, never from hand-typed field numbers.

    python descriptors.py OUT.pb
"""

from __future__ import annotations

import sys
from pathlib import Path

# Files only the metadata calls use (ModelConfig): generated for size, not speed, which
# halves the build; the infer messages (grpc_service.proto) stay fully generated.
SMALL = {"model_config.proto"}


def descriptor_set() -> bytes:
    """The serialised FileDescriptorSet, dependencies before the files that import them."""
    from google.protobuf import descriptor_pb2
    from tritonclient.grpc import service_pb2

    files = descriptor_pb2.FileDescriptorSet()
    seen: set[str] = set()

    def add(fd) -> None:
        for dep in fd.dependencies:
            add(dep)
        if fd.name not in seen:
            seen.add(fd.name)
            proto = files.file.add()
            fd.CopyToProto(proto)
            if fd.name in SMALL:
                proto.options.optimize_for = descriptor_pb2.FileOptions.CODE_SIZE

    add(service_pb2.DESCRIPTOR)
    return files.SerializeToString()


if __name__ == "__main__":
    out = Path(sys.argv[1])
    data = descriptor_set()
    if not out.exists() or out.read_bytes() != data:  # unchanged: no rebuild
        out.write_bytes(data)
