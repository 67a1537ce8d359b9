"""Load benchmarks of the CSMS: `python -m bench.run` (see docs/performance.md)."""
