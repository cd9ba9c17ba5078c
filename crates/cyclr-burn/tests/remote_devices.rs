//! Training and the range test across processes with burn's remote backend: servers serving
//! Flex over WebSocket on 127.0.0.1, started as child processes of this test (this same
//! binary, `serve`), on free ports, stopped at the end (and by themselves when this process
//! goes away, or after 10 minutes). The code is the example's, `examples/remote_devices.rs`.
//!
//! Its own harness (`harness = false`): the servers and the client that is made to fail are
//! this binary run again with another first argument.

#[path = "../examples/remote_devices.rs"]
#[allow(dead_code)]
mod remote_devices;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use burn::tensor::Device;
use burn::train::ExecutionStrategy;
use cyclr::LrSchedule;
use cyclr_burn::remote::{RemoteError, connect};
use cyclr_burn::update_plan::{PlanError, Strategy, StrategyError, UpdatePlan, check_strategy};
use remote_devices::{
    BATCH, EPOCHS, ITEMS, Servers, ddp, multi, range_tests, received, remote_devices, schedule,
    train, train_retrying,
};

type Check = fn(&std::path::Path) -> Result<(), String>;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    remote_devices::child_role(&args);
    let filters: Vec<&String> = args[1..].iter().filter(|a| !a.starts_with('-')).collect();
    let checks: [(&str, Check); 4] = [
        (
            "every_update_follows_the_schedule_on_two_servers",
            schedule_on_two_servers,
        ),
        (
            "the_range_test_on_two_servers_agrees_with_one_device",
            range_test_on_two_servers,
        ),
        (
            "ddp_across_servers_and_unreachable_servers_are_errors",
            refusals,
        ),
        (
            "a_lost_server_is_an_error_and_the_resume_is_exact",
            lost_server_and_resume,
        ),
    ];
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, check) in checks {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        let started = Instant::now();
        // burn 0.22.1's remote backend now and then fails a run by itself, with every server
        // up (a read that never returns; a server session that loses a tensor, "Should have
        // handle for tensor"): a check gets 3 tries on fresh servers, and says how many it took.
        let mut result = Err(String::new());
        for attempt in 1..=3 {
            result = bounded(check).and_then(|r| r);
            match &result {
                Ok(()) if attempt > 1 => println!("test {name}: passed on try {attempt}"),
                Err(e) if attempt < 3 => println!("test {name}: try {attempt} failed: {e}"),
                _ => {}
            }
            if result.is_ok() {
                break;
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(()) => println!("test {name} ... ok ({seconds:.1} s)"),
            Err(e) => {
                println!("test {name} ... FAILED ({seconds:.1} s)\n    {e}");
                failed.push(name);
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed",
        if failed.is_empty() { "ok" } else { "FAILED" },
        ran - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        std::process::exit(1);
    }
}

/// A check gets this long; one that runs past it has stalled.
const CHECK_LIMIT: Duration = Duration::from_secs(300);

/// Runs `check` in a fresh temporary folder on its own thread: its result, or `Err` when it
/// ran past [`CHECK_LIMIT`] (its thread is left behind, waiting on burn's remote client).
fn bounded(check: Check) -> Result<Result<(), String>, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let tmp = tempfile::tempdir().expect("a temporary folder");
        let result = catch_unwind(AssertUnwindSafe(|| check(tmp.path())))
            .unwrap_or_else(|_| Err("panicked".into()));
        let _ = tx.send(result);
    });
    rx.recv_timeout(CHECK_LIMIT)
        .map_err(|_| format!("stalled: no result after {CHECK_LIMIT:?}"))
}

/// `Err(message)` unless `ok`.
fn ensure(ok: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(message()) }
}

/// `MultiDevice` over two servers: one optimizer step per update, the rate and momentum of
/// each equal to the schedule's, as many updates as `UpdatePlan` says.
fn schedule_on_two_servers(dir: &std::path::Path) -> Result<(), String> {
    let servers = Servers::start(2, 1)?;
    let devices = remote_devices(&servers.urls).map_err(|e| e.to_string())?;
    let (got, plan) = received(multi(devices), dir).map_err(|e| e.to_string())?;
    ensure(
        plan.strategy == Strategy::MultiDevice { devices: 2 },
        || format!("{plan:?}"),
    )?;
    let planned = plan.total_updates().map_err(|e| e.to_string())?;
    ensure(planned == (ITEMS / BATCH / 2 * EPOCHS) as u64, || {
        format!("planned {planned}")
    })?;
    ensure(got.len() as u64 == planned, || {
        format!("{} updates, {planned} planned", got.len())
    })?;
    let s = schedule();
    for (k, &(lr, m)) in got.iter().enumerate() {
        let k = k as u64;
        ensure(lr == s.lr(k) && Some(m) == s.momentum(k), || {
            format!(
                "update {k}: lr {lr} momentum {m}, schedule {} {:?}",
                s.lr(k),
                s.momentum(k)
            )
        })?;
    }
    Ok(())
}

