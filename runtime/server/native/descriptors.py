"""Write the FileDescriptorSet of tritonclient's KServe v2 gRPC service (grpc_service.proto
and what it imports) for protoc's ``--descriptor_set_in``: the C++ front end is generated
from the very descriptors tritonclient speaks, never from hand-typed field numbers.

    python descriptors.py OUT.pb
"""

from __future__ import annotations

import sys
from pathlib import Path


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
            fd.CopyToProto(files.file.add())

    add(service_pb2.DESCRIPTOR)
    return files.SerializeToString()


if __name__ == "__main__":
    out = Path(sys.argv[1])
    data = descriptor_set()
    if not out.exists() or out.read_bytes() != data:  # unchanged: no rebuild
        out.write_bytes(data)
