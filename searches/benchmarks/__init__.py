"""Tabular NAS benchmarks: trials answered by lookup instead of training (no Django)."""
