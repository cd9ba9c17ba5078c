"""cyclr for Keras 3 (any backend: JAX, TensorFlow, torch).

- ``CyclicalLR(schedule)``: a callback that sets the learning rate, and the momentum when
  the schedule cycles it, before every batch, from ``optimizer.iterations``: fit,
  ``model.save``, ``keras.models.load_model`` and fit again continues mid-cycle exactly.
- ``SGD``, ``Adam``, ``AdamW``: Keras's optimizers with their momentum term (SGD's
  ``momentum``, Adam's ``beta_1``) in an optimizer variable. Keras traces those two as
  Python floats into the compiled step, where changing them later has no effect; these
  read the variable, so ``CyclicalLR`` can cycle it. Otherwise they are Keras's own.
- ``range_test(model, data, ...)``: the learning-rate range test, read by cyclr's rules.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from . import _loop
from ._core import RangeTest
from ._result import RangeTestResult

__all__ = ["SGD", "Adam", "AdamW", "CyclicalLR", "range_test"]


_as_schedule = _loop.as_schedule


class _CycledMomentum:
    """Marks an optimizer whose momentum term is the variable ``cycled_momentum``."""

    def _add_cycled_momentum(self, value: float) -> None:
        with keras.name_scope(self.name, caller=self):
            # Setting the attribute tracks it among the optimizer's variables, so it is
            # part of the compiled step's state and of what model.save writes.
            self.cycled_momentum = keras.Variable(
                float(value),
                name="cycled_momentum",
                dtype=keras.backend.floatx(),
                trainable=False,
                aggregation="only_first_replica",
            )


@keras.saving.register_keras_serializable(package="cyclr")
class SGD(_CycledMomentum, keras.optimizers.SGD):
    """Keras's SGD whose ``momentum`` can be cycled by ``CyclicalLR``."""

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(
            learning_rate=learning_rate, momentum=momentum, nesterov=nesterov, **kwargs
        )
        self._add_cycled_momentum(momentum)

    def build(self, variables):
        if self.built:
            return
        # Keras's SGD makes momentum buffers only when momentum != 0 at build; a cycled
        # momentum may start at 0, so the buffers are always made.
        super(keras.optimizers.SGD, self).build(variables)
        self.momentums = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        m = self.momentums[self._get_variable_index(variable)]
        momentum = ops.cast(self.cycled_momentum, variable.dtype)
        step = ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, learning_rate))
        self.assign(m, step)
        if self.nesterov:
            self.assign_add(
                variable,
                ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, learning_rate)),
            )
        else:
            self.assign_add(variable, m)


class _CycledBeta1(_CycledMomentum):
    """Adam's update with ``beta_1`` read from ``cycled_momentum`` (Keras 3.15's rule)."""

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        local_step = ops.cast(self.iterations + 1, variable.dtype)
        beta_1 = ops.cast(self.cycled_momentum, variable.dtype)
        beta_1_power = ops.power(beta_1, local_step)
        beta_2_power = ops.power(ops.cast(self.beta_2, variable.dtype), local_step)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        alpha = lr * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        self.assign_add(m, ops.multiply(ops.subtract(gradient, m), 1 - beta_1))
        self.assign_add(v, ops.multiply(ops.subtract(ops.square(gradient), v), 1 - self.beta_2))
        if self.amsgrad:
            v_hat = self._velocity_hats[self._get_variable_index(variable)]
            self.assign(v_hat, ops.maximum(v_hat, v))
            v = v_hat
        self.assign_sub(
            variable, ops.divide(ops.multiply(m, alpha), ops.add(ops.sqrt(v), self.epsilon))
        )


@keras.saving.register_keras_serializable(package="cyclr")
class Adam(_CycledBeta1, keras.optimizers.Adam):
    """Keras's Adam whose ``beta_1`` can be cycled by ``CyclicalLR``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, **kwargs)
        self._add_cycled_momentum(beta_1)


@keras.saving.register_keras_serializable(package="cyclr")
class AdamW(_CycledBeta1, keras.optimizers.AdamW):
    """Keras's AdamW whose ``beta_1`` can be cycled by ``CyclicalLR``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, **kwargs)
        self._add_cycled_momentum(beta_1)


