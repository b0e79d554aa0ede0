//! [`GmLossConfig`]: the settings of the loss, their validation, and building a [`GmLoss`].

use burn::config::Config;
use burn::module::Param;
use burn::nn::Initializer;
use burn::tensor::{Device, Tensor};

use crate::{GmLoss, GmLossError, Reduction, Schedule};

/// The covariance Σ_k of each class Gaussian.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Covariance {
    /// Σ_k = I for every class: d_ik = ½‖x_i − μ_k‖². The authors' recommended setting and the
    /// TPAMI version's ("no extra trainable parameters"). No log-variances are stored.
    Identity,
    /// Σ_k = diag(v_k), learned: one log-variance per class and feature dimension,
    /// v_kj = max(exp(s_kj), variance_floor).
    Diagonal,
}

/// Configuration of a [`GmLoss`], built with [`GmLossConfig::init`],
/// [`GmLossConfig::try_init`] or [`GmLossConfig::init_with`].
///
/// Every field is validated when the module is built; see [`GmLossError`] for the rules.
#[derive(Config, Debug)]
pub struct GmLossConfig {
    /// K, the number of classes (at least 2).
    pub num_classes: usize,
    /// D, the feature dimension: the width of the features fed to the loss (at least 1).
    pub feat_dim: usize,
    /// The margin α ≥ 0: during training the true-class distance is multiplied by (1 + α).
    /// Default `0.1`, the value of the authors' code. Replaced by
    /// [`alpha_schedule`](Self::alpha_schedule) when that is set.
    #[config(default = 0.1)]
    pub alpha: f64,
    /// The likelihood weight λ ≥ 0 in `loss = classification + λ · likelihood`.
    /// Default `0.01`, the value of the authors' TensorFlow demo. Replaced by
    /// [`lambda_schedule`](Self::lambda_schedule) when that is set.
    #[config(default = 0.01)]
    pub lambda: f64,
    /// α as a function of the training iteration (for example the authors' step-up
    /// 0.1 → 0.2 → 0.3). Default `None`: the constant [`alpha`](Self::alpha).
    pub alpha_schedule: Option<Schedule>,
    /// λ as a function of the training iteration. Default `None`: the constant
    /// [`lambda`](Self::lambda).
    pub lambda_schedule: Option<Schedule>,
    /// How per-sample terms are reduced. Default [`Reduction::Mean`].
    #[config(default = "Reduction::Mean")]
    pub reduction: Reduction,
    /// Class weights w_k > 0, as in Burn's `CrossEntropyLoss`: sample i counts w_{y_i} times in
    /// both terms, and the mean divides by Σ_i w_{y_i}. With label smoothing, the smoothed
    /// cross-entropy −Σ_k q_ik log p_ik weights each class k by w_k (as PyTorch does). Default
    /// `None`: all 1.
    pub weights: Option<Vec<f64>>,
    /// Labels that mark padding, as in Burn's `CrossEntropyLoss`: samples with one of these
    /// labels count in neither term nor in the mean's denominator, and may lie outside
    /// `0..num_classes`. A batch made only of padding gives a loss of 0 (and zero gradients),
    /// not NaN. Default `None`.
    pub pad_tokens: Option<Vec<usize>>,
    /// Label smoothing ε ∈ [0, 1], as in Burn's `CrossEntropyLoss`: the classification target
    /// becomes q_ik = (1 − ε)·[k = y_i] + ε/K. The margin still widens only the true-class
    /// distance d_{i,y_i}; the likelihood term keeps the hard label. Default `None` (ε = 0).
    pub smoothing: Option<f64>,
    /// The covariance of the class Gaussians. Default [`Covariance::Identity`].
    #[config(default = "Covariance::Identity")]
    pub covariance: Covariance,
    /// Class priors π, one positive finite value per class, normalised to sum to 1 when the
    /// module is built. `None` (the default) means uniform priors π_k = 1/K.
    pub priors: Option<Vec<f64>>,
    /// The smallest variance a [`Covariance::Diagonal`] class Gaussian may have. Must be finite;
    /// must be > 0 with [`Covariance::Diagonal`] (unused with [`Covariance::Identity`], where
    /// 0 is accepted). Default `1e-4`, the ε of the authors' Caffe layer.
    #[config(default = 1e-4)]
    pub variance_floor: f64,
    /// How the class means are initialised. Default: `KaimingNormal { gain: √2 }` with fan-in D,
    /// i.e. μ_kj ~ N(0, 2/D), the MSRA filler of the authors' CIFAR-100 model.
    #[config(
        default = "Initializer::KaimingNormal { gain: core::f64::consts::SQRT_2, fan_out_only: false }"
    )]
    pub initializer: Initializer,
    /// Whether every call checks the input **values** on the device — features finite, labels
    /// in `0..num_classes` — at the cost of one device-to-host read per call. Default `true`.
    ///
    /// With `false` only the (free) shape checks run: a NaN feature then gives a NaN loss, and
    /// an out-of-range label panics inside Burn on `flex` and `ndarray` but may read garbage
    /// on GPU backends. Turn it off only for inputs you have validated yourself, when the
    /// synchronisation matters (GPU training loops).
    #[config(default = true)]
    pub check_values: bool,
}

impl GmLossConfig {
    /// Builds a [`GmLoss`] on `device` with freshly initialised parameters: means from
    /// [`initializer`](Self::initializer), log-variances 0 (unit variances) for
    /// [`Covariance::Diagonal`].
    ///
    /// # Panics
    /// With the message of the [`GmLossError`] that [`try_init`](Self::try_init) returns.
    pub fn init(&self, device: &Device) -> GmLoss {
        self.try_init(device).unwrap_or_else(|err| panic!("{err}"))
    }

