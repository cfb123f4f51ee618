"""ptx.benchmarks: measure what ptx builds, and keep the figures honest.

- ``harness/``: the library behind `ptx bench` — backend adapters (``backends``),
  the timing loop (``measure``), inputs by ptx.inputs's one rule (``inputs``),
  statistics as trtexec computes them (``stats``), the JSON/CSV/text report and
  where results go (``report``), plots, ``compare``, the environment block
  (``env``), the families' benchmark models (``models``).
- ``serving/``: load on a KServe v2 server — `ptx bench --url` (``bench``), its
  closed-loop clients and HTTP client, and the `ptx serve` load study (``load``).
- ``studies/``: one-off measurements run as ``python -m``: the suite (`make bench`),
  CPU backends side by side, runtime overhead, harness agreement, GPU preprocessing.
- ``cli/``: the `ptx bench` command (``bench``), `ptx bench compare` (``compare``).

Results go to ``--out``, else ``$PTX_RESULTS_DIR``, else ``./bench-results``; the
summaries worth keeping are committed to docs/results/. SCHEMA.md describes the
report.
"""
