"""cyclr: cyclical learning rates, 1cycle, SGDR and the learning-rate range test.

Every schedule and every range-test rule is computed by cyclr's Rust core (the same code
as the Rust crates), so a schedule gives the same values in Keras, PyTorch and burn.

- ``cyclr.Schedule``: any policy by name, with PyTorch's keyword names.
- ``cyclr.keras``: the ``CyclicalLR`` callback, optimizers whose momentum can cycle, and
  ``range_test``.
- ``cyclr.torch``: the ``CyclrLR`` scheduler and ``range_test``.

``cyclr.keras`` and ``cyclr.torch`` are imported on first use, so neither framework is
needed for the other.
"""

from ._core import RangeTest, Schedule, __version__, analyze, policies, stepsize_advice
from ._result import RangeTestResult

__all__ = [
    "RangeTest",
    "RangeTestResult",
    "Schedule",
    "__version__",
    "analyze",
    "policies",
    "stepsize_advice",
]


def __getattr__(name):
    # `cyclr.keras` / `cyclr.torch` without importing both frameworks up front.
    if name in ("keras", "torch"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'cyclr' has no attribute {name!r}")
