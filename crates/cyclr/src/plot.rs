//! Line charts as PNG or SVG (feature `plot`): schedules, range tests, training curves.
//! One small spec type, drawn with plotters; the font is bundled so no system library is
//! needed.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The bundled font is known to parse; failure would be a build defect.
        if plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            eprintln!("warning: bundled font failed to load; chart text may be missing");
        }
    });
}

/// Why a chart could not be drawn or written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// The chart has nothing finite to draw; no file was created.
    #[error("cannot plot '{title}': {reason}")]
    NoData {
        /// The chart's title.
        title: String,
        /// What is missing, e.g. `no finite y values`.
        reason: String,
    },
    /// Drawing or writing the file failed.
    #[error("cannot write the chart {}: {message}", path.display())]
    Write {
        /// The file it was written to (`<svg>` for [`Chart::to_svg`]).
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The file name ends in neither `.png` nor `.svg`.
    #[error("unsupported chart format '{}': use a .png or .svg file name", path.display())]
    Format {
        /// The file name given.
        path: PathBuf,
    },
}

/// About `max_points` evenly spaced steps of `0..steps`, the last one included: enough
/// points for a picture of a schedule, whatever its length.
pub fn sample_steps(steps: u64, max_points: u64) -> Vec<u64> {
    if steps == 0 {
        return Vec::new();
    }
    let stride = (steps / max_points.max(1)).max(1);
    let mut xs: Vec<u64> = (0..steps).step_by(stride as usize).collect();
    if xs.last() != Some(&(steps - 1)) {
        xs.push(steps - 1);
    }
    xs
}

/// The axes' ranges of a chart with data.
#[derive(Debug, Clone, Copy)]
struct Frame {
    x: (f64, f64),
    y: (f64, f64),
    right: (f64, f64),
}

/// One line on a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// The name in the legend.
    pub label: String,
    /// The (x, y) points, in drawing order; points that are not finite are skipped.
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// A line named `label` through `points`.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points,
        }
    }
}

/// A labelled point on the left axis (e.g. a range-test suggestion), or a vertical line
/// when `y` is `None`.
#[derive(Debug, Clone)]
pub struct Marker {
    /// The name in the legend.
    pub label: String,
    /// Where it sits on the x axis, e.g. a suggested learning rate.
    pub x: f64,
    /// Its height on the left axis; `None` for a vertical line.
    pub y: Option<f64>,
}

/// A chart: lines on a left axis, optionally more lines on a right axis, an optional
/// shaded band of x values, and markers.
#[derive(Debug, Clone)]
pub struct Chart {
    /// The caption above the chart.
    pub title: String,
    /// The x axis' name, e.g. `step` or `learning rate`.
    pub x_label: String,
    /// The left axis' name.
    pub y_label: String,
    /// Draw x on a log10 scale (range tests with an exponential ramp).
    pub log_x: bool,
    /// The lines on the left axis.
    pub series: Vec<Series>,
    /// The right axis' name; the right axis is drawn only when set.
    pub right_label: Option<String>,
    /// The lines on the right axis.
    pub right_series: Vec<Series>,
    /// A shaded range of x values (from, to, legend label), e.g. the base to max learning
    /// rate a range test recommends.
    pub band: Option<(f64, f64, String)>,
    /// Labelled points and vertical lines.
    pub markers: Vec<Marker>,
    /// Width in pixels (default 1000).
    pub width: u32,
    /// Height in pixels (default 600).
    pub height: u32,
}

