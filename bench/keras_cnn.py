"""The seed's Keras model measured like `cyclr bench`: batch 100, random data, warm-up,
median of repeats. Training is one long `fit` (the seed's way) and evaluation one long
`predict`; a callback stamps the time at the end of every batch, and each repeat is the
time between two stamps `--iters` batches apart. So `fit`'s own set-up (data adapter,
callbacks, tracing), paid once per call, is not counted in any repeat: a user pays it once
per run, not once every 30 steps (the whole run is bench/end_to_end.py's job).
Prints one JSON object."""
import argparse
import json
import os
import resource
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--batch-size", type=int, default=100)
p.add_argument("--warmup", type=int, default=10)
p.add_argument("--iters", type=int, default=30)
p.add_argument("--repeats", type=int, default=5)
p.add_argument("--threads", type=int, default=None)
a = p.parse_args()
if a.warmup < 1 or a.iters < 1 or a.repeats < 1:
    p.error("--warmup, --iters and --repeats must be at least 1")
if a.threads:
    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
tf.random.set_seed(0)
B = a.batch_size

model = tf.keras.models.Sequential([
    tf.keras.Input((32, 32, 3)),
    tf.keras.layers.Conv2D(32, (3, 3), activation="relu"),
    tf.keras.layers.MaxPooling2D((2, 2)),
    tf.keras.layers.Conv2D(64, (3, 3), activation="relu"),
    tf.keras.layers.MaxPooling2D((2, 2)),
    tf.keras.layers.Conv2D(64, (3, 3), activation="relu"),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(64, activation="relu"),
    tf.keras.layers.Dense(10),
])
model.compile(optimizer="adam",
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
rng = np.random.default_rng(0)
x = rng.standard_normal((B * a.iters, 32, 32, 3), dtype=np.float32)
y = rng.integers(0, 10, B * a.iters)


class Stamps(tf.keras.callbacks.Callback):
    """perf_counter() at the end of every training and prediction batch."""

    def __init__(self):
        super().__init__()
        self.train, self.predict = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.train.append(time.perf_counter())

    def on_predict_batch_end(self, batch, logs=None):
        self.predict.append(time.perf_counter())


def windows(stamps):
    """Images per second over each run of --iters batches after the warm-up."""
    start = a.warmup - 1
    return [a.iters * B / (stamps[start + (r + 1) * a.iters] - stamps[start + r * a.iters])
            for r in range(a.repeats)]


steps = a.warmup + a.repeats * a.iters
xs = np.concatenate([x] * (-(-steps // a.iters)))[: B * steps]
ys = np.concatenate([y] * (-(-steps // a.iters)))[: B * steps]
stamps = Stamps()
model.fit(xs, ys, batch_size=B, epochs=1, verbose=0, shuffle=False, callbacks=[stamps])
model.predict(xs, batch_size=B, verbose=0, callbacks=[stamps])
train, evals = windows(stamps.train), windows(stamps.predict)

print(json.dumps({
    "framework": f"Keras {tf.keras.__version__} / TF {tf.__version__}",
    "threads": a.threads or os.cpu_count(),
    "measured": "per-batch callback stamps inside one fit and one predict call",
    "train_images_per_s": statistics.median(train),
    "eval_images_per_s": statistics.median(evals),
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
