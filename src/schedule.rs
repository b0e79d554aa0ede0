//! [`Schedule`]: how α or λ change with the training iteration t.

use burn::config::Config;

use crate::GmLossError;
use crate::config::check_non_negative;

/// A value as a function of the training iteration t = 0, 1, 2, ... (see
/// [`GmLoss::iteration`](crate::GmLoss::iteration) for what counts as an iteration).
///
/// Set one with [`GmLossConfig::with_alpha_schedule`](crate::GmLossConfig::with_alpha_schedule)
/// or [`with_lambda_schedule`](crate::GmLossConfig::with_lambda_schedule); it then replaces the
/// constant `alpha` or `lambda`.
#[derive(Config, Debug, PartialEq)]
pub enum Schedule {
    /// v(t) = value.
    Constant {
        /// The value, ≥ 0.
        value: f64,
    },
    /// The authors' Caffe `STEPUP` policy: v(t) = min(initial · gamma^⌊t / step⌋, max).
    ///
    /// Their CIFAR-100 recipe for α: `initial` 0.1, `gamma` 2, `step` 5000, `max` 0.3, i.e. 0.1
    /// for t < 5000, 0.2 for t < 10000, then 0.3.
    StepUp {
        /// v(0) ≥ 0.
        initial: f64,
        /// The factor applied every `step` iterations, > 0.
        gamma: f64,
        /// Iterations between two factors, ≥ 1.
        step: usize,
        /// The largest value, ≥ 0.
        max: f64,
    },
    /// Linear warm-up (the TPAMI version's code): v(t) = start + (end − start) · min(t / steps, 1).
    LinearWarmup {
        /// v(0) ≥ 0.
        start: f64,
        /// The value from t = `steps` on, ≥ 0.
        end: f64,
        /// Length of the ramp in iterations, ≥ 1.
        steps: usize,
    },
}

impl Schedule {
    /// The value at iteration `t`.
    pub fn value(&self, t: u64) -> f64 {
        match *self {
            Schedule::Constant { value } => value,
            Schedule::StepUp {
                initial,
                gamma,
                step,
                max,
            } => {
                let k = (t / step as u64).min(i32::MAX as u64) as i32;
                (initial * gamma.powi(k)).min(max)
            }
            Schedule::LinearWarmup { start, end, steps } => {
                let progress = (t as f64 / steps as f64).min(1.0);
                start + (end - start) * progress
            }
        }
    }

    /// Checks the parameters; `name` is `"alpha"` or `"lambda"`, used in the error.
    pub(crate) fn validate(&self, name: &'static str) -> Result<(), GmLossError> {
        let non_negative = |value: f64| check_non_negative(name, value);
        let at_least_one = |steps: usize| {
            if steps >= 1 {
                Ok(())
            } else {
                Err(GmLossError::InvalidHyperParameter {
                    name,
                    value: steps as f64,
                    expected: "a schedule with step / steps >= 1",
                })
            }
        };
        match *self {
            Schedule::Constant { value } => non_negative(value),
            Schedule::StepUp {
                initial,
                gamma,
                step,
                max,
            } => {
                non_negative(initial)?;
                non_negative(max)?;
                at_least_one(step)?;
                if gamma.is_finite() && gamma > 0.0 {
                    Ok(())
                } else {
                    Err(GmLossError::InvalidHyperParameter {
                        name,
                        value: gamma,
                        expected: "a schedule with a finite gamma > 0",
                    })
                }
            }
            Schedule::LinearWarmup { start, end, steps } => {
                non_negative(start)?;
                non_negative(end)?;
                at_least_one(steps)
            }
        }
    }
}

/// The training-iteration counter t of a [`GmLoss`](crate::GmLoss), shared by its clones.
#[derive(Debug, Clone, Default)]
pub(crate) struct Iteration(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl Iteration {
    /// The current t.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets t.
    pub(crate) fn set(&self, t: u64) {
        self.0.store(t, std::sync::atomic::Ordering::Relaxed)
    }

    /// Returns t, then advances it by one if `training`.
    pub(crate) fn advance(&self, training: bool) -> u64 {
        if training {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        } else {
            self.get()
        }
    }
}
