"""cyclr.Schedule through the binding: PyTorch's goldens, configs, pickling, bad input."""

import pickle

import numpy as np
import pytest

import cyclr
from cyclr import Schedule


def schedule_of_case(case):
    """A golden case (PyTorch's argument names) as a Schedule, keyword for keyword."""
    kind = case["kind"]
    skip = {"file", "kind", "steps", "mode"}
    kwargs = {k: v for k, v in case.items() if k not in skip}
    policy = {"cyclic": case.get("mode"), "onecycle": "one_cycle", "sgdr": "sgdr"}[kind]
    return Schedule(policy, **kwargs)


def test_every_golden_case_matches_pytorch_to_1e9(golden_cases):
    assert len(golden_cases) >= 7
    for case, path in golden_cases:
        table = np.genfromtxt(path, delimiter=",", names=True)
        s = schedule_of_case(case)
        steps = table["step"].astype(np.int64)
        lr = s.lr(steps)
        assert lr.shape == steps.shape
        np.testing.assert_allclose(lr, table["lr"], rtol=1e-9, atol=0, err_msg=case["file"])
        if "momentum" in table.dtype.names:
            m = s.momentum(steps)
            np.testing.assert_allclose(m, table["momentum"], rtol=1e-9, atol=0)
        # The scalar path gives the same numbers as the array path.
        for k in (0, 1, len(steps) // 2, len(steps) - 1):
            assert s.lr(int(steps[k])) == lr[k]


def test_every_policy_round_trips_through_dict_json_toml_and_pickle():
    names = cyclr.policies()
    assert "triangular" in names and "one_cycle" in names and "sequence" in names
    for name in names:
        s = Schedule.example(name)
        assert s.policy == name
        steps = np.arange(0, 3 * s.span)
        for back in (
            Schedule.from_dict(s.to_dict()),
            Schedule.from_json(s.to_json()),
            Schedule.from_toml(s.to_toml()),
            pickle.loads(pickle.dumps(s)),
            eval(repr(s), {"Schedule": Schedule}),
        ):
            assert back == s, name
            np.testing.assert_array_equal(back.lr(steps), s.lr(steps))
        low, high = s.lr_range()
        values = s.lr(steps)
        assert values.min() >= low - 1e-15 and values.max() <= high + 1e-15, name


def test_keywords_are_pytorchs_and_shapes_are_kept():
    s = Schedule("sgdr", max_lr=0.01, T_0=10, T_mult=2, eta_min=1e-5)
    assert s.to_dict() == {"policy": "sgdr", "max_lr": 0.01, "t0": 10, "t_mult": 2, "min_lr": 1e-5}
    grid = np.arange(12).reshape(3, 4)
    assert s.lr(grid).shape == (3, 4)
    assert s.lr([1, 2]).tolist() == [s.lr(1), s.lr(2)]
    # Unsigned steps beyond 2^63 are steps, not negatives.
    big = np.array([2**63 + 5], dtype=np.uint64)
    assert s.lr(big)[0] == s.lr(2**63 + 5)
    assert s.momentum(3) is None and not s.cycles_momentum
    c = Schedule("triangular", base_lr=0.1, max_lr=1.0, step_size_up=2,
                 base_momentum=0.8, max_momentum=0.9)
    assert c.cycles_momentum
    assert c.momentum(0) == pytest.approx(0.9) and c.momentum(2) == pytest.approx(0.8)
    # A count computed by Python division is taken when it is a whole number.
    assert Schedule("triangular", base_lr=0.1, max_lr=1.0, step_size_up=4.0) == Schedule(
        "triangular", base_lr=0.1, max_lr=1.0, step_size_up=4
    )


def test_a_sequence_takes_schedules_or_dicts():
    warm = Schedule("linear", start_lr=0.0, end_lr=0.01, steps=10)
    s = Schedule("sequence", boundaries=[10], schedules=[warm, Schedule.example("triangular")])
    t = Schedule.from_dict({"policy": "sequence", "boundaries": [10],
                            "schedules": [warm.to_dict(), Schedule.example("triangular")]})
    assert s == t
    assert s.lr(5) == pytest.approx(0.005)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: Schedule("triangle"), "unknown policy 'triangle'"),
        (lambda: Schedule("triangular", base_lr=0.001, step_size_up=5), "needs max_lr"),
        (lambda: Schedule("fixed", base_lr=0.1, max_lr=0.2), "max_lr does not apply"),
        (lambda: Schedule("triangular", base_lr=0.01, max_lr=0.001, step_size_up=5), "swap them"),
        (lambda: Schedule("triangular", base_lr=-1.0, max_lr=0.1, step_size_up=5), "cannot be negative"),
        (lambda: Schedule("triangular", base_lr=float("nan"), max_lr=0.1, step_size_up=5), "finite"),
        (lambda: Schedule("triangular", base_lr=0.1, max_lr=0.2, step_size_up=2.5), "step_size_up = 2.5"),
        (lambda: Schedule("one_cycle", max_lr=0.1, total_steps=10, anneal_strategy="cosine"), "anneal_strategy"),
        (lambda: Schedule.from_dict({"base_lr": 0.1}), "needs a 'policy' key"),
        (lambda: Schedule.from_dict({"policy": "fixed", "base_lr": float("inf")}), "finite"),
        (lambda: Schedule.from_json("{"), "not valid JSON"),
        (lambda: Schedule.from_toml("policy = "), "not valid TOML"),
        (lambda: Schedule.example("nope"), "unknown policy"),
        (lambda: Schedule.example("fixed").lr(-1), "negative"),
        (lambda: Schedule.example("fixed").lr(np.array([0.5])), "integers"),
        (lambda: Schedule.example("fixed").lr("3"), "integer"),
        (lambda: Schedule.example("fixed").momentum([-2]), "negative"),
    ],
)
def test_bad_input_is_a_value_error_with_the_cores_message(make, words):
    with pytest.raises(ValueError, match=None) as e:
        make()
    assert words in str(e.value), str(e.value)
