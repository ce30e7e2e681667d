"""Where and in what number format tensors are computed.

``devices`` turns ``--device`` into a ``torch.device``; ``precision`` owns
``--precision`` (the ``auto`` rule, autocast, fp16 loss scaling). Used by
training, sampling and the run config; imports only ``ganzoo.errors`` and the
contract.
"""
