"""Benchmarks: each ``bench_*.py`` module measures figures; ``python -m bench`` runs them all."""
