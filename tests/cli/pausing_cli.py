"""The ganzoo CLI with one checkpoint write that stops half-way, so a test can kill -9 it mid-write.

``python -m tests.cli.pausing_cli run ...`` behaves like ``ganzoo run ...`` except
that the ``$GANZOO_TEST_PAUSE_AT``-th safetensors file it saves is cut to half
its bytes (as if the process died while writing it), its name is written to
``$GANZOO_TEST_PAUSED``, and the process sleeps until it is killed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import ganzoo.storage.checkpoint
from ganzoo.cli import main

_real_save_file = ganzoo.storage.checkpoint.save_file
_pause_at = int(os.environ["GANZOO_TEST_PAUSE_AT"])
_saved = 0


def _pausing_save_file(tensors, filename, metadata=None):
    global _saved
    _real_save_file(tensors, filename, metadata=metadata)
    _saved += 1
    if _saved == _pause_at:
        data = Path(filename).read_bytes()
        Path(filename).write_bytes(data[: len(data) // 2])
        Path(os.environ["GANZOO_TEST_PAUSED"]).write_text(str(filename))
        time.sleep(600)


ganzoo.storage.checkpoint.save_file = _pausing_save_file
main()