    /// Builds a [`GmLoss`] on `device`, or says which setting is invalid.
    pub fn try_init(&self, device: &Device) -> Result<GmLoss, GmLossError> {
        let priors = self.validate()?;
        let shape = [self.num_classes, self.feat_dim];
        let means =
            self.initializer
                .init_with(shape, Some(self.feat_dim), Some(self.num_classes), device);
        let log_variances = match self.covariance {
            Covariance::Identity => None,
            Covariance::Diagonal => Some(Initializer::Zeros.init(shape, device)),
        };
        Ok(GmLoss::new(self, means, log_variances, priors))
    }

    /// Builds a [`GmLoss`] from given parameters (to resume, or to start from means computed on
    /// data) on the device of `means`.
    ///
    /// `means` must have shape `[num_classes, feat_dim]`; `log_variances` must be `Some` tensor of
    /// the same shape exactly when [`covariance`](Self::covariance) is [`Covariance::Diagonal`].
    /// Both become trainable [`Param`]s.
    pub fn init_with(
        &self,
        means: Tensor<2>,
        log_variances: Option<Tensor<2>>,
    ) -> Result<GmLoss, GmLossError> {
        let priors = self.validate()?;
        let expected = [self.num_classes, self.feat_dim];
        check_parameter_shape("means", &means, expected)?;
        let diagonal = self.covariance == Covariance::Diagonal;
        if diagonal != log_variances.is_some() {
            return Err(GmLossError::CovarianceMismatch {
                covariance: self.covariance,
                given: log_variances.is_some(),
            });
        }
        if let Some(log_variances) = &log_variances {
            check_parameter_shape("log_variances", log_variances, expected)?;
        }
        let device = means.device();
        Ok(GmLoss::new(
            self,
            Param::from_tensor(means),
            log_variances.map(|s| Param::from_tensor(s.to_device(&device))),
            priors,
        ))
    }

    /// Checks every setting; returns the normalised priors.
    pub(crate) fn validate(&self) -> Result<Option<Vec<f64>>, GmLossError> {
        if self.num_classes < 2 {
            return Err(GmLossError::TooFewClasses {
                num_classes: self.num_classes,
            });
        }
        if self.feat_dim == 0 {
            return Err(GmLossError::ZeroFeatureDim);
        }
        match &self.alpha_schedule {
            Some(schedule) => schedule.validate("alpha")?,
            None => check_non_negative("alpha", self.alpha)?,
        }
        match &self.lambda_schedule {
            Some(schedule) => schedule.validate("lambda")?,
            None => check_non_negative("lambda", self.lambda)?,
        }
        if let Some(smoothing) = self.smoothing
            && !(0.0..=1.0).contains(&smoothing)
        {
            return Err(GmLossError::InvalidHyperParameter {
                name: "smoothing",
                value: smoothing,
                expected: "in [0, 1]",
            });
        }
        if let Some(weights) = &self.weights {
            check_class_values("weights", weights, self.num_classes)?;
        }
        match self.covariance {
            Covariance::Identity => check_non_negative("variance_floor", self.variance_floor)?,
            Covariance::Diagonal => {
                if !(self.variance_floor.is_finite() && self.variance_floor > 0.0) {
                    return Err(GmLossError::InvalidHyperParameter {
                        name: "variance_floor",
                        value: self.variance_floor,
                        expected: "finite and > 0 with Covariance::Diagonal",
                    });
                }
            }
        }
        self.priors
            .as_deref()
            .map(|priors| normalised_priors(priors, self.num_classes))
            .transpose()
    }
}

/// `value` must be finite and ≥ 0.
pub(crate) fn check_non_negative(name: &'static str, value: f64) -> Result<(), GmLossError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(GmLossError::InvalidHyperParameter {
            name,
            value,
            expected: "finite and >= 0",
        })
    }
}

fn check_parameter_shape(
    name: &'static str,
    tensor: &Tensor<2>,
    expected: [usize; 2],
) -> Result<(), GmLossError> {
    let got = tensor.dims();
    if got == expected {
        Ok(())
    } else {
        Err(GmLossError::ParameterShape {
            name,
            expected,
            got,
        })
    }
}

/// Checks a per-class vector: one entry per class, each positive and finite.
fn check_class_values(
    name: &'static str,
    values: &[f64],
    num_classes: usize,
) -> Result<(), GmLossError> {
    if values.len() != num_classes {
        return Err(GmLossError::ClassVectorLength {
            name,
            expected: num_classes,
            got: values.len(),
        });
    }
    match values
        .iter()
        .enumerate()
        .find(|&(_, &v)| !(v.is_finite() && v > 0.0))
    {
        Some((class, &value)) => Err(GmLossError::InvalidClassValue { name, class, value }),
        None => Ok(()),
    }
}

/// π_k / Σ_j π_j, after checking length, sign and finiteness.
fn normalised_priors(priors: &[f64], num_classes: usize) -> Result<Vec<f64>, GmLossError> {
    check_class_values("priors", priors, num_classes)?;
    let total: f64 = priors.iter().sum();
    if !total.is_finite() {
        // Each prior is finite but their sum overflows: rescale first.
        let max = priors.iter().cloned().fold(0.0, f64::max);
        return normalised_priors(
            &priors.iter().map(|p| p / max).collect::<Vec<_>>(),
            num_classes,
        );
    }
    Ok(priors.iter().map(|p| p / total).collect())
}
