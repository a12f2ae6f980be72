"""Measured edge-device latencies of NAS-Bench-201 cells, from HW-NAS-Bench.

HW-NAS-Bench (Li et al., ICLR 2021, MIT licence) measured or simulated every one of the 15,625
NAS-Bench-201 networks (CIFAR-10 configuration) on a Raspberry Pi 4, a Pixel 3 phone, the Eyeriss
ASIC and an FPGA. The table ships in data/hwnasbench_edge_latency.csv.gz (provenance in
data/README.md); values are returned exactly as stored, in milliseconds.

Cells are named by the official NB201 arch string, e.g.
    |avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|
(node 1 <- node 0; node 2 <- nodes 0, 1; node 3 <- nodes 0, 1, 2), or by the official index 0-15624.
This module works on those strings only; turning a space's decisions into one is the NB201 space's job.
"""

from __future__ import annotations

import csv
import gzip
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

TABLE_PATH = Path(__file__).with_name("data") / "hwnasbench_edge_latency.csv.gz"
DEVICES = ("raspi4", "pixel3", "eyeriss", "fpga")
DEVICE_LABELS = {
    "raspi4": "Raspberry Pi 4 (HW-NAS-Bench)",
    "pixel3": "Google Pixel 3 (HW-NAS-Bench)",
    "eyeriss": "Eyeriss ASIC (HW-NAS-Bench)",
    "fpga": "FPGA (HW-NAS-Bench)",
}
OPERATIONS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
_EDGE = rf"\|(?:{'|'.join(OPERATIONS)})~{{source}}"
ARCH_PATTERN = re.compile(
    _EDGE.format(source=0) + r"\|\+"
    + _EDGE.format(source=0) + _EDGE.format(source=1) + r"\|\+"
    + _EDGE.format(source=0) + _EDGE.format(source=1) + _EDGE.format(source=2) + r"\|"
)
ARCH_EXAMPLE = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"


class UnknownArchitecture(LookupError):
    """The arch string or index is not a NAS-Bench-201 cell of the table."""


class UnknownDevice(LookupError):
    """The device is not one of HW-NAS-Bench's edge devices."""


@dataclass(frozen=True)
class EdgeLatencies:
    index: int
    arch: str
    latency_ms: dict  # device -> milliseconds

    def on(self, device: str) -> float:
        check_device(device)
        return self.latency_ms[device]


def check_device(device: str) -> None:
    if device not in DEVICES:
        raise UnknownDevice(f"unknown HW-NAS-Bench device {device!r}; choose one of {list(DEVICES)}")


@lru_cache(maxsize=1)
def _table() -> tuple[tuple[EdgeLatencies, ...], dict[str, EdgeLatencies]]:
    """All rows by index and by arch string, read once per process (about 0.1 s)."""
    with gzip.open(TABLE_PATH, "rt", newline="") as handle:
        rows = tuple(
            EdgeLatencies(int(row["index"]), row["arch"],
                          {device: float(row[f"{device}_latency_ms"]) for device in DEVICES})
            for row in csv.DictReader(handle)
        )
    if [row.index for row in rows] != list(range(len(rows))):
        raise RuntimeError(f"{TABLE_PATH.name}: rows are not indexed 0..{len(rows) - 1} in order")
    return rows, {row.arch: row for row in rows}


def cell_count() -> int:
    return len(_table()[0])


def is_arch_string(arch: str) -> bool:
    return isinstance(arch, str) and ARCH_PATTERN.fullmatch(arch.strip()) is not None


def lookup_arch(arch: str) -> EdgeLatencies:
    if not is_arch_string(arch):
        raise UnknownArchitecture(
            f"{arch!r} is not a NAS-Bench-201 arch string; expected {ARCH_EXAMPLE} with op one of {list(OPERATIONS)}")
    row = _table()[1].get(arch.strip())
    if row is None:  # well-formed but absent: only possible with a damaged table
        raise UnknownArchitecture(f"{arch!r} is not in the HW-NAS-Bench table")
    return row


def lookup_index(index: int) -> EdgeLatencies:
    rows = _table()[0]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(rows):
        raise UnknownArchitecture(f"NAS-Bench-201 index must be a whole number 0-{len(rows) - 1}, got {index!r}")
    return rows[index]


def latency_ms(device: str, arch: str | None = None, index: int | None = None) -> float:
    """The table's latency on `device` of the cell given by exactly one of arch string or index."""
    check_device(device)
    if (arch is None) == (index is None):
        raise ValueError("give exactly one of arch (an NB201 arch string) or index")
    row = lookup_arch(arch) if arch is not None else lookup_index(index)
    return row.on(device)
