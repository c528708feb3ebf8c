"""FSDP2 (``--fsdp``): the policy sharded over ``torchrun``'s processes; its sharded checkpoints.

:func:`shard` applies :func:`torch.distributed.fsdp.fully_shard` to every transformer block (the
module classes a transformers model names in ``_no_split_modules``: GPT-2's ``GPT2Block``,
Llama's ``LlamaDecoderLayer``, Qwen2's ``Qwen2DecoderLayer``, GPT-NeoX's ``GPTNeoXLayer``), then
to the :class:`~llm.engine.scoring.SequenceScorer` around the model, the module that gets the
forward (the embeddings, the final norm and the LM head are in that root group). Each rank holds
1/N of the parameters, gradients and AdamW moments; a block's parameters are gathered for its
forward and backward only. On CUDA the gathered parameters are bf16 and gradients are reduced in
float32 (``MixedPrecisionPolicy``); on the CPU everything stays float32, so an FSDP run's losses
match a DDP run's to float32 rounding (``tests/llm/test_fsdp.py``). Every rank takes its
contiguous slice of each global batch, as with DDP (:meth:`llm.engine.distributed.World.shard`).

π_ref needs nothing here: its log-probs are data computed once before the preference stage
(:mod:`llm.engine.reference`), by the sharded policy itself when the stage starts (every rank
scores the same batches, so the collectives stay in step), or, when a run resumes within the
stage, by π_ref loaded again, unsharded on each rank, and freed after.

A checkpoint (:func:`save_sharded_checkpoint`) is written with ``torch.distributed.checkpoint``
(DCP): every rank writes its shard of the model and of AdamW's state (tensors only) into
``checkpoint.tmp``; the main process adds ``state.pt`` (AdamW's hyper-parameters, the scheduler,
RNG, stage, step and world size: plain data), then the manifest, and renames the folder into
place as :mod:`llm.engine.checkpoint` does for every saved folder, the previous checkpoint kept as
the fallback. DCP's own loading unpickles whatever a checkpoint holds (``pickle.load`` of
``.metadata``, an unrestricted ``torch.load`` of non-tensor items), so
:func:`load_sharded_state` reads through :class:`SafeReader`, whose unpickler admits DCP's
metadata classes only, and :class:`TensorsOnly`, which refuses non-tensor items: a run folder
someone hands over cannot run code. A resume needs the world size the checkpoint was written
with. The trained model is saved whole, as a ``save_pretrained`` folder (:func:`full_weights`).
"""

from __future__ import annotations

import contextlib
import io
import pickle
from pathlib import Path
from typing import Any

import torch
import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint import FileSystemReader
from torch.distributed.checkpoint.default_planner import DefaultLoadPlanner
from torch.distributed.checkpoint.metadata import StorageMeta
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_state_dict,
)
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor

from .distributed import World

SHARD_METADATA = ".metadata"
"""DCP's index of a sharded checkpoint's files (a pickle, read by :class:`SafeReader`)."""


def blocks(model: nn.Module) -> list[nn.Module]:
    """The transformer blocks of ``model``: the modules whose class it names in
    ``_no_split_modules`` (transformers' list of what must stay on one device)."""
    names = set(getattr(model, "_no_split_modules", None) or ())
    found = [m for m in model.modules() if type(m).__name__ in names]
    if not found:
        raise ValueError(f"{type(model).__name__} names no transformer block class in "
                         "_no_split_modules; --fsdp cannot find its blocks")
    return found


def shard(scorer: nn.Module, world: World) -> nn.Module:
    """``scorer`` sharded in place with FSDP2 over ``world`` (each block, then the scorer as the
    root); a scorer already sharded (by an earlier stage) is returned as it is."""
    if isinstance(scorer, FSDPModule):
        return scorer
    mesh = init_device_mesh(world.device.type, (world.size,))
    if world.device.type == "cuda":
        policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    else:
        policy = MixedPrecisionPolicy()
    for block in blocks(scorer.model):
        fully_shard(block, mesh=mesh, mp_policy=policy)
    # the root too frees its gathered parameters after each forward (FSDP2 keeps them by
    # default until the backward, which a no_grad evaluation never runs: they would stay whole)
    fully_shard(scorer, mesh=mesh, mp_policy=policy, reshard_after_forward=True)
    return scorer


def is_sharded(module: nn.Module) -> bool:
    return isinstance(module, FSDPModule)


