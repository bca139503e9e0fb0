"""Benchmarks that run Alchemy beside its peers and print ratios (see bench/README.md)."""
