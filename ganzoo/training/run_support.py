"""Helpers of the run loop: loss windows, housekeeping intervals, logger fan-out, guarded plugin hooks,
clean stops on signals."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import torch

from ganzoo.errors import GanzooError
from ganzoo.training.trainer import StepLosses


class LossWindow:
    """Sums losses on the device between log points, so steps never wait for the device."""

    def __init__(self) -> None:
        self._sums: torch.Tensor | None = None
        self._count = 0
        self._clock = time.perf_counter()
        self._seconds = 0.0

    def add(self, losses: StepLosses) -> torch.Tensor:
        """Add one step's losses; returns them stacked as ``(d, g, penalty)`` on the device."""
        values = torch.stack([losses.discriminator.float(), losses.generator.float(), losses.penalty.float()])
        self._sums = values if self._sums is None else self._sums + values
        self._count += 1
        return values

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Exclude the time spent inside (sampling, checkpointing) from throughput."""
        self._seconds += time.perf_counter() - self._clock
        try:
            yield
        finally:
            self._clock = time.perf_counter()

    def flush(self, step: int, samples_per_step: int,
              average: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[str, Any]:
        """The window's mean losses and throughput as a ``metrics.jsonl`` record; starts a new window.

        ``average`` combines the means of data-parallel ranks (see :meth:`ganzoo.distributed.world.World.mean`).
        """
        means = self._sums / self._count
        if average is not None:
            means = average(means)
        d_loss, g_loss, penalty = means.tolist()  # the one device sync per window
        seconds = self._seconds + time.perf_counter() - self._clock
        record = {
            "step": step,
            "d_loss": d_loss,
            "g_loss": g_loss,
            "penalty": penalty,
            "img_per_s": self._count * samples_per_step / seconds if seconds > 0 else None,
            "time": time.time(),
        }
        self._sums, self._count, self._seconds = None, 0, 0.0
        self._clock = time.perf_counter()
        return record


class Due(NamedTuple):
    """The housekeeping one step does."""

    log: bool
    sample: bool
    evaluate: bool
    checkpoint: bool

    @property
    def anything(self) -> bool:
        """Whether the step does any housekeeping (and so waits for the device anyway)."""
        return self.log or self.sample or self.evaluate or self.checkpoint


def housekeeping_due(config: Any, step: int, last: bool, evaluation: bool) -> Due:
    """What step ``step`` does besides training, from the ``--*-every`` intervals; the last step does everything."""
    return Due(
        log=last or step % config.log_every == 0,
        sample=last or step % config.sample_every == 0,
        evaluate=evaluation and (last or bool(config.eval_every and step % config.eval_every == 0)),
        checkpoint=last or step % config.checkpoint_every == 0,
    )


class PluginHookError(GanzooError):
    """A plugin's lifecycle hook raised during a run; the message names the plugin and its distribution."""


class GuardedHooks:
    """The lifecycle hook callers of a registry, turning an exception inside a plugin into a :class:`PluginHookError`.

    Pluggy re-raises a hook implementation's exception as it is; the plugin is
    found by matching the traceback's frames against each implementation's code.
    """

    def __init__(self, relay: Any, plugins: list[Any]) -> None:
        self._relay = relay
        self._plugins = {plugin.name: plugin for plugin in plugins}

    def __getattr__(self, hook_name: str) -> Any:
        caller = getattr(self._relay, hook_name)

        def call(**kwargs: Any) -> Any:
            try:
                return caller(**kwargs)
            except Exception as error:
                culprit = self._culprit(caller, error)
                reason = str(error).splitlines()[0] if str(error) else ""
                raise PluginHookError(
                    f"plugin {culprit} failed in {hook_name}: {type(error).__name__}" + (f": {reason}" if reason else "")
                ) from error

        return call

    def _culprit(self, caller: Any, error: BaseException) -> str:
        owners = {}
        for impl in caller.get_hookimpls():
            code = getattr(getattr(impl.function, "__func__", impl.function), "__code__", None)
            if code is not None:
                owners[code] = impl.plugin_name
        traceback = error.__traceback__
        while traceback is not None:
            name = owners.get(traceback.tb_frame.f_code)
            if name is not None:
                return self._describe(name)
            traceback = traceback.tb_next
        return "(unknown)"

    def _describe(self, name: str) -> str:
        plugin = self._plugins.get(name)
        if plugin is None or not getattr(plugin, "distribution", None):
            return f"'{name}' (in-process)"
        return f"'{name}' (distribution {plugin.distribution} {plugin.version})"


