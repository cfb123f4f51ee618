"""The `ptx bench` library: adapters, the timing loop, inputs, statistics, reports, plots."""
