"""`python -m ptx` is the `ptx` command."""

from ptx.cli import main

main()
