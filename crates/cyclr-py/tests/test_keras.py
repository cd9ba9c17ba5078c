"""cyclr.keras on the backend KERAS_BACKEND names (JAX by default; scripts/test runs this
file on each backend installed). The rate and momentum are checked by the weights the
compiled step produces, not by the optimizer's attributes."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import cyclr  # noqa: E402
from cyclr import Schedule  # noqa: E402
from cyclr.keras import SGD, Adam, AdamW, CyclicalLR, range_test  # noqa: E402

BATCH, N = 8, 40  # 5 batches per epoch


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 3)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.3)[:, None].astype("float32")
    return x, y


def linear(optimizer):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def replay(model_weights, x, y, schedule, steps, rule):
    """The weights of `steps` updates in float64, by Keras's own update rule, at the
    schedule's rate and momentum of each update."""
    w, b = (np.asarray(a, dtype=np.float64) for a in model_weights)
    state = {}
    for k in range(steps):
        i = (k * BATCH) % N
        xb, yb = x[i:i + BATCH].astype(np.float64), y[i:i + BATCH].astype(np.float64)
        err = xb @ w + b - yb
        gw, gb = 2 * xb.T @ err / len(xb), 2 * err.sum(0) / len(xb)
        lr, m = schedule.lr(k), schedule.momentum(k)
        (w, b) = rule(state, k, (w, b), (gw, gb), lr, m)
    return w, b


def sgd_rule(state, k, params, grads, lr, mu):
    out = []
    for j, (p, g) in enumerate(zip(params, grads)):
        m = state.get(j, np.zeros_like(p)) * mu - g * lr
        state[j] = m
        out.append(p + m)
    return out


def adam_rule(state, k, params, grads, lr, b1, b2=0.999, eps=1e-7):
    out = []
    t = k + 1
    alpha = lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    for j, (p, g) in enumerate(zip(params, grads)):
        m, v = state.get(j, (np.zeros_like(p), np.zeros_like(p)))
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        state[j] = (m, v)
        out.append(p - m * alpha / (np.sqrt(v) + eps))
    return out


CYCLIC = Schedule("triangular", base_lr=0.01, max_lr=0.1, step_size_up=3,
                  base_momentum=0.5, max_momentum=0.95)


@pytest.mark.parametrize("make, rule, schedule", [
    (lambda: SGD(learning_rate=0.5, momentum=0.9), sgd_rule, CYCLIC),
    (lambda: Adam(learning_rate=0.5), adam_rule,
     Schedule("one_cycle", max_lr=0.1, total_steps=10, base_momentum=0.6, max_momentum=0.95)),
])
def test_every_batch_trains_at_the_schedules_rate_and_momentum(make, rule, schedule):
    x, y = data()
    model = linear(make())
    start = [np.array(a) for a in model.get_weights()]
    cb = CyclicalLR(schedule)
    model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0, callbacks=[cb])
    steps = 2 * N // BATCH
    assert cb.history["iterations"] == list(range(steps))
    np.testing.assert_array_equal(cb.history["lr"], schedule.lr(np.arange(steps)))
    np.testing.assert_array_equal(cb.history["momentum"], schedule.momentum(np.arange(steps)))
    got = model.get_weights()
    want = replay(start, x, y, schedule, steps, rule)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    # The check can fail: with the momentum held where it started, the weights differ.
    class Held:
        def lr(self, k):
            return schedule.lr(k)

        def momentum(self, k):
            return schedule.momentum(0)
    held = replay(start, x, y, Held(), steps, rule)
    assert max(np.abs(g - h).max() for g, h in zip(got, held)) > 1e-3


