"""`ptx bench` (bench.py) and `ptx bench compare` (compare.py); _serve.py holds the --url sweep."""
