"""Wall-clock time of a FID of N generated samples through ganzoo's ``fid`` metric, with a stand-in extractor.

The stand-in is torchvision's Inception-v3 with random weights (the same
layers, input size 299 and 2048 pooled features as the FID network, so the
same FLOPs), registered with torch-fidelity and chosen through
``$GANZOO_FEATURE_EXTRACTOR``: no weights download, so it runs offline. The
reference set is N random images of CIFAR-10's shape held in memory, and the
generator is a freshly built ``dcgan``. The time covers what ``ganzoo eval``
does: generating the samples, extracting both sets' features (the reference
once, uncached) and the Frechet distance. The value of the FID is
meaningless; its time is the point.

    python benchmarks/fid_timing.py --device cuda --num-samples 10000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torch_fidelity
import torchvision
from torch_fidelity.feature_extractor_base import FeatureExtractorBase

import ganzoo
from ganzoo.registry import load_registry

STAND_IN = "ganzoo-random-inception-v3"


class RandomInception(FeatureExtractorBase):
    """Inception-v3 with random weights: FID-sized features ('2048') at the FID network's cost."""

    def __init__(self, name, features_list, **kwargs):
        super().__init__(name, features_list)
        torch.manual_seed(0)
        self.net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True).eval()
        self.net.fc = torch.nn.Identity()

    @staticmethod
    def get_provided_features_list():
        return ("2048",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return "2048"

    def forward(self, x):
        x = F.interpolate(x.float() / 127.5 - 1, size=(299, 299), mode="bilinear", align_corners=False)
        return (self.net(x),)


class RandomImages(ganzoo.Dataset):
    """N random images of CIFAR-10's shape, as the reference split."""

    name = "random-cifar-shaped"
    description = "random 32 px colour images"
    spec = ganzoo.DataSpec((3, 32, 32))

    def __init__(self, count: int) -> None:
        self.images = torch.rand(count, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1

    def load(self, root, train=True, download=True, **options):
        return ganzoo.InMemoryDataset(self.images)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-samples", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch_fidelity.register_feature_extractor(STAND_IN, RandomInception)
    os.environ["GANZOO_FEATURE_EXTRACTOR"] = STAND_IN
    registry = load_registry()
    metric, architecture = registry.metric("fid"), registry.architecture("dcgan")
    dataset = RandomImages(args.num_samples)
    generator, _ = architecture.build(dataset.spec, 100, **architecture.options)
    with tempfile.TemporaryDirectory() as cache:
        context = ganzoo.EvalContext(dataset=dataset, spec=dataset.spec, data_root=cache, num_samples=args.num_samples,
                                     batch_size=args.batch_size, cache_dir=Path(cache), download=False, device=device)
        samples = ganzoo.GeneratorSamples(generator.to(device).eval(), 100, dataset.spec, device, seed=0)
        metric.check(context)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        result = metric.compute(samples, context)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"fid of {args.num_samples} samples (stand-in Inception-v3, reference {args.num_samples} images, "
          f"uncached) on {name}: {seconds:.1f} s (fid value {result.values['fid']:.1f}, meaningless)")


if __name__ == "__main__":
    main()