def test_a_plain_keras_sgd_gets_the_rate_too():
    x, y = data()
    s = Schedule("triangular2", base_lr=0.01, max_lr=0.1, step_size_up=2)
    model = linear(keras.optimizers.SGD(learning_rate=1.0))
    start = [np.array(a) for a in model.get_weights()]
    model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0, callbacks=[CyclicalLR(s)])

    class NoMomentum:
        lr = s.lr

        def momentum(self, k):
            return 0.0
    want = replay(start, x, y, NoMomentum(), 10, sgd_rule)
    for g, w in zip(model.get_weights(), want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make", [lambda: SGD(learning_rate=0.5, momentum=0.9),
                                  lambda: AdamW(learning_rate=0.5, weight_decay=0.01)])
def test_save_load_and_fit_again_continues_mid_cycle_exactly(tmp_path, make):
    x, y = data()
    s = Schedule("triangular", base_lr=0.01, max_lr=0.1, step_size_up=3,
                 base_momentum=0.8, max_momentum=0.95)
    straight = linear(make())
    straight.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0, callbacks=[CyclicalLR(s)])
    first = linear(make())
    first.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[CyclicalLR(s)])
    path = tmp_path / "mid_cycle.keras"
    first.save(path)
    again = keras.models.load_model(path)
    assert type(again.optimizer) is type(first.optimizer)
    cb = CyclicalLR(s)
    again.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[cb])
    assert cb.history["iterations"] == [5, 6, 7, 8, 9]
    for a, b in zip(again.get_weights(), straight.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_what_cannot_work_is_refused_with_a_value_error():
    x, y = data()
    model = linear(keras.optimizers.SGD(learning_rate=0.1, momentum=0.9))
    with pytest.raises(ValueError, match="cyclr.keras.SGD"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[CyclicalLR(CYCLIC)])
    keras.utils.set_random_seed(0)
    m2 = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    m2.compile(optimizer=SGD(0.1), loss="mse", steps_per_execution=2)
    with pytest.raises(ValueError, match="steps_per_execution=2"):
        m2.fit(x, y, epochs=1, verbose=0, callbacks=[CyclicalLR(Schedule.example("triangular"))])
    m3 = linear(keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)))
    with pytest.raises(ValueError, match="float learning_rate"):
        m3.fit(x, y, epochs=1, verbose=0, callbacks=[CyclicalLR(Schedule.example("fixed"))])
    with pytest.raises(ValueError, match="cyclr.Schedule"):
        CyclicalLR("triangular")


def classifier():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(32, activation="relu"),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer=Adam(0.003), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def classes(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype("float32")
    y = ((x[:, 0] + 0.5 * x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int))
    return x, y


def test_range_test_puts_weights_and_optimizer_back_and_reads_held_out_accuracy():
    x, y = classes(512, 0)
    model = classifier()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    weights = [np.array(w) for w in model.get_weights()]
    state = [np.array(keras.ops.convert_to_numpy(v)) for v in model.optimizer.variables]
    result = range_test(model, (x, y), batch_size=32, iterations=60, min_lr=1e-5, max_lr=1.0,
                        validation_data=classes(128, 1), eval_every=10, verbose=False)
    for a, b in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(a, b)
    for v, b in zip(model.optimizer.variables, state):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(v), b)
    points = result.outcome["points"]
    assert 10 <= len(points) <= 60
    assert all(0 <= p["accuracy"] <= 1 for p in points)
    assert any("test_accuracy" in p for p in points)
    assert result.stepsize["iterations_per_epoch"] == 16
    assert result.recommendation is not None or result.warnings
    # The model still trains as before the test.
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)


def test_range_test_bad_input_is_a_value_error():
    x, y = classes(64, 0)
    uncompiled = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="compiled model"):
        range_test(uncompiled, (x, y))
    model = classifier()
    for kwargs, words in [
        (dict(iterations=1), "iterations"),
        (dict(batch_size=0), "batch_size"),
        (dict(max_lr=-1.0), "max_lr"),
        (dict(eval_every=3), "held-out data"),
    ]:
        with pytest.raises(ValueError) as e:
            range_test(model, (x, y), verbose=False, **kwargs)
        assert words in str(e.value)
    with pytest.raises(ValueError, match="as many rows"):
        range_test(model, (x, y[:10]), verbose=False)
