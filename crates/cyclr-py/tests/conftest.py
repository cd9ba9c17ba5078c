"""Shared test setup: the Keras backend (JAX unless KERAS_BACKEND says otherwise) must be
chosen before Keras is imported; the goldens are the Rust crate's."""

import json
import os
import pathlib

import pytest

os.environ.setdefault("KERAS_BACKEND", "jax")
# Keep the tests on the CPU and quiet, whatever the machine has.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GOLDEN = pathlib.Path(
    os.environ.get(
        "CYCLR_GOLDEN_DIR",
        pathlib.Path(__file__).resolve().parents[2] / "cyclr" / "tests" / "golden",
    )
)


@pytest.fixture(scope="session")
def golden_cases():
    cases = json.loads((GOLDEN / "cases.json").read_text())["cases"]
    return [(case, GOLDEN / case["file"]) for case in cases]
