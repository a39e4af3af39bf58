//! Figures as PNG and SVG from one description. Log axes are drawn by plotting log10 of the data
//! on linear axes labelled with the data's round values (`log_key_points`), which keeps one code
//! path for both scales.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
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
}

/// Ten distinguishable colours (matplotlib's tab10; grey at index 5, the reference lines'
/// colour), so a panel of up to ten series never repeats one.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(80, 80, 80),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The legend's font, and plotters' defaults for the legend box around it.
const LEGEND_FONT: u32 = 13;
const LEGEND_SAMPLE_WIDTH: u32 = 30;
const LEGEND_MARGIN: u32 = 10;
/// The axes' label areas (pixels): the x axis's below the plot, the y axis's on its left.
const X_LABELS: u32 = 42;
const Y_LABELS: u32 = 64;

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

/// A short tick label of a linear axis: 3 significant digits, plain for moderate magnitudes
/// (trailing zeros trimmed), else scientific; `0` below 1e-12 (round-off around zero).
pub fn tick(v: f64) -> String {
    if v.abs() < 1e-12 {
        return "0".into();
    }
    label(v)
}

/// [`tick`] without the rounding to zero, for log axes, whose values are never zero.
fn label(v: f64) -> String {
    let a = v.abs();
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

/// A linear axis whose ticks, where `log` (the values are log10 of the data), are those of
/// [`log_key_points`].
struct Axis {
    linear: RangedCoordf64,
    log: bool,
}

impl Axis {
    fn new(lo: f64, hi: f64, log: bool) -> Self {
        Self { linear: (lo..hi).into(), log }
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.linear.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if !self.log {
            return self.linear.key_points(hint);
        }
        if hint.weight().allow_light_points() {
            return Vec::new(); // the light grid is not drawn
        }
        let range = self.linear.range();
        log_key_points(range.start, range.end, hint.max_num_points())
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.linear.range()
    }
}

/// Tick positions for a log axis spanning `[lo, hi]` in log10 units, at most `max` of them (as
/// log10 values): 1, 2 and 5 times the powers of ten, else 1 and 3, else the powers of ten, else
/// every second, fifth, tenth... power; where fewer than three of 1, 2, 5 fall in the range (a
/// span under about a decade), the round values of a linear axis over `[10^lo, 10^hi]` instead.
/// So every label is a round number, never `10^0.2 = 1.58`.
fn log_key_points(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    let max = max.max(2);
    let (k0, k1) = (lo.floor() as i32, hi.ceil() as i32);
    let at = |mantissas: &[f64], every: i32| -> Vec<f64> {
        (k0..=k1)
            .filter(|k| k.rem_euclid(every) == 0)
            .flat_map(|k| mantissas.iter().map(move |m| (m * 10f64.powi(k)).log10()))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    let one_two_five = at(&[1.0, 2.0, 5.0], 1);
    if one_two_five.len() < 3 {
        let linear = RangedCoordf64::from(10f64.powf(lo)..10f64.powf(hi)).key_points(max);
        return linear.into_iter().filter(|&v| v > 0.0).map(f64::log10).collect();
    }
    if one_two_five.len() <= max {
        return one_two_five;
    }
    for mantissas in [&[1.0, 3.0][..], &[1.0]] {
        let ticks = at(mantissas, 1);
        if ticks.len() <= max {
            return ticks;
        }
    }
    (0..)
        .flat_map(|e| [2, 5, 10].map(|m| m * 10i32.pow(e)))
        .map(|every| at(&[1.0], every))
        .find(|ticks| ticks.len() <= max)
        .unwrap_or_default()
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
    // The layout plotters' ChartBuilder makes with a margin and a caption, done by hand so that
    // the plotting area's size is known before the axes' ranges are fixed.
    let inner = area.margin(12, 12, 12, 12).titled(&fig.title, ("sans-serif", 18))?;
    let (w, h) = inner.dim_in_pixel();
    let plot = (w.saturating_sub(Y_LABELS), h.saturating_sub(X_LABELS));
    let legend = legend_size(fig);
    let (y1, position) = legend_layout(fig, (x0, x1, y0, y1), plot, legend);
    let (lx, ly) = (fig.log_x, fig.log_y);
    let mut chart = ChartBuilder::on(&inner)
        .x_label_area_size(X_LABELS)
        .y_label_area_size(Y_LABELS)
        .build_cartesian_2d(Axis::new(x0, x1, lx), Axis::new(y0, y1, ly))?;
    debug_assert_eq!(chart.plotting_area().dim_in_pixel(), plot);
    let fmt = |log: bool| move |v: &f64| if log { label(10f64.powf(*v)) } else { tick(*v) };
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
                    .legend(move |(x, y)| {
                        DashedPathElement::new(vec![(x, y), (x + 18, y)], 5, 3, c.stroke_width(2))
                    });
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
        .legend_area_size(LEGEND_SAMPLE_WIDTH)
        .margin(LEGEND_MARGIN)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(legend_font())
        .position(position)
        .draw()?;
    Ok(())
}

/// The places a legend may go, in order of preference when several cover as little data.
const LEGEND_PLACES: [SeriesLabelPosition; 8] = [
    SeriesLabelPosition::UpperLeft,
    SeriesLabelPosition::UpperRight,
    SeriesLabelPosition::LowerRight,
    SeriesLabelPosition::LowerLeft,
    SeriesLabelPosition::UpperMiddle,
    SeriesLabelPosition::MiddleRight,
    SeriesLabelPosition::MiddleLeft,
    SeriesLabelPosition::LowerMiddle,
];

fn legend_font() -> TextStyle<'static> {
    ("sans-serif", LEGEND_FONT).into_font().into()
}

/// The legend box's size in pixels, measured as plotters measures it when drawing it.
fn legend_size(fig: &Figure) -> (u32, u32) {
    let mut labels = MultiLineText::<_, &str>::new((0, 0), legend_font());
    for label in fig.vlines.iter().map(|v| &v.1).chain(fig.series.iter().map(|s| &s.label)) {
        labels.push_line(label.as_str());
    }
    labels
        .estimate_dimension()
        .map(|(w, h)| {
            let (w, h) = (w.max(0) as u32, h.max(0) as u32);
            (w + LEGEND_SAMPLE_WIDTH + 2 * LEGEND_MARGIN, h + 2 * LEGEND_MARGIN)
        })
        .unwrap_or((0, 0))
}

/// The top of the y axis and the legend's place: where the legend covers no data, else the
/// y axis is raised until a band as tall as the legend is free above the data (when the legend
/// is less than half the plot's height; otherwise the least covered place is kept).
fn legend_layout(
    fig: &Figure,
    (x0, x1, y0, y1): (f64, f64, f64, f64),
    plot: (u32, u32),
    legend: (u32, u32),
) -> (f64, SeriesLabelPosition) {
    let (place, covered) = legend_position(&ink(fig, (x0, x1, y0, y1), plot), legend, plot);
    let (band, height) = ((legend.1 + 10) as f64, plot.1 as f64);
    if covered == 0 || 2.0 * band > height {
        return (y1, place);
    }
    let top = y0 + (y1 - y0) * height / (height - band);
    let (place, _) = legend_position(&ink(fig, (x0, x1, y0, top), plot), legend, plot);
    (top, place)
}

/// Where the legend hides the least data: of [`LEGEND_PLACES`], the first whose box of size
/// `legend` (pixels) inside a plotting area of size `area` covers the fewest `ink` points (the
/// pixels the series pass through), and how many it covers. The boxes are laid out as plotters
/// lays out the legend.
fn legend_position(
    ink: &[(f64, f64)],
    legend: (u32, u32),
    area: (u32, u32),
) -> (SeriesLabelPosition, usize) {
    let covered = |place: &SeriesLabelPosition| {
        use SeriesLabelPosition::*;
        let (w, h) = (legend.0 as f64, legend.1 as f64);
        let (aw, ah) = (area.0 as f64, area.1 as f64);
        let x = match place {
            UpperLeft | MiddleLeft | LowerLeft => 5.0,
            UpperMiddle | MiddleMiddle | LowerMiddle => (aw - w) / 2.0,
            _ => aw - w - 5.0,
        };
        let y = match place {
            UpperLeft | UpperMiddle | UpperRight => 5.0,
            MiddleLeft | MiddleMiddle | MiddleRight => (ah - h) / 2.0,
            _ => ah - h - 5.0,
        };
        ink.iter().filter(|&&(px, py)| px >= x && px <= x + w && py >= y && py <= y + h).count()
    };
    LEGEND_PLACES
        .iter()
        .map(|place| (place.clone(), covered(place)))
        .min_by_key(|&(_, n)| n) // min_by_key keeps the first of equals: the preferred place
        .expect("places to choose from")
}

/// The pixels (in a plotting area of `area` pixels showing `[x0, x1] x [y0, y1]`) that the panel's
/// series, error bars and markers pass through, sampled every few pixels along lines.
fn ink(fig: &Figure, (x0, x1, y0, y1): (f64, f64, f64, f64), area: (u32, u32)) -> Vec<(f64, f64)> {
    let (aw, ah) = (area.0 as f64, area.1 as f64);
    let px_x = |x: f64| (tf(x, fig.log_x) - x0) / (x1 - x0) * aw;
    let px = |x: f64, y: f64| (px_x(x), (1.0 - (tf(y, fig.log_y) - y0) / (y1 - y0)) * ah);
    let mut out = Vec::new();
    let mut segment = |a: (f64, f64), b: (f64, f64)| {
        let n = ((b.0 - a.0).hypot(b.1 - a.1) / 3.0).ceil().clamp(1.0, 10_000.0) as usize;
        out.extend((0..=n).map(|k| {
            let t = k as f64 / n as f64;
            (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
        }));
    };
    for s in &fig.series {
        let pts: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| px(x, y)).collect();
        match s.style {
            Style::Line | Style::Dashed => {
                for w in
                    pts.windows(2).filter(|w| w.iter().all(|p| p.0.is_finite() && p.1.is_finite()))
                {
                    segment(w[0], w[1]);
                }
            }
            Style::Points => {
                for (i, (&(x, y), p)) in s.points.iter().zip(&pts).enumerate() {
                    match s.errors.as_ref().map(|e| e[i]).filter(|e| e.is_finite()) {
                        Some(e) => segment(px(x, (y - e).max(f64::MIN_POSITIVE)), px(x, y + e)),
                        None => segment(*p, *p),
                    }
                }
            }
        }
    }
    for (x, _) in &fig.vlines {
        let x = px_x(*x);
        segment((x, 0.0), (x, ah));
    }
    out.retain(|p| p.0.is_finite() && p.1.is_finite());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grid of ink over the pixels of `area` where `keep` holds, one point every 4 pixels.
    fn grid(area: (u32, u32), keep: impl Fn(f64, f64) -> bool) -> Vec<(f64, f64)> {
        let (w, h) = (area.0 as usize, area.1 as usize);
        (0..w)
            .step_by(4)
            .flat_map(|x| (0..h).step_by(4).map(move |y| (x as f64, y as f64)))
            .filter(|&(x, y)| keep(x, y))
            .collect()
    }

    /// The labels a log axis over `[a, b]` (data units) gets with at most `max` ticks.
    fn log_labels(a: f64, b: f64, max: usize) -> Vec<String> {
        log_key_points(a.log10(), b.log10(), max).iter().map(|v| label(10f64.powf(*v))).collect()
    }

    #[test]
    fn log_axes_are_labelled_with_round_numbers() {
        assert_eq!(log_labels(0.8, 80.0, 10), ["1", "2", "5", "10", "20", "50"]);
        assert_eq!(log_labels(0.015, 0.42, 10), ["0.02", "0.05", "0.1", "0.2"]);
        assert_eq!(log_labels(0.015, 0.42, 3), ["0.03", "0.1", "0.3"]);
        assert_eq!(
            log_labels(1e-4, 200.0, 10),
            ["1.0e-4", "0.001", "0.01", "0.1", "1", "10", "100"]
        );
        assert_eq!(
            log_labels(1e-9, 1e9, 10),
            ["1.0e-8", "1.0e-6", "1.0e-4", "0.01", "1", "100", "1.0e4", "1.0e6", "1.0e8"]
        );
        assert_eq!(log_labels(1e-30, 1e30, 5), ["1.0e-20", "1", "1.0e20"]);
        // Within a decade: the round values of a linear axis.
        let narrow = log_labels(1.2, 1.9, 10);
        assert!(narrow.len() >= 3 && narrow.iter().all(|l| l.len() <= 4), "{narrow:?}");
        // Never more than asked for, and always inside the range.
        for (a, b) in [(0.3, 0.9), (1.0, 64.0), (1e-3, 1e3), (2e-7, 3e-2)] {
            for max in 2..12 {
                let ticks = log_key_points(f64::log10(a), f64::log10(b), max);
                assert!(!ticks.is_empty() && ticks.len() <= max, "{a}..{b}, {max}: {ticks:?}");
                assert!(ticks.iter().all(|t| (a.log10()..=b.log10()).contains(t)));
            }
        }
    }

    #[test]
    fn the_legend_goes_where_the_data_is_not() {
        let (area, legend) = ((550, 380), (200, 120));
        // Nothing drawn: the first choice.
        assert!(matches!(legend_position(&[], legend, area), (SeriesLabelPosition::UpperLeft, 0)));
        // Data in the upper half: the upper places are covered, the lower right is free.
        let upper = grid(area, |_, y| y < 190.0);
        assert!(matches!(
            legend_position(&upper, legend, area),
            (SeriesLabelPosition::LowerRight, 0)
        ));
        // Data everywhere but the lower-left corner: only there.
        let all_but = grid(area, |x, y| !(x < 260.0 && y > 220.0));
        assert!(matches!(
            legend_position(&all_but, legend, area),
            (SeriesLabelPosition::LowerLeft, 0)
        ));
        // Data everywhere but the right middle.
        let all_but = grid(area, |x, y| !(x > 320.0 && (110.0..270.0).contains(&y)));
        assert!(matches!(
            legend_position(&all_but, legend, area),
            (SeriesLabelPosition::MiddleRight, 0)
        ));
    }

    #[test]
    fn a_legend_with_no_free_place_gets_a_band_above_the_data() {
        let (plot, legend) = ((550, 380), (200, 100));
        let zigzag: Vec<(f64, f64)> = (0..=40).map(|i| (i as f64, (i % 2) as f64)).collect();
        let full = Figure { series: vec![Series::line("z", zigzag, 0)], ..Default::default() };
        let ranges = (0.0, 40.0, 0.0, 1.0);
        assert!(legend_position(&ink(&full, ranges, plot), legend, plot).1 > 0);
        let (top, place) = legend_layout(&full, ranges, plot, legend);
        assert!(top > 1.0, "the y axis was not raised: top {top}");
        let covered = legend_position(&ink(&full, (0.0, 40.0, 0.0, top), plot), legend, plot);
        assert_eq!(covered.1, 0, "the legend at {place:?} still covers data");
        // Data that leaves a corner free keeps its axis.
        let low = Figure {
            series: vec![Series::line("l", vec![(0.0, 0.0), (40.0, 0.2)], 0)],
            ..Default::default()
        };
        assert_eq!(legend_layout(&low, ranges, plot, legend).0, 1.0);
    }

    #[test]
    fn ink_follows_lines_error_bars_and_markers_in_pixels() {
        let fig = Figure {
            series: vec![
                Series::line("a", vec![(0.0, 0.0), (1.0, 1.0)], 0),
                Series::points("b", vec![(0.5, 0.5)], Some(vec![0.25]), 1),
            ],
            vlines: vec![(0.25, "v".into())],
            ..Default::default()
        };
        let ink = ink(&fig, (0.0, 1.0, 0.0, 1.0), (100, 100));
        // The diagonal runs from the lower left to the upper right of the area, sampled densely.
        assert!(ink.iter().any(|p| p.0 < 1.0 && p.1 > 99.0));
        assert!(ink.iter().any(|p| p.0 > 99.0 && p.1 < 1.0));
        assert!(ink.iter().filter(|p| (p.0 + p.1 - 100.0).abs() < 1e-9).count() >= 40);
        // The error bar spans y in [0.25, 0.75] at x = 0.5; the marker line spans the height.
        assert!(ink.iter().any(|p| p.0 == 50.0 && (p.1 - 25.0).abs() < 1e-9));
        assert!(ink.iter().any(|p| p.0 == 50.0 && (p.1 - 75.0).abs() < 1e-9));
        assert!(ink.iter().any(|p| p.0 == 25.0 && p.1 == 0.0));
        assert!(ink.iter().any(|p| p.0 == 25.0 && p.1 == 100.0));
    }
}