def _rate_variable(optimizer):
    lr = getattr(optimizer, "_learning_rate", None)
    if not isinstance(lr, keras.Variable):
        raise ValueError(
            "the optimizer's learning rate is a schedule or a callable, so it cannot be "
            "set: create the optimizer with a float learning_rate (e.g. 0.001)"
        )
    return lr


def _sync(model) -> None:
    # On JAX, fit keeps the state outside the variables between batches; this writes it
    # back so the variables can be read and set, and makes fit read them again.
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()


class CyclicalLR(keras.callbacks.Callback):
    """Sets the optimizer's learning rate to ``schedule.lr(step)`` before every batch, and
    its momentum (SGD's ``momentum``, Adam's ``beta_1``) to ``schedule.momentum(step)``
    when the schedule cycles it; ``step`` is ``optimizer.iterations``, the updates done so
    far, so a saved and reloaded model resumes mid-cycle.

    ``history`` holds ``iterations``, ``lr`` and ``momentum`` of every batch.
    """

    def __init__(self, schedule):
        super().__init__()
        self.schedule = _as_schedule(schedule)
        self.history = {"iterations": [], "lr": [], "momentum": []}

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        if optimizer is None:
            raise ValueError("CyclicalLR needs a compiled model: call model.compile first")
        steps = int(getattr(self.model, "steps_per_execution", 1) or 1)
        if steps > 1:
            raise ValueError(
                f"the model was compiled with steps_per_execution={steps}: Keras then runs "
                f"{steps} batches per call at one learning rate, so CyclicalLR cannot set "
                "the rate of each batch. Compile with steps_per_execution=1 (the default)"
            )
        _rate_variable(optimizer)
        if self.schedule.cycles_momentum and not isinstance(optimizer, _CycledMomentum):
            raise ValueError(
                f"the schedule cycles momentum, but {type(optimizer).__name__} keeps its "
                "momentum as a constant of the compiled step, where a callback cannot change "
                "it: use cyclr.keras.SGD, cyclr.keras.Adam or cyclr.keras.AdamW (Keras's "
                "own, with the momentum in a variable), or a schedule without "
                "base_momentum/max_momentum"
            )

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        _sync(self.model)
        step = int(ops.convert_to_numpy(optimizer.iterations))
        lr = self.schedule.lr(step)
        _rate_variable(optimizer).assign(lr)
        momentum = self.schedule.momentum(step)
        if momentum is not None:
            optimizer.cycled_momentum.assign(momentum)
        self.history["iterations"].append(step)
        self.history["lr"].append(lr)
        self.history["momentum"].append(momentum)


def _accuracy_of(logs: dict):
    for key, value in logs.items():
        if key.endswith("accuracy") or key in ("acc",) or key.endswith("_acc"):
            return float(value)
    return None


def _array_batches(data, batch_size: int, seed: int):
    if len(data) not in (2, 3):
        raise ValueError(
            "data must be (x, y) or (x, y, sample_weight) arrays, or an iterable of such batches"
        )
    arrays = [np.asarray(a) if not hasattr(a, "shape") else a for a in data]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(
            "x, y (and sample_weight) must have as many rows: got "
            + ", ".join(str(len(a)) for a in arrays)
        )
    if n == 0:
        raise ValueError("data is empty: the range test needs at least one batch")
    rng = np.random.default_rng(seed)

    def batches():
        while True:
            order = rng.permutation(n)
            for i in range(0, n, batch_size):
                idx = order[i : i + batch_size]
                yield tuple(a[idx] for a in arrays)

    return batches(), math.ceil(n / batch_size)


def _iterable_batches(data):
    try:
        per_epoch = len(data)
    except TypeError:
        per_epoch = None
    return _loop.cycled(data), per_epoch


