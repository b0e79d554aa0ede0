//! L∞ attacks for evaluating robustness and detection: FGSM and iterated PGD/BIM, generic over
//! any model given as a closure from an input batch to logits (or over any objective).
//!
//! Needs the crate feature `autodiff` (input gradients).

use burn::tensor::activation::log_softmax;
use burn::tensor::{Distribution, Int, Tensor};

/// Why an attack could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AttackError {
    /// ε is negative or not finite.
    #[error("epsilon must be finite and >= 0, got {value}")]
    InvalidEpsilon {
        /// The value given.
        value: f64,
    },
    /// The step size is not positive and finite.
    #[error("step_size must be finite and > 0, got {value}")]
    InvalidStepSize {
        /// The value given.
        value: f64,
    },
    /// The valid input range is empty or not finite.
    #[error("clip range must be finite with min <= max, got [{min}, {max}]")]
    InvalidClip {
        /// Lower end.
        min: f64,
        /// Upper end.
        max: f64,
    },
    /// The inputs carry no autodiff, so no input gradient can be taken.
    #[error(
        "the inputs are on a device without autodiff; create them on `device.autodiff()` to attack"
    )]
    NoAutodiff,
    /// The objective's gradient does not reach the inputs.
    #[error("the attack objective does not depend on the inputs: no input gradient")]
    NoGradient,
    /// The labels are not one per input.
    #[error("labels must have one entry per input ({batch}), got {got}")]
    LabelLength {
        /// The batch size.
        batch: usize,
        /// The number of labels.
        got: usize,
    },
}

/// What the attack aims at.
#[derive(Debug, Clone)]
pub enum Goal {
    /// Push every input away from its true label: ascend the cross-entropy of these labels.
    Untargeted(Tensor<1, Int>),
    /// Pull every input toward a chosen label: descend the cross-entropy of these targets.
    Targeted(Tensor<1, Int>),
}

/// Settings of an iterated L∞ attack (PGD with `random_start`, BIM without).
#[derive(Debug, Clone, PartialEq)]
pub struct PgdConfig {
    /// The radius ε of the L∞ ball around each input.
    pub epsilon: f64,
    /// The step α of each signed-gradient step.
    pub step_size: f64,
    /// The number of steps.
    pub steps: usize,
    /// Start from a uniform random point of the ε-ball (PGD) instead of the input (BIM).
    pub random_start: bool,
    /// The valid input range [min, max] every iterate is clipped to, if any.
    pub clip: Option<(f64, f64)>,
}

impl PgdConfig {
    /// The usual PGD: `steps` steps of size 2.5·ε/steps from a random start.
    pub fn new(epsilon: f64, steps: usize) -> Self {
        Self {
            epsilon,
            step_size: 2.5 * epsilon / steps.max(1) as f64,
            steps,
            random_start: true,
            clip: None,
        }
    }

    /// With the valid input range [min, max].
    pub fn with_clip(mut self, min: f64, max: f64) -> Self {
        self.clip = Some((min, max));
        self
    }

    fn validate(&self) -> Result<(), AttackError> {
        if !(self.epsilon.is_finite() && self.epsilon >= 0.0) {
            return Err(AttackError::InvalidEpsilon {
                value: self.epsilon,
            });
        }
        if !(self.step_size.is_finite() && self.step_size > 0.0) {
            return Err(AttackError::InvalidStepSize {
                value: self.step_size,
            });
        }
        if let Some((min, max)) = self.clip
            && !(min.is_finite() && max.is_finite() && min <= max)
        {
            return Err(AttackError::InvalidClip { min, max });
        }
        Ok(())
    }
}

/// FGSM: one signed-gradient step of size ε, x' = clip(x ± ε·sign(∇ₓ CE)) (+ for untargeted,
/// − for targeted).
///
/// # Shapes
/// - inputs: any `[batch, ...]`, on an autodiff device
/// - `model(inputs)`: `[batch, num_classes]` logits
pub fn fgsm<const D: usize>(
    model: impl Fn(Tensor<D>) -> Tensor<2>,
    inputs: Tensor<D>,
    goal: &Goal,
    epsilon: f64,
    clip: Option<(f64, f64)>,
) -> Result<Tensor<D>, AttackError> {
    let config = PgdConfig {
        epsilon,
        step_size: epsilon.max(f64::MIN_POSITIVE),
        steps: 1,
        random_start: false,
        clip,
    };
    pgd(model, inputs, goal, &config)
}

/// Iterated L∞ attack on the cross-entropy of the model's logits: from x₀ (or a random point of
/// the ball), repeat x ← clip_range(clip_ball(x ± step·sign(∇ₓ CE))), where clip_ball projects
/// onto {x : ‖x − x₀‖∞ ≤ ε} and clip_range onto the valid range.
pub fn pgd<const D: usize>(
    model: impl Fn(Tensor<D>) -> Tensor<2>,
    inputs: Tensor<D>,
    goal: &Goal,
    config: &PgdConfig,
) -> Result<Tensor<D>, AttackError> {
    let batch = inputs.dims()[0];
    let (labels, sign) = match goal {
        Goal::Untargeted(labels) => (labels, 1.0),
        Goal::Targeted(targets) => (targets, -1.0),
    };
    let [got] = labels.dims();
    if got != batch {
        return Err(AttackError::LabelLength { batch, got });
    }
    let y = labels.clone().reshape([batch, 1]);
    let objective = |x: Tensor<D>| {
        // Σ_i CE_i (a sum: the sign of each input's gradient does not depend on the batch).
        let cross_entropy = -log_softmax(model(x), 1).gather(1, y.clone()).sum();
        cross_entropy * sign
    };
    pgd_with_objective(objective, inputs, config)
}

/// The iterated L∞ attack ascending any differentiable `objective` of the input batch (for
/// example an adaptive attack that also raises the feature likelihood).
pub fn pgd_with_objective<const D: usize>(
    objective: impl Fn(Tensor<D>) -> Tensor<1>,
    inputs: Tensor<D>,
    config: &PgdConfig,
) -> Result<Tensor<D>, AttackError> {
    config.validate()?;
    if !inputs.is_autodiff() {
        return Err(AttackError::NoAutodiff);
    }
    let origin = inputs.detach();
    let eps = config.epsilon;
    let project = |x: Tensor<D>| {
        let x = origin.clone() + (x - origin.clone()).clamp(-eps, eps);
        match config.clip {
            Some((min, max)) => x.clamp(min, max),
            None => x,
        }
    };
    let mut x = if config.random_start && eps > 0.0 {
        let noise = Tensor::<D>::random(
            origin.shape(),
            Distribution::Uniform(-eps, eps),
            (&origin.device(), origin.dtype()),
        );
        project(origin.clone() + noise)
    } else {
        origin.clone()
    };
    for _ in 0..config.steps {
        let current = x.detach().require_grad();
        let grads = objective(current.clone()).backward();
        let gradient = current.grad(&grads).ok_or(AttackError::NoGradient)?;
        x = project(current.detach() + gradient.sign() * config.step_size);
    }
    Ok(x.detach())
}
