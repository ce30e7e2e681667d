"""Tests for the dataset plugins: MNIST/CIFAR-10 on the real data, image folders, the 2-D toys.

The real data comes from the ``full_data_root`` fixture (``$GANZOO_TEST_DATA``, else
``../shared/data``; see ``shared/README.md``); the tests of the real files skip when it
is absent (tests/conftest.py).
Nothing here needs the network.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
import torch
from PIL import Image

from ganzoo import DataSpec, Dataset, GanzooError, InMemoryDataset
from ganzoo_plugins.datasets import folder, toy_mixtures, torchvision_sets
from tests.conftest import REPO


@pytest.fixture
def mnist_root(full_data_root: Path) -> Path:
    """The real data root, once it holds MNIST's idx files (``data_root`` checks only for ``MNIST/raw``)."""
    data_root = full_data_root
    raw = data_root / "MNIST" / "raw"
    if not (raw / "t10k-images-idx3-ubyte").is_file():
        pytest.skip(f"real MNIST not found in {raw}")
    return data_root


@pytest.fixture
def cifar_root(data_root: Path) -> Path:
    """The real data root, once it holds the CIFAR-10 image folders."""
    if not (data_root / "cifar10" / "test").is_dir():
        pytest.skip(f"real CIFAR-10 image folders not found in {data_root / 'cifar10'}")
    return data_root


def registered(module) -> dict[str, Dataset]:
    """The datasets a plugin module registers, by name, obtained through its hook."""
    found: list[Dataset] = []
    module.register_datasets(register=found.append)
    return {dataset.name: dataset for dataset in found}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch) -> Path:
    """Every test gets an empty decode cache, so none depends on an earlier run."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GANZOO_CACHE", str(cache))
    return cache


def write_image(path: Path, pixels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8)).save(path)


def solid(height: int, width: int, rgb: tuple[int, int, int]) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, dtype=np.uint8), (height, width, 3)).copy()


def read_idx(path: Path, header: int) -> np.ndarray:
    """An idx file's payload, read without torchvision."""
    return np.frombuffer(path.read_bytes()[header:], dtype=np.uint8)


def test_each_module_registers_its_datasets():
    assert set(registered(torchvision_sets)) == {"mnist", "cifar10"}
    assert set(registered(folder)) == {"folder"}
    assert set(registered(toy_mixtures)) == {"ring8", "grid25"}
    for module in (torchvision_sets, folder, toy_mixtures):
        for dataset in registered(module).values():
            assert isinstance(dataset, Dataset)
            assert dataset.description and "\n" not in dataset.description


# --- where the real data comes from ---------------------------------------------------

# A pytest plugin for a child run: it notes every file opened under $OPENS_UNDER
# (Python's "open" audit event), to show which copy of the data the tests read.
RECORD_OPENS = """
import json, os, sys

PREFIXES = tuple(os.environ["OPENS_UNDER"].split(os.pathsep))
OPENED = []


def _note(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(os.fspath(args[0]))
        if path.startswith(PREFIXES):
            OPENED.append(path)


sys.addaudithook(_note)


def pytest_sessionfinish(session):
    with open(os.environ["OPENED_LOG"], "w") as log:
        json.dump(OPENED, log)
"""


def test_real_data_tests_read_ganzoo_test_data(cifar_root, tmp_path):
    """Two real-data tests, run against another copy named by GANZOO_TEST_DATA, look only there."""
    other = tmp_path / "other-copy"
    (other / "MNIST" / "raw").mkdir(parents=True)  # without idx files: the MNIST test must skip
    (other / "cifar10").mkdir()
    (other / "cifar10" / "test").symlink_to((cifar_root / "cifar10" / "test").resolve(), target_is_directory=True)
    (tmp_path / "record_opens.py").write_text(RECORD_OPENS)
    report, opened_log = tmp_path / "report.xml", tmp_path / "opened.json"
    env = {
        **os.environ,
        "GANZOO_TEST_DATA": str(other),
        "OPENS_UNDER": os.pathsep.join([str(other), str(cifar_root), str(cifar_root.resolve())]),
        "OPENED_LOG": str(opened_log),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
    }
    mnist_test, folder_test = "test_mnist_reads_the_real_files_exactly", "test_folder_reads_the_real_cifar_test_images"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "record_opens",
         f"--junitxml={report}", __file__, "-k", f"{mnist_test} or {folder_test}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    cases = {case.get("name"): case for case in ElementTree.parse(report).iter("testcase")}
    assert set(cases) == {mnist_test, folder_test}
    skipped = cases[mnist_test].find("skipped")
    assert skipped is not None and str(other / "MNIST" / "raw") in skipped.get("message"), result.stdout
    assert not [child.tag for child in cases[folder_test]], result.stdout  # passed
    opened = json.loads(opened_log.read_text())
    assert opened and all(path.startswith(str(other)) for path in opened), opened


