"""Benchmarks of servicegoals: ``python3 dev.py bench [--quick]``.

See ``docs/performance.md`` for what is measured, how, and the latest figures.
"""
