"""Tests for the dataset plugins: MNIST/CIFAR-10 on the real data, image folders, the 2-D toys.

The real data is read from ``../shared/data`` (see ``shared/README.md``);
those tests skip when it is absent. Nothing here needs the network.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganzoo import DataSpec, Dataset, GanzooError, InMemoryDataset
from ganzoo_plugins.datasets import folder, toy_mixtures, torchvision_sets

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
MNIST_RAW = SHARED_DATA / "MNIST" / "raw"
CIFAR_FOLDER = SHARED_DATA / "cifar10"

needs_mnist = pytest.mark.skipif(
    not (MNIST_RAW / "t10k-images-idx3-ubyte").is_file(), reason=f"real MNIST not found in {MNIST_RAW}"
)
needs_cifar = pytest.mark.skipif(
    not (CIFAR_FOLDER / "test").is_dir(), reason=f"real CIFAR-10 image folders not found in {CIFAR_FOLDER}"
)


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


# --- MNIST --------------------------------------------------------------------


@needs_mnist
def test_mnist_reads_the_real_files_exactly():
    mnist = registered(torchvision_sets)["mnist"]
    test = mnist.load(str(SHARED_DATA), train=False, download=False)
    assert isinstance(test, InMemoryDataset) and len(test) == 10000
    images, labels = test.batch(torch.arange(len(test)))
    assert images.shape == (10000, 1, 28, 28) and images.dtype == torch.float32
    # The same pixels and labels as the idx files, decoded here without torchvision.
    raw = read_idx(MNIST_RAW / "t10k-images-idx3-ubyte", 16).reshape(10000, 1, 28, 28)
    expected = torch.from_numpy(raw.astype(np.float32)) / 127.5 - 1
    assert torch.allclose(images, expected, atol=1e-6)
    assert labels.tolist() == read_idx(MNIST_RAW / "t10k-labels-idx1-ubyte", 8).tolist()
    sample, label = test[0]
    assert label == 7 and sample.shape == (1, 28, 28)

    train = mnist.load(str(SHARED_DATA), train=True, download=False)
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


@needs_cifar
def test_cifar10_real_folder_test_split(private_cache, monkeypatch):
    cifar = registered(torchvision_sets)["cifar10"]
    dataset = cifar.load(str(SHARED_DATA), train=False, download=False)
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
    first_cat = min((CIFAR_FOLDER / "test" / "cat").iterdir())
    with Image.open(first_cat) as image:
        expected = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1).float() / 127.5 - 1
    assert (sample - expected).abs().max() <= 2 / 127.5

    cache_files = list(private_cache.rglob("*.safetensors"))
    assert len(cache_files) == 1 and "test" in cache_files[0].name

    def no_decoding(files):
        raise AssertionError("the second load decoded images instead of reading the cache")

    monkeypatch.setattr(torchvision_sets, "_decode_images", no_decoding)
    started = time.perf_counter()
    again = cifar.load(str(SHARED_DATA), train=False, download=False)
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


@needs_cifar
def test_folder_reads_the_real_cifar_test_images():
    dataset_type = registered(folder)["folder"]
    spec = dataset_type.spec_for(str(CIFAR_FOLDER / "test"), size=32, channels=3)
    assert spec == DataSpec((3, 32, 32), 10, torchvision_sets.CIFAR10_CLASSES)
    data = dataset_type.load(str(CIFAR_FOLDER / "test"), train=True, download=False, size=32, channels=3)
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
def test_spec_matches_loaded_items(name, tmp_path):
    datasets = {**registered(torchvision_sets), **registered(folder), **registered(toy_mixtures)}
    dataset_type = datasets[name]
    options = dict(dataset_type.options)
    if name in ("mnist", "cifar10"):
        if not (MNIST_RAW.is_dir() and (CIFAR_FOLDER / "test").is_dir()):
            pytest.skip(f"real data not found in {SHARED_DATA}")
        root = str(SHARED_DATA)
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
    assert ring.spec == DataSpec((2,), 8, tuple(f"mode-{i}" for i in range(8)))
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
