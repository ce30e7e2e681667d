"""What a run leaves on disk, and checks before anything is written.

Atomic writes (``atomic``), default locations (``paths``), safetensors
checkpoints (``checkpoint``), the run directory's layout (``rundir``), the run
configuration and its precedence rules (``config``) and the preflight checks of
a build, memory and an output location (``preflight``). May import the
contract, ``compute`` and ``ganzoo.errors``; never training or evaluation.
"""
