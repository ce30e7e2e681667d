"""``ganzoo bench``: a sweep of runs over arch x loss x data x seed.

Planning the cells, running each as a ``ganzoo run`` child process (one per
GPU or group of GPUs), resuming, and writing results.json/csv, report.md and
plots. May import training (exit codes), storage, the registry and below;
never the CLI.
"""
