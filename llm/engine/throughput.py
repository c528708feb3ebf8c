"""Throughput of training steps: tokens per second, padding, and model-FLOPs utilisation (MFU).

MFU follows the usual convention (PaLM, nanoGPT): a step over D real tokens of a model with N
parameters counts 6·N·D floating-point operations (forward 2N, backward 4N per token; attention's
own term left out), and MFU is that rate over the device's peak dense bf16 rate. The trainer
applies the LM head only at response positions, so its preference step does less work than the
count says; MFU compares steps on the same tokens, it is not a measure of the hardware's work.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

PEAK_BF16_FLOPS: dict[str, float] = {"H100": 989e12, "H200": 989e12, "H800": 989e12,
                                     "A100": 312e12, "A800": 312e12, "L40S": 362e12}
"""Peak dense bf16 tensor-core rates by device name (vendor datasheets, SXM parts)."""


def peak_flops(device: torch.device) -> float | None:
    """The peak dense bf16 rate of a CUDA ``device``, or None when unknown (or the CPU)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((rate for key, rate in PEAK_BF16_FLOPS.items() if key in name), None)


@dataclass
class Throughput:
    """Tokens and padded positions since the last report, and the time they took."""

    params: int
    peak: float | None
    tokens: int = 0
    positions: int = 0
    started: float = field(default_factory=time.perf_counter)

    def add(self, tokens: int, positions: int) -> None:
        self.tokens += tokens
        self.positions += positions

    def report(self) -> dict[str, float]:
        """``tokens_per_s``, ``padding`` (share of positions that were padding) and, on a known
        CUDA device, ``mfu``; then start a new window."""
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        rate = self.tokens / elapsed
        out = {"tokens_per_s": rate, "padding": 1.0 - self.tokens / max(self.positions, 1)}
        if self.peak is not None:
            out["mfu"] = 6.0 * self.params * rate / self.peak
        self.tokens, self.positions, self.started = 0, 0, time.perf_counter()
        return out
