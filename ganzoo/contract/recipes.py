"""The recipe contract: a named, versioned configuration that reproduces a published setup.

A recipe is data, not code: the paper it reproduces, the reference
implementation whose hyper-parameters it follows, the published figure with
its protocol, ganzoo's own measured figure where one exists, and the
``ganzoo run`` options it sets. ``ganzoo run --recipe NAME`` starts from those
options; any option the user gives on the command line overrides the
recipe's, and config.json records the recipe and every value it set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Recipe:
    """A published training setup that ``ganzoo run --recipe NAME`` reproduces.

    Attributes:
        name: the kebab-case name users pass to ``--recipe``, usually
            ``MODEL-DATA`` (``sngan-cifar10``).
        description: one line shown by ``ganzoo recipes`` and ``list-plugins``.
        paper: the paper the setup comes from, as "Authors Year, Title".
        reference: the reference implementation whose hyper-parameters the
            settings follow (repository and file, or the paper's section).
        settings: ``ganzoo run`` options as :class:`~ganzoo.storage.config.RunConfig`
            field names (``arch``, ``loss``, ``data``, ``steps``,
            ``batch_size``, ``lr_g``, ``betas`` as a pair, ``regularizers``
            and ``augmentations`` as lists of ``--reg``/``--augment``
            specifications, ``arch_options`` as a mapping, ...). They must
            name an architecture, a loss and a dataset.
        published: the published figure and its protocol, e.g. ``"FID 21.7
            (Miyato et al. 2018, Table 2: 10k samples vs test)"``; empty if none.
        measured: ganzoo's own figure for this recipe and how it was measured
            (machine, budget, metric); empty until someone measures it.
        version: bumped whenever ``settings`` change, so a recorded run says
            which version of the recipe it used.
    """

    name: str
    description: str
    paper: str
    reference: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    published: str = ""
    measured: str = ""
    version: int = 1

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "paper": self.paper,
            "reference": self.reference,
            "published": self.published,
            "measured": self.measured,
            "settings": {key: _jsonable(value) for key, value in self.settings.items()},
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    return value
