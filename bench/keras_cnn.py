"""The seed's Keras model measured like `cyclr bench`: batch 100, random data, warm-up,
median of repeats. Training uses `fit` (the seed's way), evaluation `predict_on_batch`.
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

model.fit(x[: B * a.warmup], y[: B * a.warmup], batch_size=B, epochs=1, verbose=0)
train = []
for _ in range(a.repeats):
    t = time.perf_counter()
    model.fit(x, y, batch_size=B, epochs=1, verbose=0)
    train.append(len(x) / (time.perf_counter() - t))

for i in range(a.warmup):
    model.predict_on_batch(x[i * B:(i + 1) * B])
evals = []
for _ in range(a.repeats):
    t = time.perf_counter()
    for i in range(a.iters):
        np.argmax(model.predict_on_batch(x[i * B:(i + 1) * B]), axis=1)
    evals.append(a.iters * B / (time.perf_counter() - t))

print(json.dumps({
    "framework": f"Keras {tf.keras.__version__} / TF {tf.__version__}",
    "threads": a.threads or os.cpu_count(),
    "train_images_per_s": statistics.median(train),
    "eval_images_per_s": statistics.median(evals),
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