# --- MNIST --------------------------------------------------------------------


def test_mnist_reads_the_real_files_exactly(mnist_root):
    mnist_raw = mnist_root / "MNIST" / "raw"
    mnist = registered(torchvision_sets)["mnist"]
    test = mnist.load(str(mnist_root), train=False, download=False)
    assert isinstance(test, InMemoryDataset) and len(test) == 10000
    images, labels = test.batch(torch.arange(len(test)))
    assert images.shape == (10000, 1, 28, 28) and images.dtype == torch.float32
    # The same pixels and labels as the idx files, decoded here without torchvision.
    raw = read_idx(mnist_raw / "t10k-images-idx3-ubyte", 16).reshape(10000, 1, 28, 28)
    expected = torch.from_numpy(raw.astype(np.float32)) / 127.5 - 1
    assert torch.allclose(images, expected, atol=1e-6)
    assert labels.tolist() == read_idx(mnist_raw / "t10k-labels-idx1-ubyte", 8).tolist()
    sample, label = test[0]
    assert label == 7 and sample.shape == (1, 28, 28)

    train = mnist.load(str(mnist_root), train=True, download=False)
    assert len(train) == 60000 and train[0][1] == 5
    images, labels = train.batch(torch.arange(len(train)))
    assert images.min() == -1.0 and images.max() == 1.0
    assert sorted(labels.unique().tolist()) == list(range(10))
    # The well-known MNIST train pixel mean 0.1307 (on [0, 1]), mapped to [-1, 1].
    assert images.mean().item() == pytest.approx(2 * 0.1307 - 1, abs=2e-4)


def test_mnist_missing_names_the_directory(tmp_path):
    mnist = registered(torchvision_sets)["mnist"]
    with pytest.raises(GanzooError) as caught:
        mnist.load(str(tmp_path), train=True, download=False)
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte" in message and "--data-root" in message and "GANZOO_DATA" in message
    assert not (tmp_path / "MNIST").exists()


def _offline() -> bool:
    try:
        socket.getaddrinfo("ossci-datasets.s3.amazonaws.com", 443)
    except OSError:
        return True
    return False


@pytest.mark.skipif(
    not _offline(),
    reason="the MNIST mirror resolves: this checks the offline failure and would start a real download",
)
def test_mnist_failed_download_is_one_clean_line(tmp_path):
    root = tmp_path / "data"
    mnist = registered(torchvision_sets)["mnist"]
    started = time.perf_counter()
    with pytest.raises(GanzooError) as caught:
        mnist.load(str(root), train=False, download=True)
    assert time.perf_counter() - started < 20
    message = str(caught.value)
    assert "\n" not in message and "download failed" in message
    assert str(root / "MNIST" / "raw") in message
    assert not root.exists()  # the empty directories torchvision made are gone


def test_cifar10_missing_names_both_sources(tmp_path):
    cifar = registered(torchvision_sets)["cifar10"]
    with pytest.raises(GanzooError) as caught:
        cifar.load(str(tmp_path), train=False, download=False)
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path / "cifar10" / "test") in message and "cifar-10-batches-py" in message
    assert "--data-root" in message and "GANZOO_DATA" in message


# --- CIFAR-10 from an image folder ---------------------------------------------------


