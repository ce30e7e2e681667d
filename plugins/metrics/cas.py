"""The ``cas`` metric: Classification Accuracy Score (Ravuri & Vinyals, 2019).

A classifier is trained only on generated samples, labelled with the classes
they were generated for, and tested on the real test split. A generator
whose samples carry the features of their class, for every class and in all
their variety, scores close to a classifier trained on real data; one that
drops modes or ignores its labels scores low. It needs a class-conditional
generator (``samples.conditional``).

Values:

- ``cas``: accuracy on the real test split (higher is better).
- ``cas_worst_class``: the lowest per-class accuracy on that split, which
  exposes a class the generator cannot draw.

The classifier (``small-cnn`` by default) trains with the core's fixed-budget
trainer (:mod:`ganzoo.evaluation.classify`): ``epochs`` passes over the
``context.num_samples`` generated samples, Adam with a cosine schedule,
seeded by ``context.seed``. ``ganzoo augment``'s synthetic-only setting is the
same measurement with a step budget shared by its other settings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch

import ganzoo
from ganzoo import (CLASSIFIERS, EvalContext, GanzooError, Metric, MetricResult, SampleSource, TrainingBudget,
                    check_classifiable, class_correct_counts, train_classifier, unknown_choice)


class ClassificationAccuracyScore(Metric):
    """Accuracy on real test data of a classifier trained only on generated samples.

    Args:
        classifier: a name from :data:`ganzoo.CLASSIFIERS`.
        epochs: passes over the generated samples.
        batch_size: the classifier's training batch size.
        learning_rate: Adam's initial learning rate.
    """

    name = "cas"
    description = "Classification Accuracy Score: a classifier trained on generated samples, tested on real data"
    primary = "cas"
    higher_is_better = True

    def __init__(self, classifier: str = "small-cnn", epochs: float = 10, batch_size: int = 128,
                 learning_rate: float = 1e-3) -> None:
        self.classifier = classifier
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate

    def check(self, context: EvalContext) -> None:
        if self.classifier not in CLASSIFIERS:
            raise unknown_choice("classifier", self.classifier, CLASSIFIERS, "for metric 'cas'")
        check_classifiable(context.spec, f"metric 'cas' on dataset '{context.dataset.name}'")

    def compute(self, samples: SampleSource, context: EvalContext) -> MetricResult:
        self.check(context)
        if not samples.conditional:
            raise GanzooError("metric 'cas' needs a class-conditional generator (e.g. --arch cmlp or cdcgan): "
                              "it trains a classifier on samples labelled with their requested classes")
        chunks = list(samples.labeled_batches(context.num_samples, context.batch_size))
        images = torch.cat([batch for batch, _ in chunks])
        labels = torch.cat([requested for _, requested in chunks]).long()
        budget = TrainingBudget(steps=max(1, math.ceil(self.epochs * len(images) / self.batch_size)),
                                batch_size=self.batch_size, learning_rate=self.learning_rate)
        start = time.perf_counter()
        net = train_classifier(self.classifier, context.spec, images, labels, budget, context.seed, context.device)
        seconds = time.perf_counter() - start
        test = context.split_data("test")
        correct, total = class_correct_counts(net, test, context.batch_size, context.device, context.spec.num_classes)
        per_class = correct.double() / total.clamp(min=1).double()
        values = {
            "cas": float(correct.sum()) / max(int(total.sum()), 1),
            "cas_worst_class": float(per_class[total > 0].min()) if bool((total > 0).any()) else 0.0,
        }
        protocol = {
            "classifier": self.classifier,
            "epochs": self.epochs,
            **budget.to_json(),
            "seed": context.seed,
            "train_samples": len(images),
            "train_labels": "requested classes, balanced (sample i of class i % num_classes)",
            "test_split": "test",
            "test_size": int(total.sum()),
            "per_class_accuracy": [round(float(value), 6) for value in per_class],
            "train_seconds": round(seconds, 1),
        }
        return MetricResult(values, protocol)


@ganzoo.hookimpl
def register_metrics(register: Callable[[Metric], None]) -> None:
    """Register ``cas``."""
    register(ClassificationAccuracyScore())
