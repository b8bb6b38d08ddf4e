"""Benchmarks: timings live here and in docs/performance.md, never in tests."""
