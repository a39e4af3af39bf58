//! Observers record statistics of the loss along a path, never the trajectory.

/// Receives the state and its loss at the steps it asks for.
pub trait Observer<S>: Clone + Send {
    fn wants(&self, step: usize) -> bool;
    /// Whether `record` at this step needs the loss (computing it can cost a full pass over the
    /// data); when not, `record` gets NaN.
    fn needs_loss(&self, _step: usize) -> bool {
        true
    }
    fn record(&mut self, step: usize, x: &S, loss: f64);
}

/// A progress bar ticked every `every` steps (hidden bars cost nothing; no loss is computed).
#[derive(Debug, Clone)]
pub struct Progress {
    pub bar: indicatif::ProgressBar,
    pub every: usize,
}

impl Progress {
    /// Sets the bar up for a run of `steps` steps, ticking about 200 times.
    pub fn new(bar: indicatif::ProgressBar, steps: usize, message: String) -> Self {
        bar.set_length(steps as u64);
        bar.set_position(0);
        bar.set_message(message);
        Self { bar, every: (steps / 200).max(1) }
    }
}

impl<S> Observer<S> for Progress {
    fn wants(&self, step: usize) -> bool {
        step.is_multiple_of(self.every)
    }
    fn needs_loss(&self, _step: usize) -> bool {
        false
    }
    fn record(&mut self, step: usize, _x: &S, _loss: f64) {
        self.bar.set_position(step as u64);
    }
}

/// The time average of the loss over steps `from..=to`.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeAverage {
    pub from: usize,
    pub to: usize,
    pub sum: f64,
    pub count: usize,
}

impl TimeAverage {
    pub fn new(from: usize, to: usize) -> Self {
        Self { from, to, sum: 0.0, count: 0 }
    }
    /// The average so far (NaN when nothing was recorded).
    pub fn mean(&self) -> f64 {
        self.sum / self.count as f64
    }
}

impl<S> Observer<S> for TimeAverage {
    #[inline]
    fn wants(&self, step: usize) -> bool {
        step >= self.from && step <= self.to
    }
    #[inline]
    fn record(&mut self, _step: usize, _x: &S, loss: f64) {
        self.sum += loss;
        self.count += 1;
    }
}

/// The loss at chosen steps (for transients).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshots {
    pub at: Vec<usize>,
    pub values: Vec<f64>,
}

impl Snapshots {
    /// `at` must be sorted ascending.
    pub fn new(mut at: Vec<usize>) -> Self {
        at.sort_unstable();
        at.dedup();
        Self { at, values: Vec::new() }
    }
}

impl<S> Observer<S> for Snapshots {
    fn wants(&self, step: usize) -> bool {
        self.at.get(self.values.len()) == Some(&step)
    }
    fn record(&mut self, _step: usize, _x: &S, loss: f64) {
        self.values.push(loss);
    }
}

/// Every loss in a window, for batch-means estimates on a single long path.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub from: usize,
    pub every: usize,
    pub values: Vec<f64>,
}

impl Series {
    pub fn new(from: usize, every: usize) -> Self {
        Self { from, every: every.max(1), values: Vec::new() }
    }
}

impl<S> Observer<S> for Series {
    fn wants(&self, step: usize) -> bool {
        step >= self.from && (step - self.from).is_multiple_of(self.every)
    }
    fn record(&mut self, _step: usize, _x: &S, loss: f64) {
        self.values.push(loss);
    }
}

impl<S, A: Observer<S>, B: Observer<S>> Observer<S> for (A, B) {
    fn wants(&self, step: usize) -> bool {
        self.0.wants(step) || self.1.wants(step)
    }
    fn needs_loss(&self, step: usize) -> bool {
        (self.0.wants(step) && self.0.needs_loss(step))
            || (self.1.wants(step) && self.1.needs_loss(step))
    }
    fn record(&mut self, step: usize, x: &S, loss: f64) {
        if self.0.wants(step) {
            self.0.record(step, x, loss);
        }
        if self.1.wants(step) {
            self.1.record(step, x, loss);
        }
    }
}
