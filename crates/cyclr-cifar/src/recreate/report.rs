//! The report: tables, pictures, Markdown and a self-contained HTML page.

use std::fmt::Write as _;
use std::path::Path;

use cyclr::LrSchedule;
use cyclr::plot::{Chart, Marker, Series};

use super::RecreateReport;
use super::stats::{by_policy, fmt_acc};
use crate::io::write_atomic;
use crate::run_record::RunStatus;

/// A table of the report: a header and rows of cells, rendered as Markdown or HTML.
struct Table {
    header: Vec<&'static str>,
    /// The first columns hold text (left-aligned); the rest numbers.
    text_columns: usize,
    rows: Vec<Vec<String>>,
}

/// The per-run table, and the per-policy mean ± std when there are several seeds.
fn tables(report: &RecreateReport) -> Vec<Table> {
    let pct = |a: Option<f64>| a.map_or("-".into(), |a| format!("{:.2}%", a * 100.0));
    let runs = report.runs.iter().map(|r| {
        let iters = |i: Option<u64>| i.map_or("not reached".to_string(), |i| i.to_string());
        let status = if r.status == RunStatus::Finished {
            String::new()
        } else {
            format!(" ({:?})", r.status).to_lowercase()
        };
        vec![
            format!("{}{status}", r.name),
            r.policy.clone(),
            r.iterations.to_string(),
            pct(r.final_test_accuracy),
            pct(r.best_test_accuracy),
            r.best_at_iteration.map_or("-".into(), |i| i.to_string()),
            format!("{:.0} s", r.wall_s),
            iters(r.iterations_to_baseline),
            iters(r.iterations_to_baseline_best),
        ]
    });
    let mut out = vec![Table {
        header: vec![
            "run",
            "policy",
            "iterations",
            "final test acc",
            "best test acc",
            "best at iteration",
            "wall time",
            "iterations to baseline's final acc",
            "iterations to baseline's best acc",
        ],
        text_columns: 2,
        rows: runs.collect(),
    }];
    if report.plan.seeds.len() > 1 {
        out.push(Table {
            header: vec![
                "policy",
                "seeds",
                "final test acc (mean ± std)",
                "best test acc (mean ± std)",
            ],
            text_columns: 1,
            rows: by_policy(&report.runs)
                .iter()
                .map(|g| {
                    vec![
                        g.policy.clone(),
                        g.finals.len().to_string(),
                        fmt_acc(&g.finals),
                        fmt_acc(&g.bests),
                    ]
                })
                .collect(),
        });
    }
    out
}

/// The results table(s) in Markdown.
pub fn results_table(report: &RecreateReport) -> String {
    let mut t = String::new();
    for (i, table) in tables(report).iter().enumerate() {
        if i > 0 {
            t.push('\n');
        }
        let align: Vec<&str> = (0..table.header.len())
            .map(|c| {
                if c < table.text_columns {
                    "---"
                } else {
                    "---:"
                }
            })
            .collect();
        let _ = writeln!(t, "| {} |\n|{}|", table.header.join(" | "), align.join("|"));
        for row in &table.rows {
            let _ = writeln!(t, "| {} |", row.join(" | "));
        }
    }
    t
}

fn accuracy_chart(report: &RecreateReport) -> Chart {
    let mut c = Chart::new(
        "Test accuracy against iterations",
        "iteration",
        "test accuracy",
    );
    for r in &report.runs {
        c = c.line(Series::new(
            &r.name,
            r.metrics
                .iter()
                .map(|m| (m.step as f64, m.test_accuracy))
                .collect(),
        ));
    }
    // Where each baseline peaked, and what it ended at: the overfitting, at a glance.
    for r in report.runs.iter().filter(|r| r.baseline) {
        if let (Some(at), Some(best), Some(last)) = (
            r.best_at_iteration,
            r.best_test_accuracy,
            r.final_test_accuracy,
        ) {
            c.markers.push(Marker {
                label: format!(
                    "{} peak {:.2}% at {at}, final {:.2}%",
                    r.name,
                    best * 100.0,
                    last * 100.0
                ),
                x: at as f64,
                y: Some(best),
            });
        }
    }
    c
}

