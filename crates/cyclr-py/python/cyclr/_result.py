"""The outcome of a range test, as the Rust core computes it, with a plot and files."""

from __future__ import annotations

import os
import tempfile
from typing import Any

from . import _core

# The columns of range_test.csv, in order: the Rust core's.
COLUMNS = tuple(_core.CSV_COLUMNS)


class RangeTestResult:
    """What a range test found: every point, each rule's suggestion, the recommended
    (base, max) pair with how far to trust it, the stepsize advice and the warnings.

    ``outcome`` is the dict cyclr's Rust range test writes as ``range_test.json``.
    ``points`` is a dict of columns, so ``pandas.DataFrame(result.points)`` is a table.
    """

    def __init__(self, outcome: dict[str, Any]):
        self.outcome = outcome

    @property
    def analysis(self) -> dict[str, Any]:
        """Each rule's suggestion, the recommendation and the warnings (typed, as dicts)."""
        return self.outcome["analysis"]

    @property
    def recommendation(self) -> dict[str, Any] | None:
        """``{"base_lr", "max_lr", "source", "agreement"}``, or None when the curve cannot
        be trusted (``warnings`` says why)."""
        return self.analysis.get("recommendation")

    @property
    def confidence(self) -> str | None:
        """``"high"``, ``"medium"`` or ``"low"`` (``recommendation["confidence_reason"]``
        says why), or None without a recommendation."""
        r = self.recommendation
        return None if r is None else r["confidence"]

    @property
    def base_lr(self) -> float | None:
        """The recommended base learning rate, or None."""
        r = self.recommendation
        return None if r is None else r["base_lr"]

    @property
    def max_lr(self) -> float | None:
        """The recommended max learning rate, or None."""
        r = self.recommendation
        return None if r is None else r["max_lr"]

    @property
    def suggestions(self) -> dict[str, float]:
        """Each rule's suggested learning rate, by rule name."""
        return {s["rule"]: s["lr"] for s in self.analysis["suggestions"]}

    @property
    def warnings(self) -> list[str]:
        """The warnings as sentences that name the problem and what to do."""
        return _core.warning_messages(self.analysis)

    @property
    def stepsize(self) -> dict[str, Any] | None:
        """The paper's stepsize advice (2-10 epochs of updates), when the updates per epoch
        were known."""
        return self.outcome.get("stepsize")

    @property
    def early_stop(self) -> dict[str, Any] | None:
        """Why the test stopped before the end of the ramp, or None."""
        return self.outcome.get("early_stop")

    @property
    def points(self) -> dict[str, list]:
        """Every point as columns (missing values are None)."""
        pts = self.outcome["points"]
        return {c: [p.get(c) for p in pts] for c in COLUMNS}

    def schedule(self, step_size_up: int | None = None, policy: str = "triangular"):
        """A cyclical ``Schedule`` with the recommended bounds and `step_size_up` (the
        stepsize advice's suggestion when not given)."""
        if self.recommendation is None:
            raise ValueError(
                "the range test gave no recommendation: " + "; ".join(self.warnings)
            )
        if step_size_up is None:
            if self.stepsize is None:
                raise ValueError(
                    "give step_size_up, or run the range test with steps_per_epoch so that "
                    "it can advise one"
                )
            step_size_up = self.stepsize["suggested"]
        return _core.Schedule(
            policy, base_lr=self.base_lr, max_lr=self.max_lr, step_size_up=step_size_up
        )

    def summary(self) -> str:
        """The result in a few lines, as the command line prints it."""
        lines = []
        for s in self.analysis["suggestions"]:
            lines.append(f"  {s['rule']:<22} {s['lr']:.3e}  ({s['description']})")
        r = self.recommendation
        if r is not None:
            lines.append(
                f"recommended: base_lr {r['base_lr']:.3e}, max_lr {r['max_lr']:.3e} "
                f"({r['source']}; {r['agreement']})"
            )
            lines.append(f"confidence: {r['confidence']} ({r['confidence_reason']})")
        else:
            lines.append("no recommendation")
        if self.stepsize:
            lines.append(self.stepsize["note"])
        if self.early_stop:
            lines.append(f"early stop: {self.early_stop['reason']}")
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)

    def __repr__(self) -> str:
        r = self.recommendation
        if r is None:
            return "RangeTestResult(no recommendation)"
        return f"RangeTestResult(base_lr={r['base_lr']:.3e}, max_lr={r['max_lr']:.3e})"

    def plot(self, ax=None, title: str = "LR range test"):
        """Loss (smoothed) and accuracy against the learning rate, with each rule's
        suggestion and the recommended band. Needs matplotlib; returns the figure."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(
                "RangeTestResult.plot needs matplotlib: pip install matplotlib"
            ) from e
        pts = self.points
        if ax is None:
            fig, ax = plt.subplots(figsize=(8, 4.5))
        else:
            fig = ax.figure
        lrs = pts["lr"]
        ax.plot(lrs, pts["loss"], color="0.8", lw=0.8, label="loss (batch)")
        ax.plot(lrs, pts["smoothed_loss"], color="C0", label="loss (smoothed)")
        if self.outcome["ramp"]["ramp"] == "exponential":
            ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        handles, labels = ax.get_legend_handles_labels()
        acc = [(lr, a) for lr, a in zip(lrs, pts["smoothed_accuracy"]) if a is not None]
        held = [(lr, a) for lr, a in zip(lrs, pts["test_accuracy"]) if a is not None]
        if acc or held:
            ax2 = ax.twinx()
            ax2.set_ylabel("accuracy")
            if acc:
                ax2.plot(*zip(*acc), color="C1", label="accuracy (smoothed)")
            if held:
                ax2.plot(*zip(*held), "o-", color="C2", ms=3, label="held-out accuracy")
            h2, l2 = ax2.get_legend_handles_labels()
            handles, labels = handles + h2, labels + l2
        for i, s in enumerate(self.analysis["suggestions"]):
            line = ax.axvline(s["lr"], color=f"C{3 + i}", ls="--", lw=1)
            handles.append(line)
            labels.append(f"{s['rule']} {s['lr']:.2e}")
        r = self.recommendation
        if r is not None:
            band = ax.axvspan(r["base_lr"], r["max_lr"], color="C2", alpha=0.12)
            handles.append(band)
            labels.append(f"recommended {r['base_lr']:.2e} - {r['max_lr']:.2e}")
        # Outside the axes, so the legend never covers a marker.
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.12, 1.0), fontsize=8)
        ax.set_title(title)
        fig.tight_layout()
        return fig

    def save(self, directory: str | os.PathLike, title: str = "LR range test") -> list[str]:
        """Writes ``range_test.csv`` and ``range_test.json`` (and ``range_test.png`` when
        matplotlib is installed) into `directory`; returns the files written."""
        directory = os.fspath(directory)
        _core.save_outcome(self.outcome, directory)
        written = [os.path.join(directory, f) for f in ("range_test.csv", "range_test.json")]
        try:
            import matplotlib

            matplotlib.use("Agg", force=False)
        except ImportError:
            return written
        import matplotlib.pyplot as plt

        fig = self.plot(title=title)
        png = os.path.join(directory, "range_test.png")
        # A fresh temporary name per writer, then a rename: two processes saving into one
        # folder each leave a whole file, never a mix of both.
        fd, tmp = tempfile.mkstemp(prefix=".range_test.", suffix=".png.part", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                fig.savefig(f, dpi=120, format="png")
            os.replace(tmp, png)
        except BaseException:
            os.unlink(tmp)
            raise
        finally:
            plt.close(fig)
        return written + [png]
