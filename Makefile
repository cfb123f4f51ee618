# Two commands on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ptx-installed
DEMO_OUT ?= demo-out

.PHONY: venv demo test lint bench fuzz gpu-check clean capi triton-venv grpc-native

$(STAMP): requirements.txt setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/ptx demo --out $(DEMO_OUT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python -m ptx.benchmarks.studies.suite
	$(BIN)/python -m ptx.benchmarks.serving.load

# libptx (the C ABI + C++ header, capi/): built with this venv's Python, installed into
# the venv; `python -m ptx.runtime.capi --cmakedir` prints its CMake package dir.
capi: $(STAMP)
	cmake -S capi -B build/capi -DPython_EXECUTABLE=$(abspath $(BIN))/python -DCMAKE_BUILD_TYPE=Release
	cmake --build build/capi -j 2
	cmake --install build/capi --prefix $(VENV)

# The native (C++) gRPC front end of `ptx serve` and its lean C++ client, built against
# this venv's Python into runtime/server/native (cached: a rebuild only when a source
# changed); `ptx serve --grpc-frontend auto` uses it once built. Needs
# `apt-get install -y libgrpc++-dev protobuf-compiler-grpc`.
grpc-native: $(STAMP)
	$(BIN)/python -m ptx.runtime.server.native.build

fuzz: $(STAMP)
	PTX_FUZZ_EXAMPLES=5000 $(BIN)/pytest -q tests/runtime/server/test_properties.py

gpu-check:
	bash scripts/gpu-check.sh

# A real tritonserver (nvidia-pytriton, numpy<2) in its own venv; the Triton tests make it too.
triton-venv:
	bash scripts/triton-venv.sh

clean:
	rm -rf build dist *.egg-info .pytest_cache $(DEMO_OUT) .venv-triton