fn schedules_chart(report: &RecreateReport) -> Chart {
    let mut c = Chart::new(
        "Learning-rate schedules of the runs",
        "iteration",
        "learning rate",
    );
    let mut seen = Vec::new();
    for r in &report.runs {
        if seen.contains(&r.policy) {
            continue;
        }
        seen.push(r.policy.clone());
        let steps = cyclr::plot::sample_steps(r.iterations.max(1), 2000);
        c = c.line(Series::new(
            &r.policy,
            steps
                .into_iter()
                .map(|s| (s as f64, r.schedule.lr(s)))
                .collect(),
        ));
    }
    c
}

pub(super) fn write_report(report: &RecreateReport, out: &Path) -> anyhow::Result<()> {
    let acc = accuracy_chart(report);
    let sched = schedules_chart(report);
    let (acc_svg, sched_svg) = (acc.to_svg()?, sched.to_svg()?);
    // Each SVG is drawn once: written as a file and inlined in the HTML page.
    for (chart, svg, name) in [
        (&acc, &acc_svg, "accuracy"),
        (&sched, &sched_svg, "schedules"),
    ] {
        chart.save(&out.join(format!("{name}.png")))?;
        write_atomic(&out.join(format!("{name}.svg")), svg.as_bytes())?;
    }
    // results.csv: one row per run, for pandas and spreadsheets.
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "run",
        "policy",
        "seed",
        "status",
        "iterations",
        "final_test_accuracy",
        "best_test_accuracy",
        "best_at_iteration",
        "wall_s",
        "iterations_to_baseline",
        "iterations_to_baseline_best",
    ])?;
    for r in &report.runs {
        w.write_record([
            r.name.clone(),
            r.policy.clone(),
            r.seed.to_string(),
            format!("{:?}", r.status).to_lowercase(),
            r.iterations.to_string(),
            r.final_test_accuracy
                .map_or(String::new(), |a| a.to_string()),
            r.best_test_accuracy
                .map_or(String::new(), |a| a.to_string()),
            r.best_at_iteration.map_or(String::new(), |i| i.to_string()),
            format!("{:.1}", r.wall_s),
            r.iterations_to_baseline
                .map_or(String::new(), |i| i.to_string()),
            r.iterations_to_baseline_best
                .map_or(String::new(), |i| i.to_string()),
        ])?;
    }
    write_atomic(&out.join("results.csv"), &w.into_inner()?)?;
    write_atomic(
        &out.join("recreate.json"),
        serde_json::to_string_pretty(report)?.as_bytes(),
    )?;

    let has_range = out.join("range-test/range_test.png").is_file();
    let md = markdown(report, has_range);
    write_atomic(&out.join("report.md"), md.as_bytes())?;
    let range_svg = std::fs::read_to_string(out.join("range-test/range_test.svg")).ok();
    let html = html(report, range_svg.as_deref(), &sched_svg, &acc_svg);
    write_atomic(&out.join("report.html"), html.as_bytes())?;
    Ok(())
}

