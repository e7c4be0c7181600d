"""Reliability harnesses: kill-and-resume, used by the test suite and ``benchmarks/reliability.py``."""
