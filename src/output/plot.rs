//! Figures as PNG and SVG from one description. Log axes are drawn by plotting log10 of the data
//! on linear axes with `10^k` tick labels, which keeps one code path for both scales.

use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Style {
    Line,
    Dashed,
    Points,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    /// Symmetric error bars (one standard error is the convention here), drawn for point series.
    pub errors: Option<Vec<f64>>,
    pub style: Style,
    pub color: usize,
}

impl Series {
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>, color: usize) -> Self {
        Self { label: label.into(), points, errors: None, style: Style::Line, color }
    }
    pub fn dashed(label: impl Into<String>, points: Vec<(f64, f64)>, color: usize) -> Self {
        Self { label: label.into(), points, errors: None, style: Style::Dashed, color }
    }
    pub fn points(
        label: impl Into<String>,
        points: Vec<(f64, f64)>,
        errors: Option<Vec<f64>>,
        color: usize,
    ) -> Self {
        Self { label: label.into(), points, errors, style: Style::Points, color }
    }
}

/// One panel.
#[derive(Debug, Clone, Default)]
pub struct Figure {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    pub series: Vec<Series>,
    /// Vertical markers (x, label), e.g. a stability limit.
    pub vlines: Vec<(f64, String)>,
    /// Put the legend in the upper right instead of the upper left (where the data is not).
    pub legend_right: bool,
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(80, 80, 80),
];

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded DejaVu Sans makes PNG text independent of the machine's fonts.
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
    });
}

/// Saves panels side by side as `<stem>.png` and `<stem>.svg`.
pub fn save(panels: &[Figure], stem: &Path) -> Result<(), String> {
    register_font();
    if let Some(dir) = stem.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let size = (640 * panels.len() as u32, 480);
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        draw_all(&root, panels).map_err(|e| format!("cannot draw {}: {e}", png.display()))?;
        root.present().map_err(|e| format!("cannot write {}: {e}", png.display()))?;
    }
    let root = SVGBackend::new(&svg, size).into_drawing_area();
    draw_all(&root, panels).map_err(|e| format!("cannot draw {}: {e}", svg.display()))?;
    root.present().map_err(|e| format!("cannot write {}: {e}", svg.display()))?;
    Ok(())
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw_all<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[Figure],
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let areas = root.split_evenly((1, panels.len()));
    for (area, fig) in areas.iter().zip(panels) {
        draw(area, fig)?;
    }
    Ok(())
}

/// A short tick label: 3 significant digits, plain for moderate magnitudes (trailing zeros
/// trimmed), else scientific.
pub fn tick(v: f64) -> String {
    let a = v.abs();
    if a < 1e-12 {
        return "0".into(); // round-off around zero
    }
    if a != 0.0 && !(1e-3..1e4).contains(&a) {
        return format!("{v:.1e}");
    }
    let decimals = if a == 0.0 { 0 } else { (2 - a.log10().floor() as i32).max(0) as usize };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

fn tf(v: f64, log: bool) -> f64 {
    if log {
        v.log10()
    } else {
        v
    }
}

fn range(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { 0.06 * (hi - lo) } else { 0.5 * lo.abs().max(1e-12) };
    (lo - pad, hi + pad)
}

fn draw<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, fig: &Figure) -> DrawResult<DB> {
    let xs = fig
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| tf(p.0, fig.log_x)))
        .chain(fig.vlines.iter().map(|v| tf(v.0, fig.log_x)));
    let ys = fig.series.iter().flat_map(|s| {
        s.points.iter().enumerate().flat_map(move |(i, p)| {
            let e = s.errors.as_ref().map_or(0.0, |e| e[i]);
            [tf(p.1 - e, fig.log_y), tf(p.1 + e, fig.log_y)]
        })
    });
    let (x0, x1) = range(xs);
    let (y0, y1) = range(ys);
    let mut chart = ChartBuilder::on(area)
        .caption(&fig.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let (lx, ly) = (fig.log_x, fig.log_y);
    let fmt = |log: bool| move |v: &f64| tick(if log { 10f64.powf(*v) } else { *v });
    chart
        .configure_mesh()
        .x_desc(&fig.x_label)
        .y_desc(&fig.y_label)
        .x_label_formatter(&fmt(lx))
        .y_label_formatter(&fmt(ly))
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (x, label) in &fig.vlines {
        let x = tf(*x, lx);
        chart
            .draw_series(LineSeries::new(
                vec![(x, y0), (x, y1)],
                ShapeStyle { color: BLACK.mix(0.6), filled: false, stroke_width: 1 },
            ))?
            .label(label.clone())
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.6)));
    }
    for s in &fig.series {
        let c = PALETTE[s.color % PALETTE.len()];
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .map(|&(x, y)| (tf(x, lx), tf(y, ly)))
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        match s.style {
            Style::Line => {
                chart
                    .draw_series(LineSeries::new(pts, c.stroke_width(2)))?
                    .label(s.label.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                    });
            }
            Style::Dashed => {
                chart
                    .draw_series(DashedLineSeries::new(pts, 6, 4, c.stroke_width(2)))?
                    .label(s.label.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c));
            }
            Style::Points => {
                if let Some(errs) = &s.errors {
                    let bars: Vec<_> = s
                        .points
                        .iter()
                        .zip(errs)
                        .filter(|((_, y), e)| y.is_finite() && e.is_finite())
                        .map(|(&(x, y), &e)| {
                            ErrorBar::new_vertical(
                                tf(x, lx),
                                tf((y - e).max(f64::MIN_POSITIVE), ly),
                                tf(y, ly),
                                tf(y + e, ly),
                                c.filled(),
                                6,
                            )
                        })
                        .collect();
                    chart.draw_series(bars)?;
                }
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))?
                    .label(s.label.clone())
                    .legend(move |(x, y)| Circle::new((x + 9, y), 4, c.filled()));
            }
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 13))
        .position(if fig.legend_right {
            SeriesLabelPosition::UpperRight
        } else {
            SeriesLabelPosition::UpperLeft
        })
        .draw()?;
    Ok(())
}