def after_plugin_error(error: PluginHookError, run_dir: Any, checkpoint_step: int | None, finished: bool) -> str:
    """The one line a run stops with when a plugin's hook raised."""
    if finished:
        return f"{error}; the run itself finished and its checkpoint is written"
    kept = f"checkpoint of step {checkpoint_step} saved" if checkpoint_step is not None else "no checkpoint saved"
    return (f"{error}; {kept}; fix or uninstall the plugin (or leave it out with GANZOO_PLUGINS), "
            f"then continue with: ganzoo run --resume {run_dir}")


class LoggerFanOut:
    """Fans a run's numbers and sample grids out to the ``--log`` backends.

    An exception inside a backend (a tracking server gone mid-run) becomes a
    :class:`PluginHookError` naming the logger, so the run stops like after a
    failing hook: one line, the checkpoint written, resumable.
    """

    def __init__(self, opened: list[tuple[str, Any]]) -> None:
        self.opened = opened

    @classmethod
    def open(cls, loggers: list[Any], run: Any) -> LoggerFanOut:
        """Open every logger for ``run``; if one fails, those already open are closed again."""
        opened: list[tuple[str, Any]] = []
        try:
            for logger in loggers:
                opened.append((logger.name, _guarded(logger.name, "open", logger.open, run)))
        except BaseException:
            cls(opened).close(quiet=True)
            raise
        return cls(opened)

    def losses(self, record: dict[str, Any]) -> None:
        values = {"loss/d": record["d_loss"], "loss/g": record["g_loss"], "loss/penalty": record["penalty"]}
        if record.get("img_per_s"):
            values["speed/img_per_s"] = record["img_per_s"]
        for name, logger in self.opened:
            _guarded(name, "scalars", logger.scalars, record["step"], values)

    def evaluation(self, step: int, results: dict[str, dict[str, float]]) -> None:
        values = {f"eval/{metric}/{key}": value for metric, numbers in results.items() for key, value in numbers.items()}
        for name, logger in self.opened:
            _guarded(name, "scalars", logger.scalars, step, values)

    def images(self, step: int, samples: torch.Tensor) -> None:
        if not self.opened or samples.dim() != 4:
            return
        from torchvision.utils import make_grid

        grid = make_grid(samples.clamp(-1, 1).add(1).div(2), nrow=8)
        for name, logger in self.opened:
            _guarded(name, "images", logger.images, step, "samples", grid)

    def close(self, quiet: bool = False) -> None:
        """Close every backend, each even if another failed; the first failure is raised unless ``quiet``."""
        failure = None
        for name, logger in self.opened:
            try:
                _guarded(name, "close", logger.close)
            except PluginHookError as error:
                failure = failure or error
        self.opened = []
        if failure is not None and not quiet:
            raise failure


def _guarded(name: str, method: str, call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except GanzooError:  # the logger's own one-line message (e.g. "wandb could not start: ...")
        raise
    except Exception as error:
        reason = str(error).splitlines()[0] if str(error) else ""
        raise PluginHookError(f"logger '{name}' failed in {method}: {type(error).__name__}"
                              + (f": {reason}" if reason else "")) from error


#: Signals this close together are one request (see :func:`stop_on_signals`).
DUPLICATE_SIGNAL_SECONDS = 1.0


class StopRequest(threading.Event):
    """Set when the run was asked to stop; ``signum`` says by which signal (SIGINT or SIGTERM)."""

    def __init__(self) -> None:
        super().__init__()
        self.signum: int | None = None

    @property
    def exit_code(self) -> int:
        """The shell convention for a process ended by this signal: 128 + its number (130, 143)."""
        return 128 + (self.signum or signal.SIGINT)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """First Ctrl-C (or SIGTERM) asks the loop to stop at the next step boundary; a second one aborts.

    A second signal within :data:`DUPLICATE_SIGNAL_SECONDS` of the first is the
    same request delivered twice, not a second one: under torchrun, Ctrl-C
    reaches each worker from the terminal and again from torchrun.
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    first_at: list[float] = []

    def request_stop(signum: int, frame: object) -> None:
        if stop.is_set():
            if time.monotonic() - first_at[0] < DUPLICATE_SIGNAL_SECONDS:
                return
            raise KeyboardInterrupt
        first_at.append(time.monotonic())
        stop.signum = signum
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
