"""Benchmarks: scripts anyone can rerun; their last figures are in bench/RESULTS.md."""
