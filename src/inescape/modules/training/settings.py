"""Settings of training (``INESCAPE_TRAINING_*``)."""

from __future__ import annotations

import msgspec


class TrainingSettings(msgspec.Struct, kw_only=True):
    # Lightning's Trainer: "auto" trains on a GPU when the worker has one, else on the CPU.
    accelerator: str = "auto"
    devices: str = "1"  # a count, "auto", or a list such as "0,1"
    # "auto" (one device), or "ddp", "fsdp", "deepspeed"... for several GPUs or nodes
    strategy: str = "auto"
    num_nodes: int = 1
    # promotion gate: the largest mean |predicted - observed| survival at 1 and 3 years
    calibration_tolerance: float = 0.05
    max_epochs: int = 300  # the most any run may ask for
