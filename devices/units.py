"""Costs as people read them: '12.3 ms', '1.52 M MACs', '46.1 kB', '0.021 mJ'."""

from __future__ import annotations

import math

BYTE_UNITS = ("B", "kB", "MB", "GB", "TB")
COUNT_UNITS = ("", "k", "M", "G", "T")


def _scaled(value: float, units: tuple[str, ...], base: float) -> str:
    index = 0
    while abs(value) >= base and index < len(units) - 1:
        value, index = value / base, index + 1
    return f"{value:.3g} {units[index]}".strip()


def format_cost(value, key: str) -> str:
    """A cost as people read it: '12.3 ms', '1.52 M MACs', '46.1 kB', '0.021 mJ'."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if key.endswith("_ms"):
        return f"{value:.4g} ms"
    if key.endswith("_bytes"):
        return _scaled(value, BYTE_UNITS, 1024)
    if key.endswith("_mj"):
        return f"{value:.3g} mJ"
    unit = {"macs": "MACs", "flops": "FLOPs", "params": "params"}.get(key, "")
    return f"{_scaled(value, COUNT_UNITS, 1000)} {unit}".strip()
