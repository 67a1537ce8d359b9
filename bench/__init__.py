"""Load benchmarks of the CSMS: `python -m bench.run` (see README, "Benchmarks")."""
