import pytest

from devices import units


@pytest.mark.parametrize("value, key, text", [
    (12.345, "latency_ms", "12.35 ms"), (2048, "peak_memory_bytes", "2 kB"), (37280, "macs", "37.3 k MACs"),
    (5606, "params", "5.61 k params"), (0.00017, "energy_mj", "0.00017 mJ"), (None, "macs", "–"),
])
def test_costs_read_as_people_write_them(value, key, text):
    assert units.format_cost(value, key) == text