def test_cifar10_real_folder_test_split(cifar_root, private_cache, monkeypatch):
    cifar = registered(torchvision_sets)["cifar10"]
    dataset = cifar.load(str(cifar_root), train=False, download=False)
    assert isinstance(dataset, InMemoryDataset) and len(dataset) == 10000
    assert dataset.samples.shape == (10000, 3, 32, 32) and dataset.samples.dtype == torch.uint8
    assert torch.bincount(dataset.labels).tolist() == [1000] * 10
    images, _ = dataset.batch(torch.arange(0, 10000, 7))
    assert images.min() >= -1 and images.max() <= 1
    # The published CIFAR-10 test channel means; the JPEG copy moves them by < 0.001.
    means = dataset.samples.float().mean(dim=(0, 2, 3)) / 255
    assert means.tolist() == pytest.approx([0.4942, 0.4851, 0.4504], abs=0.002)
    # Labels follow CIFAR-10's class order: item 3000 is the first cat.
    sample, label = dataset[3000]
    assert label == 3 and cifar.spec.class_names[label] == "cat"
    first_cat = min((cifar_root / "cifar10" / "test" / "cat").iterdir())
    with Image.open(first_cat) as image:
        expected = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1).float() / 127.5 - 1
    assert (sample - expected).abs().max() <= 2 / 127.5

    cache_files = list(private_cache.rglob("*.safetensors"))
    assert len(cache_files) == 1 and "test" in cache_files[0].name

    def no_decoding(files):
        raise AssertionError("the second load decoded images instead of reading the cache")

    monkeypatch.setattr(torchvision_sets, "_decode_images", no_decoding)
    started = time.perf_counter()
    again = cifar.load(str(cifar_root), train=False, download=False)
    assert time.perf_counter() - started < 2
    assert torch.equal(again.samples, dataset.samples) and torch.equal(again.labels, dataset.labels)


def make_cifar_tree(root: Path, per_class: int = 2) -> None:
    """A tiny CIFAR-10-shaped image folder: class i's images are solid grey 10 * i."""
    for label, name in enumerate(torchvision_sets.CIFAR10_CLASSES):
        for index in range(per_class):
            write_image(root / "cifar10" / "train" / name / f"{index:04d}.png", solid(32, 32, (10 * label,) * 3))


