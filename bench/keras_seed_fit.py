"""The seed post's training as it runs it: its model in tf.keras, Adam at 0.001, one
`model.fit(x, y, epochs=E, batch_size=100, validation_data=(x_test, y_test))`, timed by a
callback at each epoch's start and end (validation included, as in fit). Prints one JSON
object: seconds from process start to the end, per epoch, and the final test accuracy."""
import time

START = time.perf_counter()
import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

import seed_data  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--data", required=True)
p.add_argument("--epochs", type=int, default=4)
p.add_argument("--train-limit", type=int, default=25_000)
p.add_argument("--test-limit", type=int, default=10_000)
p.add_argument("--threads", type=int, default=None)
a = p.parse_args()
if a.threads:
    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
tf.random.set_seed(0)
train_images, train_labels, test_images, test_labels = seed_data.load(
    a.data, a.train_limit, a.test_limit)


def build_model():  # the post's, with an Input layer instead of input_shape= (Keras 3)
    model = tf.keras.models.Sequential()
    model.add(tf.keras.Input((32, 32, 3)))
    model.add(tf.keras.layers.Conv2D(32, (3, 3), activation="relu"))
    model.add(tf.keras.layers.MaxPooling2D((2, 2)))
    model.add(tf.keras.layers.Conv2D(64, (3, 3), activation="relu"))
    model.add(tf.keras.layers.MaxPooling2D((2, 2)))
    model.add(tf.keras.layers.Conv2D(64, (3, 3), activation="relu"))
    model.add(tf.keras.layers.Flatten())
    model.add(tf.keras.layers.Dense(64, activation="relu"))
    model.add(tf.keras.layers.Dense(10))
    return model


class EpochClock(tf.keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        epochs.append(time.perf_counter() - self.t)


epochs = []
model = build_model()
model.compile(optimizer="adam",
              loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
history = model.fit(train_images, train_labels, epochs=a.epochs, batch_size=100,
                    validation_data=(test_images, test_labels), callbacks=[EpochClock()],
                    verbose=0)
print(json.dumps({
    "framework": f"Keras {tf.keras.__version__} / TensorFlow {tf.__version__}, model.fit",
    "total_s": time.perf_counter() - START,
    "epoch_s": epochs,
    "test_accuracy": float(history.history["val_accuracy"][-1]),
}))
