"""ptx.runtime.server: `ptx serve`, the KServe v2 inference protocol over HTTP.

Dynamic batching per model, image routes, Prometheus metrics, limits. Starlette on
uvicorn; no torch. Import ``ptx.runtime.server.app.create_app`` to embed the app.
"""