fn markdown(r: &RecreateReport, has_range: bool) -> String {
    let p = &r.plan.profile;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Cyclical learning rates on CIFAR-10: recreation report\n"
    );
    let _ = writeln!(s, "## Verdict\n");
    for line in &r.conclusion {
        let _ = writeln!(s, "- {line}");
    }
    let _ = writeln!(s, "\n## Results\n\n{}", results_table(r));
    let _ = writeln!(s, "![test accuracy against iterations](accuracy.png)\n");
    let _ = writeln!(s, "## Setting\n");
    let _ = writeln!(
        s,
        "- Data: {} ({} training and {} test images{}).",
        r.data,
        r.train_images,
        r.test_images,
        if p.train_limit.is_some() || p.test_limit.is_some() {
            ", class-balanced subsets"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "- Model: the reference CNN (Conv 32-64-64, Dense 64, 10 classes; 122,570 parameters), Adam, batch {}, cross-entropy from logits.",
        p.batch_size
    );
    let _ = writeln!(
        s,
        "- Profile `{}`: baseline fixed lr {} for {} epochs; cyclical runs for {} epochs.",
        p.name, r.plan.baseline_lr, p.baseline_epochs, p.clr_epochs
    );
    let _ = writeln!(
        s,
        "- Bounds: base_lr {:.3e}, max_lr {:.3e} from {}; stepsize {} iterations; exp_range gamma {:.6}.",
        r.base_lr, r.max_lr, r.bounds_from, r.stepsize, r.gamma
    );
    let seeds: Vec<String> = r.plan.seeds.iter().map(|s| s.to_string()).collect();
    let _ = writeln!(s, "- Seeds: {}.", seeds.join(", "));
    let _ = writeln!(s, "- Hardware: {}.", r.hardware.describe());
    let _ = writeln!(
        s,
        "- Training wall time: {:.1} min across the runs (evaluation included; the range test not).",
        r.runs.iter().map(|run| run.wall_s).sum::<f64>() / 60.0
    );
    let _ = writeln!(
        s,
        "- Versions: cyclr {}, burn {}.\n",
        r.versions.cyclr, r.versions.burn
    );
    if has_range {
        let _ = writeln!(
            s,
            "## LR range test\n\n![range test](range-test/range_test.png)\n"
        );
        let _ = writeln!(
            s,
            "The shaded band is the recommended range; dots mark each rule's suggestion (details in `range-test/range_test.json`).\n"
        );
    }
    let _ = writeln!(s, "## Schedules\n\n![schedules](schedules.png)\n");
    let _ = writeln!(
        s,
        "Per-run metrics are in `runs/<run>/metrics.csv`; all runs in `results.csv`; everything in `recreate.json`."
    );
    s
}

fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A self-contained page: the same text, the tables, and the pictures inlined as SVG.
fn html(r: &RecreateReport, range_svg: Option<&str>, sched_svg: &str, acc_svg: &str) -> String {
    let mut h = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>CLR recreation report</title>\
         <style>body{font-family:sans-serif;max-width:1050px;margin:2em auto;color:#222}\
         table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}\
         td:first-child,th:first-child,td:nth-child(2){text-align:left}svg{max-width:100%;height:auto}</style>\
         </head><body>",
    );
    h.push_str(
        "<h1>Cyclical learning rates on CIFAR-10: recreation report</h1><h2>Verdict</h2><ul>",
    );
    for line in &r.conclusion {
        let _ = write!(h, "<li>{}</li>", escape(line));
    }
    h.push_str("</ul><h2>Results</h2>");
    for table in tables(r) {
        h.push_str("<table><tr>");
        for cell in &table.header {
            let _ = write!(h, "<th>{}</th>", escape(cell));
        }
        h.push_str("</tr>");
        for row in &table.rows {
            h.push_str("<tr>");
            for (c, cell) in row.iter().enumerate() {
                let align = if c < table.text_columns {
                    "left"
                } else {
                    "right"
                };
                let _ = write!(h, "<td style=\"text-align:{align}\">{}</td>", escape(cell));
            }
            h.push_str("</tr>");
        }
        h.push_str("</table><p></p>");
    }
    let _ = write!(h, "<h3>Test accuracy against iterations</h3>{acc_svg}");
    let p = &r.plan.profile;
    let _ = write!(
        h,
        "<h2>Setting</h2><ul><li>Data: {} ({} training, {} test images)</li><li>Profile {}: baseline fixed lr {} for {} epochs; cyclical runs {} epochs</li>\
         <li>Bounds: base_lr {:.3e}, max_lr {:.3e} from {}; stepsize {} iterations; exp_range gamma {:.6}</li>\
         <li>Seeds: {:?}</li><li>Hardware: {}</li><li>Versions: cyclr {}, burn {}</li></ul>",
        escape(&r.data),
        r.train_images,
        r.test_images,
        escape(&p.name),
        r.plan.baseline_lr,
        p.baseline_epochs,
        p.clr_epochs,
        r.base_lr,
        r.max_lr,
        escape(&r.bounds_from),
        r.stepsize,
        r.gamma,
        r.plan.seeds,
        escape(&r.hardware.describe()),
        r.versions.cyclr,
        r.versions.burn
    );
    if let Some(svg) = range_svg {
        let _ = write!(
            h,
            "<h2>LR range test</h2>{svg}<p>The shaded band is the recommended range; dots mark each rule's suggestion.</p>"
        );
    }
    let _ = write!(h, "<h2>Schedules</h2>{sched_svg}</body></html>");
    h
}
