"""The range test's loop, shared by the Keras and PyTorch front-ends: the ramp and the
decisions (when to stop, how to read the curve) are the Rust core's."""

from __future__ import annotations

import sys
import time
from typing import Callable, Optional, Tuple

from . import _core
from ._core import Schedule
from ._result import RangeTestResult

# One update: set `lr`, train, return (loss, accuracy or None).
Update = Callable[[float], Tuple[float, Optional[float]]]
# A held-out measurement: (accuracy or None, loss or None).
HeldOut = Callable[[], Tuple[Optional[float], Optional[float]]]


class OutOfData(Exception):
    """The batches ran out before the end of the ramp."""


def drive(
    test: _core.RangeTest,
    update: Update,
    held_out: HeldOut | None,
    eval_every: int | None,
    restore: Callable[[], None],
    iterations_per_epoch: int | None,
    accumulation: int,
    verbose: bool,
) -> RangeTestResult:
    """Runs the ramp to its end or its early stop, puts the model back (always, also on
    Ctrl-C or an error) and returns the core's reading of the curve."""
    start = time.monotonic()
    shown = -1
    try:
        while not test.is_done:
            i = test.iteration
            lr = test.lr(i)
            try:
                loss, accuracy = update(lr)
            except OutOfData:
                test.out_of_data()
                break
            go_on = test.record(lr, float(loss), accuracy)
            if held_out is not None and eval_every and (
                (i + 1) % eval_every == 0 or i + 1 == test.iterations or not go_on
            ):
                acc, held_loss = held_out()
                test.record_held_out(accuracy=acc, loss=held_loss)
            if verbose:
                pct = (100 * (i + 1)) // test.iterations
                if pct // 10 != shown // 10 or not go_on:
                    shown = pct
                    print(
                        f"range test: {i + 1}/{test.iterations} updates, lr {lr:.2e}, "
                        f"loss {loss:.4f} ({time.monotonic() - start:.0f} s)",
                        file=sys.stderr,
                    )
            if not go_on:
                break
    except KeyboardInterrupt:
        # Nothing lost: the points so far are read like any other curve.
        test.interrupted()
    finally:
        restore()
    if verbose and test.stop_reason:
        print(f"range test: {test.stop_reason}", file=sys.stderr)
    return RangeTestResult(
        test.outcome(iterations_per_epoch=iterations_per_epoch, accumulation=accumulation)
    )


def check_eval_every(eval_every, has_held_out: bool, iterations: int) -> int | None:
    """The held-out cadence: `eval_every` updates, else about 20 measurements per ramp."""
    if not has_held_out:
        if eval_every is not None:
            raise ValueError("eval_every needs held-out data to evaluate on")
        return None
    if eval_every is None:
        return max(1, iterations // 20)
    if not isinstance(eval_every, int) or isinstance(eval_every, bool) or eval_every < 1:
        raise ValueError(f"eval_every must be an integer of 1 or more, got {eval_every!r}")
    return eval_every


def check_count(name: str, value, minimum: int = 1) -> int:
    """`value` as an int of at least `minimum`, or a ValueError naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer of {minimum} or more, got {value!r}")
    return value


def as_schedule(schedule) -> Schedule:
    """`schedule` as a ``cyclr.Schedule`` (it may be one, or its dict)."""
    if isinstance(schedule, Schedule):
        return schedule
    if isinstance(schedule, dict):
        return Schedule.from_dict(schedule)
    raise ValueError(
        f"expected a cyclr.Schedule (or its dict), got {type(schedule).__name__}: e.g. "
        'cyclr.Schedule("triangular", base_lr=0.001, max_lr=0.006, step_size_up=2000)'
    )


def cycled(data):
    """The batches of `data` over and over (a one-shot iterator is passed through, and
    runs out when it does)."""
    if iter(data) is data:
        return data

    def cycle():
        while True:
            empty = True
            for batch in data:
                empty = False
                yield batch
            if empty:
                raise ValueError("the data yielded no batch")

    return cycle()
