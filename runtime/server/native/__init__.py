"""The native (C++) KServe v2 gRPC front end of `ptx serve`: sources and cached build."""
