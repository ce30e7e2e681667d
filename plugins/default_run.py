"""The run ``ganzoo run`` trains with no options: DCGAN + BCE on the embedded digits.

It needs no data directory and no network (``mnist-mini`` ships with ganzoo),
and on 2 CPU cores it writes grids of recognisable digits in about two
minutes: 1,000 generator steps at batch 64 (about 13 passes over the 5,000
training digits), a grid every 250 steps. docs/user-guide.md (Data) documents it.
"""

from __future__ import annotations

import ganzoo

DEFAULT_RUN = {"arch": "dcgan", "loss": "bce", "data": "mnist-mini", "steps": 1000, "sample_every": 250}


@ganzoo.hookimpl(trylast=True)  # any installed plugin that answers comes first
def default_run():
    return dict(DEFAULT_RUN)
