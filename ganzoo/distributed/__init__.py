"""Several processes training one model under torchrun.

The ``World`` (process group, device per rank, DDP wrapping and the
collectives the loop needs), the agreed decisions and replica digests of
multi-process runs, and ``CpuSyncBatchNorm`` for gloo. Sits beside evaluation:
may import compute and ``ganzoo.errors``; knows nothing of the training loop,
which imports it.
"""