/// The range test under `MultiDevice` on two servers and on one local device, on the same
/// global batches: the same loss update by update, and the same bounds (the two servers'
/// rates count double, burn summing their gradients).
fn range_test_on_two_servers(dir: &std::path::Path) -> Result<(), String> {
    let servers = Servers::start(2, 1)?;
    let devices = remote_devices(&servers.urls).map_err(|e| e.to_string())?;
    let (one, two) = range_tests(devices, dir);
    ensure(two.points.len() >= 60 && one.points.len() >= 60, || {
        format!("{} and {} points", one.points.len(), two.points.len())
    })?;
    for (a, b) in one.points.iter().zip(&two.points).take(60) {
        ensure(
            (a.loss - b.loss).abs() <= 1e-4 * a.loss.abs().max(1e-3),
            || format!("update {}: {} vs {}", a.iteration, a.loss, b.loss),
        )?;
    }
    let a = one.analysis.recommendation.ok_or("one device: no bounds")?;
    let b = two
        .analysis
        .recommendation
        .ok_or("two servers: no bounds")?;
    for (what, r) in [
        ("base", 2.0 * b.base_lr / a.base_lr),
        ("max", 2.0 * b.max_lr / a.max_lr),
    ] {
        ensure((r - 1.0).abs() < 1e-6, || {
            format!("{what}: one device {a:?}, two servers {b:?}")
        })?;
    }
    Ok(())
}

/// DDP over two servers is refused before anything runs (burn would panic: cross-peer
/// all-reduce), by `check_strategy`, `UpdatePlan::for_launch` and the range test; a server
/// that is not there is a connection error naming it, at once.
fn refusals(dir: &std::path::Path) -> Result<(), String> {
    let servers = Servers::start(2, 1)?;
    let devices = remote_devices(&servers.urls).map_err(|e| e.to_string())?;
    let strategy = ddp(devices.clone());
    match check_strategy(&strategy) {
        Err(StrategyError::CrossServer { index: 1, .. }) => {}
        other => return Err(format!("check_strategy: {other:?}")),
    }
    let plan = UpdatePlan::for_launch(&strategy, 480, 20, 2);
    ensure(matches!(plan, Err(PlanError::Strategy(_))), || {
        format!("{plan:?}")
    })?;
    let model = own_model_net();
    let (optim, _) = cyclr_burn::optim::OptimizerConfig::sgd().init();
    let local = Device::flex().autodiff();
    let ramp = cyclr::range_test::RangeTestConfig::new(
        1e-3,
        1.0,
        20,
        cyclr::range_test::Ramp::Exponential,
    );
    let train_data = remote_devices::loader(remote_devices::rings(200, 1), 20, &local);
    let valid_data = remote_devices::loader(remote_devices::rings(20, 2), 20, &local);
    let refused = cyclr_burn::range_test::RangeTest::new(ramp)
        .run_supervised(
            &model,
            &optim,
            strategy,
            train_data,
            valid_data,
            dir,
            &mut (),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    ensure(refused.contains("different servers"), || {
        format!("run_supervised: {refused:?}")
    })?;
    // Two devices of one server pass (the server may host CUDA devices); one device alone too.
    ensure(
        check_strategy(&ExecutionStrategy::SingleDevice(devices[0].clone())).is_ok(),
        || "a single remote device".into(),
    )?;

    // Nobody listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let url = format!("ws://127.0.0.1:{port}");
    let started = Instant::now();
    match connect(&url) {
        Err(e @ RemoteError::Connect { .. }) => ensure(
            e.to_string().contains(&url) && started.elapsed() < Duration::from_secs(30),
            || format!("{e} after {:?}", started.elapsed()),
        ),
        other => Err(format!("connect to nobody: {other:?}")),
    }
}

fn own_model_net() -> remote_devices::RingNet {
    remote_devices::seeded_net(16, 0, &Device::flex().autodiff())
}

/// A server killed after the checkpoint of epoch 2 of 4: the client exits with an error that
/// names it, within a bounded time, and the checkpoint stays; resumed from it on a restarted
/// server, the run ends with exactly the weights of an uninterrupted one.
fn lost_server_and_resume(dir: &std::path::Path) -> Result<(), String> {
    // burn 0.22.1's remote backend now and then fails a run by itself, with every server up
    // (`TrainRun::failed_upstream`): such a run is run again, at most 6 times in all.
    let limit = Duration::from_secs(120);
    let run_dir = dir.join("run");
    let (mut servers, mut killed, mut lost_url);
    let mut tries = 0;
    loop {
        let _ = std::fs::remove_dir_all(&run_dir);
        servers = Servers::start(2, 1)?;
        lost_url = servers.urls[1].clone();
        let urls = servers.urls.clone();
        killed = train(&run_dir, 4, None, &urls, Some((&mut servers, 2)), limit);
        tries += 1;
        if !killed.failed_upstream() || tries == 6 {
            break;
        }
    }
    ensure(killed.code == Some(2), || {
        format!(
            "exit {:?} after {:.1} s: {}",
            killed.code, killed.seconds, killed.stderr
        )
    })?;
    ensure(
        killed
            .stderr
            .contains(&format!("remote device 1 at {lost_url} was lost")),
        || {
            format!(
                "exit {:?} after {:.1} s, try {tries}: stderr: {}",
                killed.code, killed.seconds, killed.stderr
            )
        },
    )?;
    ensure(
        remote_devices::checkpoint_written(&run_dir, 2) && killed.weights.is_none(),
        || "the checkpoint of epoch 2 is kept, no final weights".into(),
    )?;

    servers.restart(1)?;
    let (resumed, _) = train_retrying(&run_dir, 4, Some(2), &mut servers, 6)?;
    let (whole, _) = train_retrying(&dir.join("whole"), 4, None, &mut servers, 6)?;
    for (what, run) in [("resumed", &resumed), ("uninterrupted", &whole)] {
        ensure(run.code == Some(0) && run.weights.is_some(), || {
            format!("{what}: exit {:?}: {}", run.code, run.stderr)
        })?;
    }
    ensure(resumed.weights == whole.weights, || {
        "the resumed run's weights differ from the uninterrupted run's".into()
    })
}
