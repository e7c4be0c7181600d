"""``populace bench``: run the benchmark suite (scripts in ``benchmarks/``) and print one table."""