def gradient_sync(trained: nn.Module, world: World, last: bool) -> Any:
    """The context of a micro-batch's backward: gradients are reduced over the ranks only after
    the last one (DDP's ``no_sync``; FSDP2's ``set_requires_gradient_sync``)."""
    if isinstance(trained, FSDPModule):
        trained.set_requires_gradient_sync(last)
        return contextlib.nullcontext()
    return trained.no_sync() if world.distributed and not last else contextlib.nullcontext()


def as_float(value: torch.Tensor) -> float:
    """A scalar as a float; a DTensor (FSDP2's gradient norm) is reduced over the ranks first."""
    return float(value.full_tensor() if isinstance(value, DTensor) else value)


def full_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The whole state dict of a sharded ``model``, gathered on the CPU of the main process (an
    empty dict elsewhere); every rank must call it."""
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True,
                                                                cpu_offload=True))


def save_shards(model: nn.Module, optimizer: torch.optim.Optimizer, folder: Path
                ) -> list[dict[str, Any]]:
    """Write this rank's shard of the model's and the optimizer's tensors into ``folder`` with
    DCP (every rank calls it); return the optimizer's hyper-parameters (``param_groups``), which
    are not tensors and go into ``state.pt``."""
    weights, optim = get_state_dict(model, optimizer)
    dcp.save({"model": weights, "optimizer": optim["state"]}, checkpoint_id=folder)
    return optim["param_groups"]


def load_sharded_state(model: nn.Module, optimizer: torch.optim.Optimizer, folder: Path,
                       param_groups: list[dict[str, Any]]) -> None:
    """Load the sharded checkpoint in ``folder`` into ``model`` and ``optimizer`` (every rank),
    reading tensors only (:class:`SafeReader`, :class:`TensorsOnly`)."""
    weights, optim = get_state_dict(model, optimizer)  # the shapes to read into
    state = {"model": weights, "optimizer": optim["state"]}
    dcp.load(state, storage_reader=SafeReader(folder), planner=TensorsOnly())
    set_state_dict(model, optimizer, model_state_dict=state["model"],
                   optim_state_dict={"state": state["optimizer"], "param_groups": param_groups})


_METADATA_CLASSES = {
    "torch.distributed.checkpoint.metadata": {
        "Metadata", "TensorStorageMetadata", "TensorProperties", "ChunkStorageMetadata",
        "MetadataIndex", "StorageMeta", "_MEM_FORMAT_ENCODING"},
    "torch.distributed.checkpoint.filesystem": {"_StorageInfo"},
    "torch.serialization": {"_get_layout"},
    "torch": {"Size"},
    # the checkpoint's path (DCP keeps a Path whatever it is given); Python 3.13 moved the class
    "pathlib": {"PosixPath", "WindowsPath"},
    "pathlib._local": {"PosixPath", "WindowsPath"},
}
"""What DCP's ``.metadata`` pickle may name (besides torch's dtypes): plain records."""


def read_shard_metadata(folder: Path) -> Any:
    """DCP's metadata of the checkpoint in ``folder``, read as plain records (:class:`SafeReader`);
    anything else raises ``pickle.UnpicklingError``."""
    return SafeReader(folder).read_metadata()


class _MetadataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if name in _METADATA_CLASSES.get(module, ()) or (
                module == "torch" and isinstance(getattr(torch, name, None), torch.dtype)):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not checkpoint metadata")


class SafeReader(FileSystemReader):
    """DCP's file reader with a ``.metadata`` unpickler that admits DCP's record classes only,
    and shard files that must lie in the checkpoint folder itself."""

    def read_metadata(self, *args: Any, **kwargs: Any) -> Any:
        with open(Path(self.path) / SHARD_METADATA, "rb") as handle:
            metadata = _MetadataUnpickler(io.BytesIO(handle.read())).load()
        for item in (metadata.storage_data or {}).values():
            if Path(item.relative_path).name != item.relative_path:
                raise pickle.UnpicklingError(f"shard file {item.relative_path!r} is outside "
                                             "the checkpoint")
        metadata.storage_meta = metadata.storage_meta or StorageMeta()
        metadata.storage_meta.load_id = self.load_id
        return metadata


class TensorsOnly(DefaultLoadPlanner):
    """DCP's load planner, refusing the non-tensor items it would ``torch.load`` unrestricted."""

    def load_bytes(self, read_item: Any, value: io.BytesIO) -> None:
        raise pickle.UnpicklingError(f"{read_item.dest_index.fqn} is not a tensor")