def range_test(
    model,
    data,
    *,
    batch_size: int = 32,
    iterations: int = 100,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    ramp: str = "exponential",
    smoothing: float = 0.98,
    diverge_factor: float = 4.0,
    curve: str = "auto",
    validation_data=None,
    eval_every: int | None = None,
    steps_per_epoch: int | None = None,
    seed: int = 0,
    verbose: bool = True,
) -> RangeTestResult:
    """The learning-rate range test on a compiled Keras model: raises the rate from
    `min_lr` to `max_lr` over `iterations` updates (``"exponential"`` or ``"linear"``),
    one batch each, recording the loss and, when the model is compiled with an accuracy
    metric, the accuracy; with `validation_data` also held-out accuracy and loss every
    `eval_every` updates (about 20 times per ramp by default), which the paper's rule then
    prefers (`curve`: ``"auto"``, ``"training"`` or ``"held_out"`` picks the curve it
    reads). Stops early when the loss diverges, or on Ctrl-C, keeping what was recorded.

    `data` is ``(x, y)`` (or ``(x, y, sample_weight)``) arrays, batched by `batch_size`
    and shuffled with `seed`, or an iterable of batches (a ``tf.data.Dataset``, a
    ``keras.utils.PyDataset``, a generator). `steps_per_epoch` (updates per epoch; read
    from the data when it can be) gives the stepsize advice.

    The model's weights and the optimizer's state are put back afterwards. Returns a
    ``RangeTestResult``: each rule's suggestion, the recommended (base, max) pair, the
    stepsize advice and the warnings, as cyclr's Rust range test gives them.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not getattr(model, "compiled", True):
        raise ValueError(
            "range_test needs a compiled model: model.compile(optimizer=..., loss=..., "
            'metrics=["accuracy"])'
        )
    lr_variable = _rate_variable(optimizer)
    if getattr(optimizer, "gradient_accumulation_steps", None):
        raise ValueError(
            "the optimizer accumulates gradients (gradient_accumulation_steps), which "
            "range_test does not support yet: compile a copy without it for the range test"
        )
    _loop.check_count("batch_size", batch_size)
    _loop.check_count("seed", seed, minimum=0)
    test = RangeTest(min_lr, max_lr, iterations, ramp, smoothing, diverge_factor, curve)
    every = _loop.check_eval_every(eval_every, validation_data is not None, iterations)
    if steps_per_epoch is not None:
        _loop.check_count("steps_per_epoch", steps_per_epoch)

    if isinstance(data, (tuple, list)):
        batches, per_epoch = _array_batches(data, batch_size, seed)
    else:
        batches, per_epoch = _iterable_batches(data)
    steps_per_epoch = steps_per_epoch or per_epoch

    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    _sync(model)
    weights = model.get_weights()
    optimizer_state = [ops.convert_to_numpy(v) for v in optimizer.variables]

    def update(lr):
        try:
            batch = next(batches)
        except StopIteration:
            raise _loop.OutOfData from None
        if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
            raise ValueError(
                "each batch must be (x, y) or (x, y, sample_weight), got "
                f"{type(batch).__name__}"
            )
        lr_variable.assign(lr)
        model.reset_metrics()
        logs = model.train_on_batch(*batch, return_dict=True)
        return float(logs["loss"]), _accuracy_of(logs)

    held_out = None
    if validation_data is not None:

        def held_out():
            if isinstance(validation_data, (tuple, list)):
                logs = model.evaluate(
                    *validation_data, batch_size=batch_size, verbose=0, return_dict=True
                )
            else:
                logs = model.evaluate(validation_data, verbose=0, return_dict=True)
            return _accuracy_of(logs), float(logs["loss"])

    def restore():
        _sync(model)
        model.set_weights(weights)
        for variable, value in zip(optimizer.variables, optimizer_state):
            variable.assign(value)
        model.reset_metrics()

    return _loop.drive(test, update, held_out, every, restore, steps_per_epoch, 1, verbose)
