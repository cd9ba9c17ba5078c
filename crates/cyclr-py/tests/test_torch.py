"""cyclr.torch: the scheduler against torch's own, its state_dict, the range test."""

import copy
import io

import pytest

torch = pytest.importorskip("torch")

import cyclr  # noqa: E402
from cyclr import Schedule  # noqa: E402
from cyclr.torch import CyclrLR, range_test  # noqa: E402


def params():
    return [torch.nn.Parameter(torch.zeros(3))]


def run(scheduler, optimizer, steps, key="momentum"):
    """The lr and momentum each update trains with, as PyTorch's scheduler tests read them."""
    lrs, moms = [], []
    for _ in range(steps):
        g = optimizer.param_groups[0]
        lrs.append(g["lr"])
        moms.append(g["betas"][0] if key == "betas" else g.get("momentum"))
        optimizer.step()
        scheduler.step()
    return lrs, moms


def close(a, b):
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        assert abs(x - y) <= 1e-9 * abs(y), (i, x, y)


@pytest.mark.parametrize("mode, gamma", [("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 0.999)])
def test_cyclic_matches_torchs_cycliclr_with_momentum(mode, gamma):
    kw = dict(base_lr=0.001, max_lr=0.006, step_size_up=20, step_size_down=30)
    ref_opt = torch.optim.SGD(params(), lr=0.1, momentum=0.9)
    ref = torch.optim.lr_scheduler.CyclicLR(ref_opt, mode=mode, gamma=gamma, base_momentum=0.8,
                                            max_momentum=0.9, **kw)
    opt = torch.optim.SGD(params(), lr=0.1, momentum=0.9)
    extra = {"gamma": gamma} if mode == "exp_range" else {}
    ours = CyclrLR(opt, Schedule(mode, base_momentum=0.8, max_momentum=0.9, **kw, **extra))
    want_lr, want_m = run(ref, ref_opt, 250)
    got_lr, got_m = run(ours, opt, 250)
    close(got_lr, want_lr)
    close(got_m, want_m)


@pytest.mark.parametrize("anneal, three_phase", [("cos", False), ("linear", True)])
def test_one_cycle_matches_torchs_onecyclelr_on_adams_betas(anneal, three_phase):
    kw = dict(max_lr=0.01, total_steps=300, pct_start=0.3, anneal_strategy=anneal,
              div_factor=25.0, final_div_factor=1e4, three_phase=three_phase)
    ref_opt = torch.optim.Adam(params(), lr=0.1)
    ref = torch.optim.lr_scheduler.OneCycleLR(ref_opt, base_momentum=0.85, max_momentum=0.95, **kw)
    opt = torch.optim.Adam(params(), lr=0.1)
    ours = CyclrLR(opt, Schedule("one_cycle", base_momentum=0.85, max_momentum=0.95, **kw))
    want_lr, want_b = run(ref, ref_opt, 299, key="betas")
    got_lr, got_b = run(ours, opt, 299, key="betas")
    close(got_lr, want_lr)
    close(got_b, want_b)
    assert opt.param_groups[0]["betas"][1] == 0.999


def test_sgdr_matches_cosine_annealing_warm_restarts():
    ref_opt = torch.optim.SGD(params(), lr=0.01)
    ref = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(ref_opt, T_0=10, T_mult=2, eta_min=1e-5)
    opt = torch.optim.SGD(params(), lr=0.01)
    ours = CyclrLR(opt, Schedule("sgdr", max_lr=0.01, T_0=10, T_mult=2, eta_min=1e-5))
    close(run(ours, opt, 150)[0], run(ref, ref_opt, 150)[0])


def test_each_param_group_follows_its_own_schedule_and_adamw_cycles_beta1():
    a, b = params(), params()
    opt = torch.optim.AdamW([{"params": a}, {"params": b}], lr=0.1, betas=(0.9, 0.99))
    s1 = Schedule("triangular", base_lr=0.001, max_lr=0.01, step_size_up=5,
                  base_momentum=0.85, max_momentum=0.95)
    s2 = Schedule("fixed", base_lr=0.5)
    sched = CyclrLR(opt, [s1, s2])
    for k in range(12):
        g1, g2 = opt.param_groups
        assert g1["lr"] == s1.lr(k) and g2["lr"] == 0.5
        assert g1["betas"] == (s1.momentum(k), 0.99) and g2["betas"] == (0.9, 0.99)
        opt.step()
        sched.step()


def test_state_dict_round_trips_mid_cycle_through_weights_only_load():
    s = Schedule("triangular2", base_lr=0.001, max_lr=0.006, step_size_up=4,
                 base_momentum=0.8, max_momentum=0.9)
    opt = torch.optim.SGD(params(), lr=0.1, momentum=0.9)
    sched = CyclrLR(opt, s)
    run(sched, opt, 7)
    buf = io.BytesIO()
    torch.save({"scheduler": sched.state_dict(), "optimizer": opt.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)
    later = run(sched, opt, 20)
    opt2 = torch.optim.SGD(params(), lr=0.1, momentum=0.9)
    opt2.load_state_dict(saved["optimizer"])
    sched2 = CyclrLR(opt2, Schedule("fixed", base_lr=1.0))
    sched2.load_state_dict(saved["scheduler"])
    assert sched2.schedules[0] == s
    assert run(sched2, opt2, 20) == later


def test_bad_input_is_a_value_error():
    with pytest.raises(ValueError, match="neither 'momentum' nor 'betas'"):
        CyclrLR(torch.optim.Adagrad(params()), Schedule.example("one_cycle"))
    with pytest.raises(ValueError, match="2 schedules for 1 param groups"):
        CyclrLR(torch.optim.SGD(params(), lr=0.1), [Schedule.example("fixed")] * 2)
    with pytest.raises(ValueError, match="cyclr.Schedule"):
        CyclrLR(torch.optim.SGD(params(), lr=0.1), "triangular")
    with pytest.raises(ValueError, match="no 'schedules'"):
        CyclrLR(torch.optim.SGD(params(), lr=0.1), Schedule.example("fixed")).load_state_dict({})


def classification(n=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long() + (x[:, 2] > 1).long()
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16,
                                       shuffle=True, generator=g)


def net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.BatchNorm1d(32), torch.nn.ReLU(),
                               torch.nn.Dropout(0.1), torch.nn.Linear(32, 3))


def snapshot(model, opt):
    return (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()),
            [None if p.grad is None else p.grad.clone() for p in model.parameters()], model.training)


def same(a, b):
    (ma, oa, ga, ta), (mb, ob, gb, tb) = a, b
    assert ta == tb
    assert ma.keys() == mb.keys() and all(torch.equal(ma[k], mb[k]) for k in ma)
    assert oa["param_groups"] == ob["param_groups"]
    assert oa["state"].keys() == ob["state"].keys()
    for k in oa["state"]:
        for f in oa["state"][k]:
            assert torch.equal(torch.as_tensor(oa["state"][k][f]), torch.as_tensor(ob["state"][k][f]))
    for x, y in zip(ga, gb):
        assert (x is None and y is None) or torch.equal(x, y)


def test_range_test_puts_model_and_optimizer_back_and_reads_held_out_accuracy():
    model, loader = net(), classification()
    opt = torch.optim.Adam(model.parameters(), lr=0.003)
    loss_fn = torch.nn.CrossEntropyLoss()
    for x, y in list(loader)[:5]:  # some optimizer state and gradients to keep
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    model.eval()
    before = snapshot(model, opt)
    result = range_test(model, opt, loader, loss_fn, iterations=60, min_lr=1e-5, max_lr=1.0,
                        accumulation_steps=2, val_loader=classification(128, seed=1),
                        eval_every=10, verbose=False)
    same(before, snapshot(model, opt))
    assert result.outcome["accumulation"] == 2
    points = result.outcome["points"]
    assert 10 <= len(points) <= 60
    assert all(p["accuracy"] is not None for p in points)
    held = [p for p in points if "test_accuracy" in p]
    assert held and all(0 <= p["test_accuracy"] <= 1 for p in held)
    assert result.stepsize["iterations_per_epoch"] == len(loader) // 2
    assert result.recommendation is not None or result.warnings


def test_range_test_on_a_regression_reads_the_loss_only():
    torch.manual_seed(0)
    x = torch.randn(256, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(256)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y[:, None]), batch_size=32)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    result = range_test(model, opt, loader, torch.nn.MSELoss(), iterations=80, min_lr=1e-4,
                        max_lr=10.0, verbose=False)
    assert all("accuracy" not in p for p in result.outcome["points"])
    assert "steepest_descent" in result.suggestions
    assert result.early_stop is not None  # 10 is far past where SGD diverges here


def test_range_test_bad_input_is_a_value_error():
    model, loader = net(), classification()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = torch.nn.CrossEntropyLoss()
    for kwargs, words in [
        (dict(accumulation_steps=0), "accumulation_steps"),
        (dict(iterations=1), "iterations"),
        (dict(min_lr=0.0), "cannot start at 0"),
        (dict(eval_every=5), "held-out data"),
        (dict(accuracy="yes"), "accuracy"),
    ]:
        with pytest.raises(ValueError) as e:
            range_test(model, opt, loader, loss_fn, verbose=False, **kwargs)
        assert words in str(e.value)
    with pytest.raises(ValueError, match="torch.optim.Optimizer"):
        range_test(model, "sgd", loader, loss_fn)


def test_ctrl_c_in_the_range_test_keeps_the_points_and_restores_the_model():
    model, loader = net(), classification()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = snapshot(model, opt)
    calls = {"n": 0}
    ce = torch.nn.CrossEntropyLoss()

    def loss_fn(out, y):
        calls["n"] += 1
        if calls["n"] == 31:
            raise KeyboardInterrupt  # what Ctrl-C raises in the training step
        return ce(out, y)

    result = range_test(model, opt, loader, loss_fn, iterations=100, verbose=False)
    assert result.early_stop == {"reason": "interrupted", "iteration": 30}
    assert len(result.outcome["points"]) == 30
    same(before, snapshot(model, opt))
