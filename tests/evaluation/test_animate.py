"""``ganzoo animate``: a run's sample grids as a looping GIF, in step order, and its refusals."""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops, ImageSequence, ImageStat

from ganzoo.evaluation.animation import CAPTION_HEIGHT
from tests.cli.test_cli_properties import snapshot
from tests.helpers import assert_one_line_error, invoke

GRID = (62, 32)
#: One colour per grid, so each frame can be told apart after GIF's palette conversion.
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255)]
#: The steps of the grids, written out of order, including one past the zero padding of 7 digits.
STEPS = [40, 5, 20000000, 100, 10]


@pytest.fixture
def run(tmp_path):
    """A run directory whose samples/ holds five grids plus files that are not grids."""
    samples = tmp_path / "run" / "samples"
    samples.mkdir(parents=True)
    for step, colour in zip(STEPS, COLOURS):
        Image.new("RGB", GRID, colour).save(samples / f"step_{step:07d}.png")
    Image.new("RGB", GRID, "white").save(samples / "notes.png")
    Image.new("RGB", GRID, "white").save(samples / ".step_0000007.tmp.png")  # an interrupted write
    return tmp_path / "run"


def frames_of(path) -> list[Image.Image]:
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        return [frame.convert("RGB") for frame in ImageSequence.Iterator(gif)]


def grid_colour(frame: Image.Image) -> tuple:
    """The colour of the grid below the caption strip."""
    return frame.getpixel((GRID[0] // 2, CAPTION_HEIGHT + GRID[1] // 2))


def in_step_order(steps):
    return [colour for step, colour in sorted(zip(STEPS, COLOURS)) if step in steps]


def test_every_grid_is_a_frame_in_step_order_under_a_caption(run):
    result = invoke("animate", run)
    assert result.exit_code == 0, result.output
    assert "5 frames" in result.output
    frames = frames_of(run / "progress.gif")
    assert [grid_colour(frame) for frame in frames] == in_step_order(STEPS)
    assert all(frame.size == (GRID[0], GRID[1] + CAPTION_HEIGHT) for frame in frames)
    caption = frames[0].crop((0, 0, GRID[0], CAPTION_HEIGHT))
    assert caption.getextrema() != ((255, 255), (255, 255), (255, 255))  # text on the white strip
    assert frames[0].crop((0, 0, GRID[0], CAPTION_HEIGHT)) != frames[1].crop((0, 0, GRID[0], CAPTION_HEIGHT))
    with Image.open(run / "progress.gif") as gif:
        assert gif.info["loop"] == 0 and gif.info["duration"] == 250  # --fps 4
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # the temporary file is gone


def test_every_kth_grid_and_always_the_last(run, tmp_path):
    out = tmp_path / "elsewhere" / "every2.gif"
    result = invoke("animate", run, "--every", 2, "--fps", 10, "-o", out)
    assert result.exit_code == 0, result.output
    frames = frames_of(out)
    assert [grid_colour(frame) for frame in frames] == in_step_order([5, 40, 20000000])  # steps 0, 2, 4 of 5
    with Image.open(out) as gif:
        assert gif.info["duration"] == 100
    result = invoke("animate", run, "--every", 3, "-o", out)
    assert result.exit_code == 0, result.output
    assert [grid_colour(frame) for frame in frames_of(out)] == in_step_order([5, 100, 20000000])  # 0, 3 and the last


def test_a_real_runs_grids(tmp_path):
    out = tmp_path / "run"
    trained = invoke("run", "--arch", "dcgan", "--loss", "bce", "--data", "mnist-mini", "--steps", 6,
                     "--batch-size", 8, "--arch-option", "base_width=8", "--sample-every", 2, "--out", out)
    assert trained.exit_code == 0, trained.output
    grids = sorted((out / "samples").glob("step_*.png"))
    result = invoke("animate", out)
    assert result.exit_code == 0, result.output
    frames = frames_of(out / "progress.gif")
    assert len(frames) == len(grids) == 3
    width, height = Image.open(grids[-1]).size
    assert frames[-1].size == (width, height + CAPTION_HEIGHT)
    last = Image.open(grids[-1]).convert("L")
    shown = frames[-1].convert("L").crop((0, CAPTION_HEIGHT, width, height + CAPTION_HEIGHT))
    assert ImageStat.Stat(ImageChops.difference(last, shown)).mean[0] < 4  # the same picture, up to GIF's palette


def test_grids_of_another_size_sit_on_a_canvas_of_the_largest(run):
    Image.new("RGB", (94, 40), (128, 0, 128)).save(run / "samples" / "step_0000050.png")
    assert invoke("animate", run).exit_code == 0
    frames = frames_of(run / "progress.gif")
    assert len(frames) == 6 and {frame.size for frame in frames} == {(94, 40 + CAPTION_HEIGHT)}
    assert frames[2].getpixel((90, 20)) == (255, 255, 255)  # step 40's small grid, white beside it


@pytest.mark.parametrize(("args", "fragments"), [
    (("-o", "{tmp}/progress.mp4"), ("progress.mp4", "GIF")),
    (("-o", "{tmp}/progress.avi"), ("progress.avi", "FILE.gif")),
    (("--fps", 0), ("--fps",)),
    (("--fps", 1000), ("--fps", "1..50")),
    (("--every", 0), ("--every",)),
])
def test_bad_options_are_one_line_and_write_nothing(run, tmp_path, args, fragments):
    before = snapshot(tmp_path)
    args = [str(arg).format(tmp=tmp_path) for arg in args]
    assert_one_line_error(invoke("animate", run, *args), *fragments)
    assert snapshot(tmp_path) == before


def test_runs_without_grids_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_one_line_error(invoke("animate", tmp_path / "empty"), "no sample grids", "--sample-every")
    assert_one_line_error(invoke("animate", tmp_path / "missing"), "no such run directory")
    assert not (tmp_path / "empty" / "progress.gif").exists()


def test_a_grid_that_is_not_an_image_is_named(run):
    (run / "samples" / "step_0000050.png").write_text("torn")
    line = assert_one_line_error(invoke("animate", run), "step_0000050.png")
    assert "cannot read" in line
    assert not (run / "progress.gif").exists()
