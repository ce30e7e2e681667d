"""The adversarial training loop and a run's lifecycle.

``assembly`` turns a config into components and data, ``batches`` draws the
seeded batch stream, ``trainer`` holds one step (n_critic D updates, one G
update), ``fastpath`` the speed levers, ``divergence`` and ``recovery`` the
NaN watch and rollback, ``runner`` (with its helpers) the run directory,
logging, checkpoints, resume and signals. May import everything below it:
evaluation, distributed, storage, the registry, compute and the contract.
"""
