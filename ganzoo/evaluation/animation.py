"""``ganzoo animate``: a run's fixed-noise sample grids, in step order, as one animated GIF.

Every grid a run writes (``RUN/samples/step_NNNNNNN.png``) shows the same noise,
so playing them in order shows training progress. Each frame gets a caption
strip above the grid naming its step. Only GIF is written (Pillow, which ganzoo
already needs); all frames are held in memory while it is encoded, which
``every`` keeps small for long runs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ganzoo.errors import GanzooError
from ganzoo.storage.atomic import atomic_path
from ganzoo.storage.preflight import check_path_text, check_writable
from ganzoo.storage.rundir import RunDir

#: The file names of a run's sample grids.
GRID_NAME = re.compile(r"step_(\d+)\.png")
#: GIF stores frame delays in hundredths of a second, and viewers slow down delays under 2 of them.
MAX_FPS = 50
#: Height of the caption strip above each grid, in pixels.
CAPTION_HEIGHT = 14
#: What a GIF frame costs at the most, per pixel (one palette index; LZW rarely grows it).
GIF_BYTES_PER_PIXEL = 1


def sample_grids(run: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """The run's sample grids as ``(step, path)``, in step order; refuses a run without any."""
    run = Path(run)
    if not run.is_dir():
        raise GanzooError(f"no such run directory: {run}")
    samples = RunDir(run).samples_dir
    found = [(int(match.group(1)), path) for path in samples.glob("step_*.png")
             if (match := GRID_NAME.fullmatch(path.name)) and path.is_file()]
    if not found:
        raise GanzooError(f"{samples} holds no sample grids (step_*.png); a run writes one every --sample-every steps")
    return sorted(found)


def every_kth(grids: list[tuple[int, Path]], every: int) -> list[tuple[int, Path]]:
    """Grids 0, K, 2K, ... and always the last one, so the animation ends where training did."""
    if every < 1:
        raise GanzooError(f"--every must be at least 1, got {every}")
    chosen = grids[::every]
    return chosen if chosen[-1] == grids[-1] else [*chosen, grids[-1]]


def check_animation_output(path: str | os.PathLike[str], fps: int) -> None:
    """Refuse an output that is not a ``.gif`` or cannot be written, and a frame rate GIF cannot hold."""
    check_path_text(path, "-o")
    if Path(path).suffix.lower() != ".gif":
        raise GanzooError(f"cannot write the animation -o '{path}': only GIF is supported; give a FILE.gif path")
    if not 1 <= fps <= MAX_FPS:
        raise GanzooError(f"--fps must lie in 1..{MAX_FPS} (GIF delays are hundredths of a second), got {fps}")


def write_animation(grids: list[tuple[int, Path]], path: str | os.PathLike[str], fps: int) -> Path:
    """Write ``grids`` as an animated GIF at ``path`` (atomically): ``fps`` frames a second, looping forever.

    Frames of different sizes (none in one run) are placed top-left on a white canvas of the largest.
    """
    check_animation_output(path, fps)
    images = [_frame(grid, step) for step, grid in grids]
    width, height = max(image.width for image in images), max(image.height for image in images)
    check_writable(path, len(images) * width * height * GIF_BYTES_PER_PIXEL, "-o", "the animation", is_file=True)
    frames = [_on_canvas(image, width, height) for image in images]
    with atomic_path(path) as temp:
        frames[0].save(temp, format="GIF", save_all=True, append_images=frames[1:], duration=round(1000 / fps),
                       loop=0)
    return Path(path)


def _frame(grid: Path, step: int) -> Image.Image:
    """The grid at ``grid`` as an RGB image, under a caption strip naming ``step``."""
    try:
        with Image.open(grid) as opened:
            image = opened.convert("RGB")
    except OSError as error:  # a truncated or foreign file among the grids
        raise GanzooError(f"cannot read the sample grid {grid}: {error}") from None
    framed = Image.new("RGB", (image.width, image.height + CAPTION_HEIGHT), "white")
    framed.paste(image, (0, CAPTION_HEIGHT))
    ImageDraw.Draw(framed).text((2, 1), f"step {step}", fill="black", font=ImageFont.load_default())
    return framed


def _on_canvas(image: Image.Image, width: int, height: int) -> Image.Image:
    if image.size == (width, height):
        return image
    canvas = Image.new("RGB", (width, height), "white")
    canvas.paste(image, (0, 0))
    return canvas
