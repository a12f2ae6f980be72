"""HW-NAS-Bench lookups are exact against the shipped table."""

import csv
import gzip

import pytest

from devices.costs import hwnasbench
from devices.costs.hwnasbench import UnknownArchitecture, UnknownDevice

INDEX_0 = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
INDEX_6111 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def test_raspi4_latency_of_index_0_is_the_published_10_482_ms():
    assert hwnasbench.latency_ms("raspi4", index=0) == pytest.approx(10.482, abs=5e-4)
    assert hwnasbench.latency_ms("raspi4", index=0) == 10.48198  # exactly as stored


def test_lookup_by_arch_string_and_by_index_agree():
    by_arch = hwnasbench.lookup_arch(INDEX_6111)
    assert by_arch.index == 6111
    assert by_arch == hwnasbench.lookup_index(6111)
    assert by_arch.latency_ms == {"raspi4": 68.40411, "pixel3": 23.5848, "eyeriss": 7.82354, "fpga": 6.67856}
    assert hwnasbench.latency_ms("pixel3", arch=INDEX_0) == 3.60585


def test_every_row_of_the_shipped_file_is_returned_exactly():
    with gzip.open(hwnasbench.TABLE_PATH, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert hwnasbench.cell_count() == len(rows) == 15625
    for row in rows[::97]:
        entry = hwnasbench.lookup_arch(row["arch"])
        assert entry.index == int(row["index"])
        for device in hwnasbench.DEVICES:
            assert entry.on(device) == float(row[f"{device}_latency_ms"])


def test_surrounding_whitespace_is_ignored():
    assert hwnasbench.lookup_arch(f"  {INDEX_0}\n").index == 0


@pytest.mark.parametrize("bad", [
    "|conv~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",  # unknown op
    "|avg_pool_3x3~1|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",  # source
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|",  # too few nodes
    "",
])
def test_an_unknown_arch_string_is_a_clear_error(bad):
    with pytest.raises(UnknownArchitecture, match="not a NAS-Bench-201 arch string"):
        hwnasbench.lookup_arch(bad)


@pytest.mark.parametrize("bad", [-1, 15625, "3", True, 2.0])
def test_an_index_outside_the_table_is_a_clear_error(bad):
    with pytest.raises(UnknownArchitecture, match="0-15624"):
        hwnasbench.lookup_index(bad)


def test_unknown_device_and_ambiguous_queries_are_errors():
    with pytest.raises(UnknownDevice, match="jetson"):
        hwnasbench.latency_ms("jetson", index=0)
    with pytest.raises(ValueError, match="exactly one"):
        hwnasbench.latency_ms("raspi4", arch=INDEX_0, index=0)
    with pytest.raises(ValueError, match="exactly one"):
        hwnasbench.latency_ms("raspi4")
