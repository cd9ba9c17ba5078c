"""cyclr for PyTorch.

- ``CyclrLR(optimizer, schedule)``: a ``torch.optim.lr_scheduler.LRScheduler`` that sets
  each param group's learning rate, and its momentum (SGD's ``momentum``, Adam's and
  AdamW's ``betas[0]``) when the schedule cycles it. Call ``step()`` after every
  ``optimizer.step()``. Its ``state_dict`` holds only plain values, so
  ``torch.load(..., weights_only=True)`` reads it back.
- ``range_test(model, optimizer, loader, loss_fn, ...)``: the learning-rate range test,
  read by cyclr's rules; model and optimizer are put back afterwards.
"""

from __future__ import annotations

import copy

import torch
from torch.optim.lr_scheduler import LRScheduler

from . import _loop
from ._core import RangeTest, Schedule
from ._result import RangeTestResult

__all__ = ["CyclrLR", "range_test"]


_as_schedule = _loop.as_schedule


class CyclrLR(LRScheduler):
    """Any cyclr schedule as a PyTorch scheduler, stepped once per optimizer update.

    `schedule` is one ``cyclr.Schedule`` for every param group, or a list with one per
    group (as ``CyclicLR`` takes a list of base and max rates).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule, last_epoch: int = -1):
        groups = optimizer.param_groups
        if isinstance(schedule, (list, tuple)):
            schedules = [_as_schedule(s) for s in schedule]
            if len(schedules) != len(groups):
                raise ValueError(
                    f"{len(schedules)} schedules for {len(groups)} param groups: give one "
                    "schedule, or one per group"
                )
        else:
            schedules = [_as_schedule(schedule)] * len(groups)
        for i, (s, g) in enumerate(zip(schedules, groups)):
            if s.cycles_momentum and "momentum" not in g and "betas" not in g:
                raise ValueError(
                    f"the schedule cycles momentum, but param group {i} of "
                    f"{type(optimizer).__name__} has neither 'momentum' nor 'betas': use "
                    "SGD, Adam or AdamW, or a schedule without base_momentum/max_momentum"
                )
        self.schedules = schedules
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        step = self.last_epoch
        for s, g in zip(self.schedules, self.optimizer.param_groups):
            momentum = s.momentum(step)
            if momentum is not None:
                if "betas" in g:
                    g["betas"] = (momentum, *tuple(g["betas"])[1:])
                else:
                    g["momentum"] = momentum
        return [s.lr(step) for s in self.schedules]

    def state_dict(self):
        state = super().state_dict()
        state["schedules"] = [s.to_dict() for s in self.schedules]
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        if "schedules" not in state:
            raise ValueError("not a CyclrLR state_dict: it has no 'schedules'")
        schedules = [Schedule.from_dict(d) for d in state.pop("schedules")]
        super().load_state_dict(state)
        self.schedules = schedules
        # The optimizer trains the next update at this step's values, whichever of the
        # two states was loaded first: the resume is exact.
        for g, lr in zip(self.optimizer.param_groups, self.get_lr()):
            g["lr"] = lr


def _device_of(model):
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _to(value, device):
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    return value


def _split(batch):
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise ValueError(
        f"each batch must be (inputs, targets), got {type(batch).__name__}: pass a loader "
        "that yields pairs"
    )


def _default_accuracy(output, target):
    """The share of argmax matches, for a classifier's (N, C) scores and (N,) classes;
    None for anything else (a regression, a loss-only model)."""
    if (
        isinstance(output, torch.Tensor)
        and isinstance(target, torch.Tensor)
        and output.ndim == 2
        and output.shape[1] > 1
        and target.ndim == 1
        and not target.is_floating_point()
    ):
        return (output.argmax(dim=1) == target).float().mean().item()
    return None


def range_test(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loader,
    loss_fn,
    *,
    iterations: int = 100,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    ramp: str = "exponential",
    smoothing: float = 0.98,
    diverge_factor: float = 4.0,
    curve: str = "auto",
    accumulation_steps: int = 1,
    val_loader=None,
    eval_every: int | None = None,
    accuracy=None,
    steps_per_epoch: int | None = None,
    verbose: bool = True,
) -> RangeTestResult:
    """The learning-rate range test: raises every param group's rate from `min_lr` to
    `max_lr` over `iterations` optimizer updates (``"exponential"`` or ``"linear"``), each
    of `accumulation_steps` batches from `loader` (cycled when it runs out), recording
    ``loss_fn(model(x), y)`` and the accuracy; with `val_loader`, also held-out accuracy
    and loss every `eval_every` updates (about 20 per ramp by default), which the paper's
    rule then prefers (`curve`: ``"auto"``, ``"training"`` or ``"held_out"`` picks
    the curve it reads). Stops early when the loss diverges, or on Ctrl-C, keeping what was
    recorded.

    `accuracy` is a function ``(output, target) -> fraction``, or False for none; by
    default, a classifier's argmax accuracy when the output is (N, C) scores and the
    target (N,) class indices. `steps_per_epoch` (updates per epoch; ``len(loader) //
    accumulation_steps`` when the loader has a length) gives the stepsize advice.

    The model's parameters, buffers, gradients and train/eval mode, and the optimizer's
    state and param groups, are put back afterwards. Returns a ``RangeTestResult``.
    """
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    if not callable(loss_fn):
        raise ValueError("loss_fn must be callable: loss_fn(output, target) -> a scalar tensor")
    k = _loop.check_count("accumulation_steps", accumulation_steps)
    if accuracy is not None and accuracy is not False and not callable(accuracy):
        raise ValueError("accuracy must be a function (output, target) -> fraction, or False")
    test = RangeTest(min_lr, max_lr, iterations, ramp, smoothing, diverge_factor, curve)
    every = _loop.check_eval_every(eval_every, val_loader is not None, iterations)
    if steps_per_epoch is not None:
        _loop.check_count("steps_per_epoch", steps_per_epoch)
    else:
        try:
            steps_per_epoch = max(1, len(loader) // k)
        except TypeError:
            steps_per_epoch = None
    measure = _default_accuracy if accuracy is None else (accuracy or None)

    device = _device_of(model)
    params = [p for p in model.parameters()]
    model_state = copy.deepcopy(model.state_dict())
    optimizer_state = copy.deepcopy(optimizer.state_dict())
    grads = [None if p.grad is None else p.grad.detach().clone() for p in params]
    was_training = model.training
    batches = _loop.cycled(loader)

    def update(lr):
        for g in optimizer.param_groups:
            g["lr"] = lr
        model.train()
        optimizer.zero_grad(set_to_none=True)
        total, correct, measured = 0.0, 0.0, True
        for _ in range(k):
            try:
                batch = next(batches)
            except StopIteration:
                raise _loop.OutOfData from None
            x, y = _split(batch)
            x, y = _to(x, device), _to(y, device)
            output = model(x)
            loss = loss_fn(output, y)
            (loss / k).backward()
            total += loss.item()
            if measure is not None and measured:
                with torch.no_grad():
                    a = measure(output.detach(), y)
                if a is None:
                    measured = False
                else:
                    correct += float(a)
        optimizer.step()
        return total / k, (correct / k if measure is not None and measured else None)

    held_out = None
    if val_loader is not None:

        def held_out():
            model.eval()
            total, n, correct, measured = 0.0, 0, 0.0, measure is not None
            with torch.no_grad():
                for batch in val_loader:
                    x, y = _split(batch)
                    x, y = _to(x, device), _to(y, device)
                    output = model(x)
                    size = len(y) if hasattr(y, "__len__") else 1
                    total += float(loss_fn(output, y)) * size
                    if measured:
                        a = measure(output, y)
                        if a is None:
                            measured = False
                        else:
                            correct += float(a) * size
                    n += size
            model.train()
            if n == 0:
                raise ValueError("val_loader yielded no batch")
            return (correct / n if measured else None), total / n

    def restore():
        model.load_state_dict(model_state)
        optimizer.load_state_dict(optimizer_state)
        for p, g in zip(params, grads):
            p.grad = g
        model.train(was_training)

    return _loop.drive(test, update, held_out, every, restore, steps_per_epoch, k, verbose)
