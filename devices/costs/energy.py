"""Energy per multiply-accumulate (MAC), per arithmetic and per device: estimates, not measurements.

Source: M. Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014,
keynote table of operation energies at 45 nm, 0.9 V:

    fp32  multiply 3.7 pJ, add 0.9 pJ   -> 4.6 pJ per MAC
    fp16  multiply 1.1 pJ, add 0.4 pJ   -> 1.5 pJ per MAC
    int32 multiply 3.1 pJ, add 0.1 pJ   -> 3.2 pJ per MAC
    int8  multiply 0.2 pJ, add 0.03 pJ  -> 0.23 pJ per MAC

int16 is not in that table. We interpolate the multiplier, whose energy grows roughly with the
square of its width: 0.2 pJ x (16/8)^2 = 0.8 pJ (and 3.1 pJ x (16/32)^2 = 0.78 pJ from above agrees),
plus Horowitz's 16-bit add, 0.05 pJ -> 0.85 pJ per MAC. This one is our derivation, not a published figure.

What these numbers leave out, and why the result is a lower bound: they are arithmetic only, at one
45 nm process. Moving data costs far more (Horowitz: 5 pJ to read 64 bits from an 8 KB SRAM,
1.3-2.6 nJ from DRAM), and newer processes are cheaper per operation. Use the estimate to rank
architectures on one device, never as an absolute battery figure.
"""

from __future__ import annotations

PICOJOULES_PER_MAC: dict[str, float] = {
    "fp32": 3.7 + 0.9,
    "fp16": 1.1 + 0.4,
    "int32": 3.1 + 0.1,
    "int16": 0.8 + 0.05,  # interpolated, see the module docstring
    "int8": 0.2 + 0.03,
}

# The arithmetic each device is assumed to run. Our measured targets run PyTorch / ONNX Runtime
# in fp32. Eyeriss computes in 16-bit fixed point (Chen et al., JSSC 2017); for the FPGA of
# HW-NAS-Bench we assume 16-bit fixed point too. The phone and the Raspberry Pi are assumed fp32.
DEVICE_ARITHMETIC: dict[str, str] = {
    "cpu": "fp32",
    "gpu": "fp32",
    "raspi4": "fp32",
    "pixel3": "fp32",
    "eyeriss": "int16",
    "fpga": "int16",
}

PICOJOULES_PER_MILLIJOULE = 1e9


def picojoules_per_mac(arithmetic: str) -> float:
    if arithmetic not in PICOJOULES_PER_MAC:
        raise ValueError(f"unknown arithmetic {arithmetic!r}; choose one of {sorted(PICOJOULES_PER_MAC)}")
    return PICOJOULES_PER_MAC[arithmetic]


def arithmetic_of_device(device: str) -> str:
    if device not in DEVICE_ARITHMETIC:
        raise ValueError(f"no energy profile for device {device!r}; choose one of {sorted(DEVICE_ARITHMETIC)}")
    return DEVICE_ARITHMETIC[device]


def energy_mj(macs: int, arithmetic: str = "fp32") -> float:
    """Compute energy of `macs` multiply-accumulates in millijoules (an estimate, see above)."""
    return macs * picojoules_per_mac(arithmetic) / PICOJOULES_PER_MILLIJOULE
