"""Benchmarks: each ``bench/bench_*.py`` prints ours, the peer's and the ratio from one run.

Run one with ``python -m bench.bench_chain``, all with ``python -m bench``.
"""
