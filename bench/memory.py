"""What a training process holds: the bytes of its weights, gradients and optimizer state (the
benchmarks' ``state_mib``; ``bench_lora_memory.py`` and ``bench_fsdp.py`` count them one way)."""

from __future__ import annotations

import torch


def held_bytes(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Bytes of weights, gradients and AdamW moments this process holds (its local shards)."""
    from torch.distributed.tensor import DTensor

    def local(t: torch.Tensor) -> torch.Tensor:
        return t.to_local() if isinstance(t, DTensor) else t

    tensors = [t for p in model.parameters() for t in (p, p.grad) if t is not None]
    tensors += [t for moments in optimizer.state.values() for t in moments.values()
                if torch.is_tensor(t) and t.dim() > 0]
    return sum(local(t).numel() * local(t).element_size() for t in tensors)