impl Chart {
    /// An empty 1000 x 600 chart with a title and axis names.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x: false,
            series: Vec::new(),
            right_label: None,
            right_series: Vec::new(),
            band: None,
            markers: Vec::new(),
            width: 1000,
            height: 600,
        }
    }

    /// Adds a line on the left axis.
    pub fn line(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Sets the right axis: its name and its lines (replacing any before).
    pub fn right_axis(mut self, label: impl Into<String>, series: Vec<Series>) -> Self {
        self.right_label = Some(label.into());
        self.right_series = series;
        self
    }

    /// Writes the chart; the format follows the extension (`.png` or `.svg`). The file
    /// appears complete or not at all.
    pub fn save(&self, path: &Path) -> Result<(), PlotError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        let write_err = |message: String| PlotError::Write {
            path: path.to_path_buf(),
            message,
        };
        // The cause in one sentence: a missing folder by name, not the encoder's debug text.
        let io_err = |e: std::io::Error| {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
            match (e.kind(), dir) {
                (std::io::ErrorKind::NotFound, Some(d)) => {
                    write_err(format!("the folder {} does not exist", d.display()))
                }
                _ => write_err(e.to_string()),
            }
        };
        match ext.as_deref() {
            Some("png") => {
                let frame = self.frame()?;
                // A name of its own, created exclusively: nothing planted there is followed.
                let tmp = crate::atomic_write::reserve_temporary(path).map_err(io_err)?;
                register_font();
                let root = BitMapBackend::new(&tmp, (self.width, self.height)).into_drawing_area();
                // The bitmap backend writes its file when dropped, even after an error.
                if let Err(message) = self.draw(root, &frame) {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(write_err(message));
                }
                std::fs::rename(&tmp, path).map_err(|e| {
                    let _ = std::fs::remove_file(&tmp);
                    io_err(e)
                })
            }
            Some("svg") => {
                let svg = self.to_svg()?;
                crate::atomic_write::write_atomic(path, svg.as_bytes()).map_err(io_err)
            }
            _ => Err(PlotError::Format {
                path: path.to_path_buf(),
            }),
        }
    }

    /// The chart as an SVG document, e.g. to inline in an HTML page.
    pub fn to_svg(&self) -> Result<String, PlotError> {
        let frame = self.frame()?;
        // Text is laid out with the font's metrics, in SVG too.
        register_font();
        let mut out = String::new();
        {
            let root =
                SVGBackend::with_string(&mut out, (self.width, self.height)).into_drawing_area();
            self.draw(root, &frame)
                .map_err(|message| PlotError::Write {
                    path: PathBuf::from("<svg>"),
                    message,
                })?;
        }
        Ok(out)
    }

    fn tx(&self, x: f64) -> f64 {
        if self.log_x { x.log10() } else { x }
    }

    fn range(&self, values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
        let (lo, hi) = values
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if !lo.is_finite() {
            return None;
        }
        let pad = if hi > lo {
            (hi - lo) * 0.05
        } else {
            lo.abs().max(1e-12) * 0.1
        };
        Some((lo - pad, hi + pad))
    }

    /// The axes' ranges, checked before any file is created.
    fn frame(&self) -> Result<Frame, PlotError> {
        let no_data = |what: &str| PlotError::NoData {
            title: self.title.clone(),
            reason: format!("no finite {what}"),
        };
        let all = self.series.iter().chain(&self.right_series);
        let xs = all.flat_map(|s| s.points.iter().map(|p| self.tx(p.0)));
        let x = self.range(xs).ok_or_else(|| no_data("x values"))?;
        let ys = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1));
        let y = self.range(ys).ok_or_else(|| no_data("y values"))?;
        let rs = self
            .right_series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1));
        let right = self.range(rs).unwrap_or((0.0, 1.0));
        Ok(Frame { x, y, right })
    }

    /// The corner whose box (the outer 40% of the width and 45% of the height) holds the
    /// fewest markers, then the fewest points, so the legend covers no marker it can avoid.
    fn legend_corner(&self, frame: &Frame) -> SeriesLabelPosition {
        let unit = |v: f64, (a, b): (f64, f64)| if b > a { (v - a) / (b - a) } else { 0.5 };
        let left = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| (p.0, p.1, frame.y)));
        let right = self
            .right_series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| (p.0, p.1, frame.right)));
        let points: Vec<(f64, f64)> = left
            .chain(right)
            .map(|(x, y, r)| (unit(self.tx(x), frame.x), unit(y, r)))
            .collect();
        let markers: Vec<(f64, f64)> = self
            .markers
            .iter()
            .map(|m| {
                (
                    unit(self.tx(m.x), frame.x),
                    m.y.map_or(0.5, |y| unit(y, frame.y)),
                )
            })
            .collect();
        let corners = [
            (SeriesLabelPosition::UpperRight, true, true),
            (SeriesLabelPosition::UpperLeft, false, true),
            (SeriesLabelPosition::LowerRight, true, false),
            (SeriesLabelPosition::LowerLeft, false, false),
        ];
        let inside = |(x, y): (f64, f64), right: bool, top: bool| {
            (if right { x >= 0.6 } else { x <= 0.4 }) && (if top { y >= 0.55 } else { y <= 0.45 })
        };
        corners
            .into_iter()
            .min_by_key(|&(_, right, top)| {
                let m = markers.iter().filter(|p| inside(**p, right, top)).count();
                let n = points.iter().filter(|p| inside(**p, right, top)).count();
                (m, n)
            })
            .map_or(SeriesLabelPosition::UpperRight, |c| c.0)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
        frame: &Frame,
    ) -> Result<(), String> {
        let e = |err: DrawingAreaErrorKind<DB::ErrorType>| err.to_string();
        let Frame {
            x: (x0, x1),
            y: (y0, y1),
            right: (r0, r1),
        } = *frame;

        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 22))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .right_y_label_area_size(if self.right_label.is_some() { 72 } else { 0 })
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(e)?
            .set_secondary_coord(x0..x1, r0..r1);

        let log_x = self.log_x;
        let x_fmt = move |v: &f64| {
            if log_x {
                short(10f64.powf(*v))
            } else {
                short(*v)
            }
        };
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&|v| short(*v))
            .label_style(("sans-serif", 14))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.08))
            .draw()
            .map_err(e)?;
        if let Some(label) = &self.right_label {
            chart
                .configure_secondary_axes()
                .y_desc(label)
                .y_label_formatter(&|v| short(*v))
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(e)?;
        }

        if let Some((b0, b1, label)) = &self.band {
            let (b0, b1) = (self.tx(*b0), self.tx(*b1));
            let fill = GREEN.mix(0.15).filled();
            chart
                .draw_series(std::iter::once(Rectangle::new([(b0, y0), (b1, y1)], fill)))
                .map_err(e)?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], fill));
        }

        let mut color_index = 0;
        let mut next_color = || {
            let (r, g, b) = TAB10[color_index % TAB10.len()];
            color_index += 1;
            RGBColor(r, g, b).to_rgba()
        };
        for s in &self.series {
            let color = next_color();
            let pts = s
                .points
                .iter()
                .map(|&(x, y)| (self.tx(x), y))
                .filter(|p| p.0.is_finite() && p.1.is_finite());
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(e)?
                .label(&s.label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        for s in &self.right_series {
            let color = next_color().mix(0.8);
            let pts = s
                .points
                .iter()
                .map(|&(x, y)| (self.tx(x), y))
                .filter(|p| p.0.is_finite() && p.1.is_finite());
            chart
                .draw_secondary_series(LineSeries::new(pts, color.stroke_width(1)))
                .map_err(e)?
                .label(format!("{} (right axis)", s.label))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        for m in &self.markers {
            let color = next_color();
            let x = self.tx(m.x);
            if !x.is_finite() {
                continue;
            }
            match m.y {
                Some(y) => chart
                    .draw_series(std::iter::once(Circle::new((x, y), 6, color.filled())))
                    .map_err(e)?,
                None => chart
                    .draw_series(DashedLineSeries::new(
                        [(x, y0), (x, y1)],
                        6,
                        4,
                        color.stroke_width(2),
                    ))
                    .map_err(e)?,
            }
            .label(&m.label)
            .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
        }

        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(("sans-serif", 14))
            .position(self.legend_corner(frame))
            .draw()
            .map_err(e)?;
        root.present().map_err(e)?;
        Ok(())
    }
}

/// Matplotlib's tab10: distinct colours that read well on white.
const TAB10: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// Compact tick labels: 0.005, 1.2e-4, 12k.
fn short(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.1e}");
        s.replace(".0e", "e")
    } else if a >= 1000.0 {
        format!("{}", (v * 100.0).round() / 100.0)
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The legend goes to the corner with no marker: with markers in the upper right (where
    /// it used to sit), it moves.
    #[test]
    fn the_legend_avoids_the_markers() {
        let mut chart = Chart::new("t", "lr", "acc").line(Series::new(
            "rising",
            (0..100).map(|i| (i as f64, i as f64 / 100.0)).collect(),
        ));
        chart.markers = vec![Marker {
            label: "accuracy_max".into(),
            x: 90.0,
            y: Some(0.9),
        }];
        let frame = chart.frame().unwrap();
        let corner = chart.legend_corner(&frame);
        assert!(!matches!(corner, SeriesLabelPosition::UpperRight));
        // The rising line fills the lower left and upper right: the legend takes an empty
        // corner.
        assert!(matches!(
            corner,
            SeriesLabelPosition::UpperLeft | SeriesLabelPosition::LowerRight
        ));
        chart.markers.push(Marker {
            label: "base".into(),
            x: 5.0,
            y: Some(0.95),
        });
        assert!(matches!(
            chart.legend_corner(&frame),
            SeriesLabelPosition::LowerRight
        ));
    }

    #[test]
    fn png_and_svg_are_written_and_empty_data_is_an_error() {
        let dir = std::env::temp_dir().join(format!("cyclr-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let chart = Chart::new("t", "step", "lr").line(Series::new(
            "a",
            (0..100).map(|i| (i as f64, (i as f64).sin())).collect(),
        ));
        chart.save(&dir.join("a.png")).unwrap();
        chart.save(&dir.join("a.svg")).unwrap();
        let png = std::fs::read(dir.join("a.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let svg = std::fs::read_to_string(dir.join("a.svg")).unwrap();
        assert!(svg.contains("<svg") && svg.contains("polyline"));
        let empty = Chart::new("empty", "x", "y").line(Series::new("a", vec![(0.0, f64::NAN)]));
        assert!(
            empty
                .save(&dir.join("b.png"))
                .unwrap_err()
                .to_string()
                .contains("no finite")
        );
        assert!(!dir.join("b.png").exists());
        assert!(matches!(
            empty.save(&dir.join("b.png")),
            Err(PlotError::NoData { .. })
        ));
        assert!(matches!(empty.to_svg(), Err(PlotError::NoData { .. })));
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            !left.iter().any(|n| n.to_string_lossy().contains("partial")),
            "{left:?}"
        );
        assert!(
            chart
                .save(&dir.join("a.jpg"))
                .unwrap_err()
                .to_string()
                .contains(".png or .svg")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sampled_steps_end_at_the_last_step_once() {
        assert_eq!(sample_steps(10, 4), vec![0, 2, 4, 6, 8, 9]);
        assert_eq!(sample_steps(9, 4), vec![0, 2, 4, 6, 8]);
        assert_eq!(sample_steps(3, 4000), vec![0, 1, 2]);
        assert_eq!(sample_steps(1, 10), vec![0]);
        assert!(sample_steps(0, 10).is_empty());
        assert!(sample_steps(1_000_000, 2000).len() <= 2001);
    }

    #[test]
    fn short_labels() {
        assert_eq!(short(0.005), "0.005");
        assert_eq!(short(0.0001), "1e-4");
        assert_eq!(short(2500.0), "2500");
        assert_eq!(short(0.0), "0");
    }
}
