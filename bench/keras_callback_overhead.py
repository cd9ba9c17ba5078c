"""What cyclr.keras.CyclicalLR costs per batch, beside one Keras training step of the
seed's CNN (batch 100, random CIFAR-shaped data, Keras 3 on the backend KERAS_BACKEND
names, JAX by default).

Each round fits one epoch of N batches without the callback and one with it (in
alternating order); the overhead per batch is the difference over N, and the round's
ratio is with / without. Also timed alone: the callback's on_train_batch_begin, called
N times outside fit (no state to sync), which is its own work (schedule value, variable
assignments, reading the step). Prints one JSON object: medians and ranges.
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402
import numpy as np  # noqa: E402

import cyclr  # noqa: E402
from cyclr.keras import Adam, CyclicalLR  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--batches", type=int, default=100)
p.add_argument("--rounds", type=int, default=7)
a = p.parse_args()
B, N = 100, a.batches

keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((32, 32, 3)),
    keras.layers.Conv2D(32, (3, 3), activation="relu"),
    keras.layers.MaxPooling2D((2, 2)),
    keras.layers.Conv2D(64, (3, 3), activation="relu"),
    keras.layers.MaxPooling2D((2, 2)),
    keras.layers.Conv2D(64, (3, 3), activation="relu"),
    keras.layers.Flatten(),
    keras.layers.Dense(64, activation="relu"),
    keras.layers.Dense(10),
])
model.compile(optimizer=Adam(0.001),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
rng = np.random.default_rng(0)
x = rng.standard_normal((B * N, 32, 32, 3), dtype=np.float32)
y = rng.integers(0, 10, B * N)
schedule = cyclr.Schedule("triangular", base_lr=0.001, max_lr=0.006, step_size_up=500,
                          base_momentum=0.85, max_momentum=0.95)


def fit(callbacks):
    t = time.perf_counter()
    model.fit(x, y, batch_size=B, epochs=1, verbose=0, shuffle=False, callbacks=callbacks)
    return time.perf_counter() - t


fit([CyclicalLR(schedule)])  # compile and warm up both paths
fit([])
step_us, overhead_us, ratios = [], [], []
for r in range(a.rounds):
    if r % 2:
        with_cb = fit([CyclicalLR(schedule)])
        without = fit([])
    else:
        without = fit([])
        with_cb = fit([CyclicalLR(schedule)])
    step_us.append(without / N * 1e6)
    overhead_us.append((with_cb - without) / N * 1e6)
    ratios.append(with_cb / without)

cb = CyclicalLR(schedule)
cb.set_model(model)
alone = []
for _ in range(a.rounds):
    t = time.perf_counter()
    for b in range(N):
        cb.on_train_batch_begin(b)
    alone.append((time.perf_counter() - t) / N * 1e6)


def spread(v):
    return {"median": statistics.median(v), "min": min(v), "max": max(v)}


print(json.dumps({
    "framework": f"Keras {keras.__version__} on {keras.backend.backend()}",
    "batches_per_round": N, "rounds": a.rounds,
    "train_step_us": spread(step_us),
    "callback_overhead_in_fit_us": spread(overhead_us),
    "with_over_without": spread(ratios),
    "callback_alone_us": spread(alone),
}))
