"""Serving load: `ptx bench --url` on a KServe v2 server, and the `ptx serve` load study."""
