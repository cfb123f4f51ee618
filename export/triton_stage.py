"""The ``model.py`` of every ptx python-backend entry in a Triton repository (copied there).

`ptx triton --python/--ensemble` copies this file as ``<entry>/1/model.py``; Triton's
python backend runs it in its own stub process, where ptx (and onnxruntime) must be
importable. The entry's config parameter ``ptx_stage`` says which part it plays:

- ``model``: the tensors through ``ptx.runtime.load(ptx_model)`` (the model's own IO);
- ``pre``: encoded image bytes -> the model's input tensor (the ModelSpec's
  ImageConvention: fit, pad to ``multiple_of``, normalise, layout) and the size to
  crop back to;
- ``post``: the model's output tensor and that size -> PNG bytes.

``pre`` -> ``model`` -> ``post`` is the ensemble `ptx triton --ensemble` writes; it
answers what ``ptx run enhance`` (ptx.runtime.pipelines.enhance) gives in-process.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class TritonPythonModel:
    """Triton's python-backend entry point."""

    def initialize(self, args: dict) -> None:
        """Load the engine (model stage) or the ModelSpec (pre/post stages)."""
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        folder = Path(args["model_repository"]) / str(args["model_version"])
        self.stage = params.get("ptx_stage", "model")
        self.inputs = [t["name"] for t in config["input"]]
        self.outputs = [t["name"] for t in config["output"]]
        self.batched = int(config.get("max_batch_size", 0)) > 0
        if self.stage == "model":
            from ptx.runtime import load

            threads = int(params["ptx_threads"]) if params.get("ptx_threads") else None
            backend = params.get("ptx_backend", "onnxruntime")
            self.engine = load(folder / params["ptx_model"], threads=threads, backend=backend)
            return
        from ptx.spec import ModelSpec

        spec = ModelSpec.load(folder / "spec.json")
        if spec.image is None:
            raise ValueError(f"{folder}: the ModelSpec has no image convention")
        self.conv = spec.image
        self.model_input = spec.inputs[0]

    def execute(self, requests: list) -> list:
        """One response per request; a request that fails gets its own error."""
        import triton_python_backend_utils as pb_utils

        feeds = [
            {n: pb_utils.get_input_tensor_by_name(r, n).as_numpy() for n in self.inputs}
            for r in requests
        ]
        results: list = [None] * len(requests)
        if self.stage == "model" and self.batched and len(requests) > 1:
            self._merged(feeds, results)  # Triton's dynamic batch: one engine run per shape
        responses = []
        for i, feed in enumerate(feeds):
            try:
                out = (
                    results[i] if results[i] is not None else getattr(self, "_" + self.stage)(feed)
                )
                tensors = [pb_utils.Tensor(name, out[name]) for name in self.outputs]
                responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            except Exception as exc:  # the client gets the reason, the server lives on
                error = pb_utils.TritonError(f"{type(exc).__name__}: {exc}")
                responses.append(pb_utils.InferenceResponse(output_tensors=[], error=error))
        return responses

    def _merged(self, feeds: list[dict], results: list) -> None:
        """Run requests of one signature as one batch; a failed batch leaves them to run alone."""
        groups: dict[tuple, list[int]] = {}
        for i, feed in enumerate(feeds):
            key = tuple((n, a.dtype.str, a.shape[1:]) for n, a in sorted(feed.items()))
            groups.setdefault(key, []).append(i)
        for members in groups.values():
            if len(members) < 2:
                continue
            try:
                batch = {n: np.concatenate([feeds[i][n] for i in members]) for n in self.inputs}
                out = self.engine.run(batch)
                sizes = [len(feeds[i][self.inputs[0]]) for i in members]
                if any(len(out[n]) != sum(sizes) for n in self.outputs):
                    continue  # outputs without the batch axis: run each request alone
                parts = {n: np.split(out[n], np.cumsum(sizes)[:-1]) for n in self.outputs}
            except Exception:  # e.g. one bad label id: each request then fails or passes alone
                continue
            for k, i in enumerate(members):
                results[i] = {n: parts[n][k] for n in self.outputs}

    def finalize(self) -> None:
        """Release the engine."""
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.close()

    # -- the stages ---------------------------------------------------------------------
    def _model(self, feeds: dict) -> dict:
        return self.engine.run(feeds)

    def _pre(self, feeds: dict) -> dict:
        from ptx.io import decode_image

        blobs = feeds[self.inputs[0]].reshape(-1)
        images = [decode_image(bytes(b)) for b in blobs]
        shape = self.model_input.shape
        h_axis = 2 if self.conv.layout == "NCHW" else 1
        fixed = [shape[h_axis], shape[h_axis + 1]]
        if all(isinstance(d, int) for d in fixed):  # a fixed-size model: its fit rule
            images = [self.conv.fit_image(img, *fixed) for img in images]
        sizes = {img.shape[:2] for img in images}
        if len(sizes) != 1:
            raise ValueError(f"images of one request must share a size, got {sorted(sizes)}")
        tensor = self.conv.to_model(images, np.dtype(self.model_input.dtype))
        size = np.array([images[0].shape[:2]] * len(images), dtype=np.int64)
        return {self.outputs[0]: tensor, self.outputs[1]: size}

    def _post(self, feeds: dict) -> dict:
        from ptx.io import encode_image

        tensor, size = (feeds[name] for name in self.inputs)
        h, w = (int(v) for v in size.reshape(-1, 2)[0])
        pngs = [encode_image(img, "PNG") for img in self.conv.to_pixels(tensor, size=(h, w))]
        return {self.outputs[0]: np.array(pngs, dtype=np.object_).reshape(-1, 1)}