def test_cifar10_folder_cache_follows_the_folder(tmp_path, private_cache):
    root = tmp_path / "data"
    make_cifar_tree(root)
    cifar = registered(torchvision_sets)["cifar10"]
    first = cifar.load(str(root), train=True, download=False)
    assert len(first) == 20 and first.labels.tolist() == [i // 2 for i in range(20)]
    assert first.samples[:, 0, 0, 0].tolist() == [10 * (i // 2) for i in range(20)]
    assert len(list(private_cache.rglob("*.safetensors"))) == 1
    assert not [path for path in private_cache.rglob("*") if ".tmp" in path.name]

    write_image(root / "cifar10" / "train" / "ship" / "0002.png", solid(32, 32, (7, 7, 7)))
    second = cifar.load(str(root), train=True, download=False)
    assert len(second) == 21 and second[18][1] == 8 and second.samples[18, 0, 0, 0] == 7
    assert torch.bincount(second.labels).tolist() == [2] * 8 + [3, 2]
    assert len(list(private_cache.rglob("*.safetensors"))) == 2
    # Nothing was written into the data root.
    assert sorted(p.name for p in (root / "cifar10" / "train").iterdir()) == sorted(torchvision_sets.CIFAR10_CLASSES)


def test_cifar10_folder_rejects_wrong_classes_and_sizes(tmp_path):
    cifar = registered(torchvision_sets)["cifar10"]
    write_image(tmp_path / "cifar10" / "test" / "cats" / "0.png", solid(32, 32, (0, 0, 0)))
    with pytest.raises(GanzooError, match="must hold exactly the CIFAR-10 class folders"):
        cifar.load(str(tmp_path), train=False, download=False)

    make_cifar_tree(tmp_path, per_class=1)
    write_image(tmp_path / "cifar10" / "train" / "dog" / "big.png", solid(48, 32, (0, 0, 0)))
    with pytest.raises(GanzooError, match=r"big\.png is \(48, 32\) pixels"):
        cifar.load(str(tmp_path), train=True, download=False)
    (tmp_path / "cifar10" / "train" / "dog" / "big.png").unlink()
    (tmp_path / "cifar10" / "train" / "cat" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(GanzooError, match=r"cannot decode image .*broken\.jpg"):
        cifar.load(str(tmp_path), train=True, download=False)


# --- the image-folder dataset --------------------------------------------------------


def make_folder(root: Path) -> None:
    """Two classes of different sizes: 3 solid-red 30x40 images, 2 wide red|green|blue 60x20 ones."""
    for index in range(3):
        write_image(root / "ants" / f"{index}.png", solid(40, 30, (255, 0, 0)))
    bands = np.concatenate([solid(20, 20, (255, 0, 0)), solid(20, 20, (0, 255, 0)), solid(20, 20, (0, 0, 255))], axis=1)
    write_image(root / "bees" / "0.png", bands)
    write_image(root / "bees" / "nested" / "1.jpg", bands)  # class folders are searched recursively
    (root / "bees" / "notes.txt").write_text("not an image")
    write_image(root / ".thumbnails" / "x.png", solid(8, 8, (0, 0, 0)))


def test_folder_resizes_labels_and_converts(tmp_path):
    make_folder(tmp_path)
    dataset_type = registered(folder)["folder"]
    assert dataset_type.spec_for(str(tmp_path), size=16, channels=3) == DataSpec((3, 16, 16), 2, ("ants", "bees"))
    data = dataset_type.load(str(tmp_path), train=True, download=False, size=16, channels=3)
    assert len(data) == 5
    assert [data[i][1] for i in range(5)] == [0, 0, 0, 1, 1]
    ant, _ = data[0]
    assert ant.shape == (3, 16, 16) and ant.dtype == torch.float32
    assert torch.allclose(ant, torch.tensor([1.0, -1.0, -1.0]).view(3, 1, 1).expand(3, 16, 16))
    # 60x20 -> 48x16, centre crop keeps columns 16..31: the green band, blurred only at its edges.
    bee, _ = data[3]
    assert torch.allclose(bee[:, :, 4:12], torch.tensor([-1.0, 1.0, -1.0]).view(3, 1, 1).expand(3, 16, 8), atol=0.02)
    assert bee[:, :, 0].sub(torch.tensor([-1.0, 1.0, -1.0])[:, None]).abs().max() > 0.05  # an edge column

    gray = dataset_type.load(str(tmp_path), train=False, download=False, size=8, channels=1)
    assert len(gray) == 5 and gray[0][0].shape == (1, 8, 8)
    # PIL's luma of pure red: 299/1000 * 255 = 76.
    assert torch.allclose(gray[0][0], torch.full((1, 8, 8), 76 / 127.5 - 1))
    assert dataset_type.spec_for(str(tmp_path), size=8, channels=1).shape == (1, 8, 8)


def test_folder_uses_train_and_test_subfolders(tmp_path):
    make_folder(tmp_path / "train")
    write_image(tmp_path / "test" / "bees" / "0.png", solid(10, 10, (0, 0, 255)))
    dataset_type = registered(folder)["folder"]
    assert dataset_type.spec_for(str(tmp_path)).class_names == ("ants", "bees")
    test = dataset_type.load(str(tmp_path), train=False, download=False, size=4, channels=3)
    assert len(test) == 1 and test[0][1] == 1 and test[0][0].shape == (3, 4, 4)
    assert len(dataset_type.load(str(tmp_path), train=True, download=False, size=4, channels=3)) == 5

    write_image(tmp_path / "test" / "wasps" / "0.png", solid(10, 10, (0, 0, 255)))
    with pytest.raises(GanzooError, match="'wasps'.*not a class of the train split"):
        dataset_type.load(str(tmp_path), train=False, download=False, size=4, channels=3)


def test_folder_reads_the_real_cifar_test_images(cifar_root):
    test_folder = cifar_root / "cifar10" / "test"
    dataset_type = registered(folder)["folder"]
    spec = dataset_type.spec_for(str(test_folder), size=32, channels=3)
    assert spec == DataSpec((3, 32, 32), 10, torchvision_sets.CIFAR10_CLASSES)
    data = dataset_type.load(str(test_folder), train=True, download=False, size=32, channels=3)
    assert len(data) == 10000 and data[9999][1] == 9 and data[9999][0].shape == (3, 32, 32)


def test_folder_errors_are_one_line(tmp_path):
    dataset_type = registered(folder)["folder"]
    missing = tmp_path / "nowhere"
    with pytest.raises(GanzooError, match="does not exist") as caught:
        dataset_type.load(str(missing), size=8, channels=3)
    assert str(missing) in str(caught.value)
    with pytest.raises(GanzooError, match=r"no images in class sub-folders.*\.png") as caught:
        dataset_type.spec_for(str(tmp_path), size=8, channels=3)
    assert str(tmp_path) in str(caught.value)
    write_image(tmp_path / "loose.png", solid(8, 8, (0, 0, 0)))
    (tmp_path / "empty-class").mkdir()
    with pytest.raises(GanzooError, match="must move into a sub-folder"):
        dataset_type.load(str(tmp_path), size=8, channels=3)
    make_folder(tmp_path)
    for size, channels in [(0, 3), ("big", 3), (8.5, 3), (8, 2), (8, True)]:
        with pytest.raises(GanzooError) as caught:
            dataset_type.spec_for(str(tmp_path), size=size, channels=channels)
        assert "\n" not in str(caught.value)
    assert dataset_type.spec_for(str(tmp_path), size="12", channels="1").shape == (1, 12, 12)


# --- every dataset's spec matches its items -------------------------------------------


@pytest.mark.parametrize("name", ["mnist", "cifar10", "folder", "ring8", "grid25"])
def test_spec_matches_loaded_items(name, tmp_path, request):
    datasets = {**registered(torchvision_sets), **registered(folder), **registered(toy_mixtures)}
    dataset_type = datasets[name]
    options = dict(dataset_type.options)
    if name in ("mnist", "cifar10"):
        root = str(request.getfixturevalue({"mnist": "mnist_root", "cifar10": "cifar_root"}[name]))
    elif name == "folder":
        make_folder(tmp_path)
        root = str(tmp_path)
        options = {"size": 24, "channels": 1}
    else:
        root = str(tmp_path)
    spec = dataset_type.spec_for(root, **options)
    data = dataset_type.load(root, train=False, download=False, **options)
    assert len(spec.class_names) == spec.num_classes > 0
    labels = set()
    for index in sorted({0, len(data) // 2, len(data) - 1}):
        sample, label = data[index]
        assert sample.shape == spec.shape and sample.dtype == torch.float32
        assert sample.min() >= -1 and sample.max() <= 1
        assert isinstance(label, int) and 0 <= label < spec.num_classes
        labels.add(label)
    assert len(labels) > 1


# --- 2-D Gaussian mixtures -----------------------------------------------------------


def test_toy_geometry_is_the_papers_scaled_into_the_unit_box():
    toys = registered(toy_mixtures)
    ring, grid = toys["ring8"], toys["grid25"]
    assert ring.spec == DataSpec((2,), 8, tuple(f"mode-{i}" for i in range(8)), modes=tuple(map(tuple, ring.centers.tolist())))
    assert grid.spec.num_classes == 25 and grid.spec.class_names[24] == "mode-24"
    assert ring.centers.shape == (8, 2) and torch.allclose(ring.centers.norm(dim=1), torch.full((8,), 0.8))
    assert torch.allclose(ring.centers[2], torch.tensor([0.0, 0.8]), atol=1e-6)
    assert ring.std == pytest.approx(0.02 / 2.5)
    assert grid.centers.shape == (25, 2) and grid.std == pytest.approx(0.05 / 5)
    assert sorted(set(grid.centers[:, 0].tolist())) == pytest.approx([-0.8, -0.4, 0.0, 0.4, 0.8])
    assert len({tuple(c) for c in grid.centers.tolist()}) == 25
    for toy in (ring, grid):  # 3 sigma around every mode stays inside [-1, 1]
        assert toy.centers.abs().max() + 3 * toy.std <= 1


@pytest.mark.parametrize("name, modes", [("ring8", 8), ("grid25", 25)])
def test_toy_samples_sit_on_their_labelled_modes(name, modes):
    toy = registered(toy_mixtures)[name]
    train = toy.load("unused", train=True, download=False, **toy.options)
    assert isinstance(train, InMemoryDataset) and len(train) == 50000
    samples, labels = train.batch(torch.arange(len(train)))
    assert samples.shape == (50000, 2) and samples.abs().max() <= 1
    # The radius of a 2-D Gaussian exceeds 6 sigma with probability exp(-18).
    distance = (samples - toy.centers[labels]).norm(dim=1)
    assert distance.max() < 6 * toy.std
    assert (torch.cdist(samples, toy.centers).argmin(dim=1) == labels).all()
    offsets = samples - toy.centers[labels]
    assert offsets.std(dim=0).tolist() == pytest.approx([toy.std] * 2, rel=0.03)
    counts = torch.bincount(labels, minlength=modes)
    assert counts.min() > 0.8 * 50000 / modes and counts.max() < 1.2 * 50000 / modes


def test_toys_are_deterministic_with_distinct_splits():
    ring = registered(toy_mixtures)["ring8"]
    first = ring.load("unused", train=True, download=False, **ring.options)
    second = registered(toy_mixtures)["ring8"].load("elsewhere", train=True, download=False, **ring.options)
    assert torch.equal(first.samples, second.samples) and torch.equal(first.labels, second.labels)
    test = ring.load("unused", train=False, download=False, **ring.options)
    assert len(test) == 10000 and not torch.equal(test.samples, first.samples[:10000])
    small = ring.load("unused", train=True, download=False, num_samples=100, num_test_samples=7)
    assert len(small) == 100 and len(ring.load("unused", train=False, num_samples=100, num_test_samples=7)) == 7
    for bad in (0, -3, "many", 2.5):
        with pytest.raises(GanzooError, match="num_samples"):
            ring.load("unused", train=True, num_samples=bad)
