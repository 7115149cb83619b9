"""Benchmarks: ratios between variants measured in one run, printed, never asserted on."""
