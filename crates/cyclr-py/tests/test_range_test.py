"""The range test's recording and analysis through the binding: the Rust core's rules."""

import json
import math

import numpy as np
import pytest

import cyclr
from cyclr import RangeTest, RangeTestResult


def synthetic(test, rise_at=3e-3, noise=0.0, seed=0):
    """Accuracy climbs around `rise_at` and the loss falls with it, then blows up."""
    rng = np.random.default_rng(seed)
    while not test.is_done:
        lr = test.lr(test.iteration)
        rise = 1 / (1 + math.exp(-(math.log(lr) - math.log(rise_at)) * 3))
        blow = max(0.0, math.log(lr / 0.3)) * 3
        loss = 2.3 - 1.2 * rise + blow + noise * rng.standard_normal()
        acc = min(1.0, max(0.0, 0.1 + 0.5 * rise - 0.1 * blow))
        if not test.record(lr, loss, acc):
            break


def test_the_core_reads_a_curve_and_stops_on_divergence(tmp_path):
    test = RangeTest(min_lr=1e-5, max_lr=10.0, iterations=300)
    synthetic(test)
    result = RangeTestResult(test.outcome(iterations_per_epoch=50))
    assert result.early_stop is not None and result.early_stop["reason"] == "diverged"
    assert result.recommendation is not None
    assert 1e-5 < result.base_lr < result.max_lr < 10
    assert {"accuracy", "steepest_descent", "valley"} <= set(result.suggestions) or result.suggestions
    assert result.stepsize["suggested"] == 250
    s = result.schedule()
    assert s.policy == "triangular" and s.lr(0) == result.base_lr
    # The same analysis as analyze() on the points.
    again = cyclr.analyze(result.outcome["points"], result.early_stop)
    assert again == result.analysis
    written = result.save(tmp_path / "rt")
    assert (tmp_path / "rt" / "range_test.csv").read_text().startswith("iteration,lr,loss,")
    saved = json.loads((tmp_path / "rt" / "range_test.json").read_text())
    assert saved["analysis"] == result.analysis
    assert any(w.endswith("range_test.png") for w in written)
    assert len(result.points["lr"]) == len(result.outcome["points"])
    assert "recommended" in result.summary() and "confidence:" in result.summary()
    assert result.confidence in ("high", "medium", "low")
    r = result.recommendation
    assert r["width_decades"] == pytest.approx(math.log10(r["max_lr"] / r["base_lr"]))
    assert r["agreeing"][1] >= 2 and r["confidence_reason"]


def test_a_flat_curve_gets_a_warning_not_a_number():
    test = RangeTest(min_lr=1e-5, max_lr=1e-4, iterations=100)
    while not test.is_done:
        test.record(test.lr(test.iteration), 2.3, None)
    result = RangeTestResult(test.outcome())
    assert result.recommendation is None
    assert any("too flat" in w for w in result.warnings)


def test_held_out_figures_are_kept_on_their_points():
    test = RangeTest(min_lr=1e-4, max_lr=1.0, iterations=50)
    synthetic(test)
    test.record_held_out(accuracy=0.5, loss=1.0)
    last = test.outcome()["points"][-1]
    assert last["test_accuracy"] == 0.5 and last["test_loss"] == 1.0


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: RangeTest(min_lr=0.0, max_lr=1.0), "cannot start at 0"),
        (lambda: RangeTest(min_lr=1.0, max_lr=0.1), "must be above"),
        (lambda: RangeTest(iterations=1), "iterations"),
        (lambda: RangeTest(iterations=-5), "iterations"),
        (lambda: RangeTest(iterations=2**70), "at most"),
        (lambda: RangeTest(iterations="100"), "integer"),
        (lambda: RangeTest(ramp="cubic"), "exponential"),
        (lambda: RangeTest(smoothing=1.0), "smoothing"),
        (lambda: RangeTest(curve="test"), "held_out"),
        (lambda: RangeTest().record(0.1, 1.0, 55.0), "not a percentage"),
        (lambda: RangeTest().record_held_out(accuracy=0.5), "before the first record"),
        (lambda: RangeTest().outcome(accumulation=0), "accumulation"),
        (lambda: cyclr.analyze([{"lr": 0.1}]), "points"),
    ],
)
def test_bad_settings_are_value_errors(make, words):
    with pytest.raises(ValueError) as e:
        make()
    assert words in str(e.value), str(e.value)


def test_the_curve_setting_picks_what_the_paper_rule_reads():
    def run(curve):
        test = RangeTest(min_lr=1e-4, max_lr=1.0, iterations=200, curve=curve)
        while not test.is_done:
            i = test.iteration
            lr = test.lr(i)
            rise_train = 1 / (1 + math.exp(-(math.log(lr) - math.log(1e-3)) * 3))
            rise_held = 1 / (1 + math.exp(-(math.log(lr) - math.log(3e-2)) * 3))
            test.record(lr, 2.3 - 1.2 * rise_train, 0.1 + 0.5 * rise_train)
            if i % 10 == 9:
                test.record_held_out(accuracy=0.1 + 0.5 * rise_held)
        a = test.outcome()["analysis"]
        return {s["rule"]: s for s in a["suggestions"]}["accuracy_base"]

    training, held = run("training"), run("held_out")
    assert "training accuracy" in training["description"]
    assert "held-out accuracy" in held["description"]
    assert held["lr"] > 5 * training["lr"]
    assert "held-out accuracy" in run("auto")["description"]


def test_two_processes_saving_into_one_folder_leave_whole_files(tmp_path):
    import subprocess
    import sys

    test = RangeTest(min_lr=1e-5, max_lr=10.0, iterations=300)
    synthetic(test)
    path = tmp_path / "outcome.json"
    path.write_text(json.dumps(test.outcome()))
    code = (
        "import json, sys; import matplotlib; matplotlib.use('Agg'); import cyclr; "
        "r = cyclr.RangeTestResult(json.load(open(sys.argv[1]))); "
        "[r.save(sys.argv[2]) for _ in range(3)]"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), str(tmp_path / "rt")])
             for _ in range(2)]
    assert all(p.wait(timeout=300) == 0 for p in procs)
    out = tmp_path / "rt"
    assert sorted(f.name for f in out.iterdir()) == ["range_test.csv", "range_test.json", "range_test.png"]
    assert json.loads((out / "range_test.json").read_text())["analysis"] == test.outcome()["analysis"]
    assert (out / "range_test.png").read_bytes()[1:4] == b"PNG"
