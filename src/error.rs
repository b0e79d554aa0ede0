//! The crate's one error type.

use crate::Covariance;

/// Everything that can go wrong when configuring or calling [`GmLoss`](crate::GmLoss).
///
/// Every message names the offending value and what was expected. The panicking methods
/// ([`GmLossConfig::init`](crate::GmLossConfig::init), [`GmLoss::forward`](crate::GmLoss::forward),
/// ...) panic with exactly the [`Display`](core::fmt::Display) text of these variants.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GmLossError {
    /// `num_classes` is below 2: a mixture needs at least two classes to classify.
    #[error("num_classes must be at least 2, got {num_classes}")]
    TooFewClasses {
        /// The value given.
        num_classes: usize,
    },

    /// `feat_dim` is 0.
    #[error("feat_dim must be at least 1, got 0")]
    ZeroFeatureDim,

    /// A scalar hyper-parameter (`alpha`, `lambda`, their schedules, `variance_floor`,
    /// `smoothing`) is out of its range.
    #[error("{name} must be {expected}, got {value}")]
    InvalidHyperParameter {
        /// The name of the setting, as in [`GmLossConfig`](crate::GmLossConfig).
        name: &'static str,
        /// The value given.
        value: f64,
        /// The accepted range, in words.
        expected: &'static str,
    },

    /// A per-class vector (`priors`, `weights`) does not have one entry per class.
    #[error("{name} must have one entry per class ({expected}), got {got}")]
    ClassVectorLength {
        /// `"priors"` or `"weights"`.
        name: &'static str,
        /// `num_classes`.
        expected: usize,
        /// The length given.
        got: usize,
    },

    /// A prior or class weight is zero, negative, NaN or infinite.
    #[error("{name} must be positive and finite, got {value} for class {class}")]
    InvalidClassValue {
        /// `"priors"` or `"weights"`.
        name: &'static str,
        /// The class whose value is bad.
        class: usize,
        /// The value given.
        value: f64,
    },

    /// A parameter tensor given to [`GmLossConfig::init_with`](crate::GmLossConfig::init_with)
    /// does not have the shape `[num_classes, feat_dim]`.
    #[error("{name} must have shape {expected:?} ([num_classes, feat_dim]), got {got:?}")]
    ParameterShape {
        /// `"means"` or `"log_variances"`.
        name: &'static str,
        /// `[num_classes, feat_dim]`.
        expected: [usize; 2],
        /// The shape given.
        got: [usize; 2],
    },

    /// [`GmLossConfig::init_with`](crate::GmLossConfig::init_with) got log-variances for the
    /// identity covariance, or none for the diagonal one.
    #[error(
        "covariance {covariance:?} needs log_variances to be {}, got {}",
        if *.covariance == Covariance::Diagonal { "Some" } else { "None" },
        if *.given { "Some" } else { "None" }
    )]
    CovarianceMismatch {
        /// The configured covariance.
        covariance: Covariance,
        /// Whether log-variances were given.
        given: bool,
    },

    /// The batch is empty: a batch mean of nothing is undefined.
    #[error(
        "the batch is empty (features of shape [0, {feat_dim}]); at least one sample is needed"
    )]
    EmptyBatch {
        /// The feature dimension of the empty batch.
        feat_dim: usize,
    },

    /// The features are not of shape `[batch, feat_dim]`.
    #[error("features must have shape [batch, {feat_dim}], got {got:?}")]
    FeatureShape {
        /// The configured `feat_dim`.
        feat_dim: usize,
        /// The shape given.
        got: [usize; 2],
    },

    /// The targets are not one label per sample.
    #[error("targets must have one label per sample ({batch}), got {got}")]
    TargetLength {
        /// The batch size of the features.
        batch: usize,
        /// The number of targets.
        got: usize,
    },

    /// A label is negative or not below `num_classes`.
    #[error("label {label} of sample {sample} is out of range: labels must be in 0..{num_classes}")]
    LabelOutOfRange {
        /// The index of the sample in the batch.
        sample: usize,
        /// The label given.
        label: i64,
        /// `num_classes`.
        num_classes: usize,
    },

    /// A feature is NaN or infinite.
    #[error("features must be finite, got {value} at [{sample}, {dim}]")]
    NonFiniteFeature {
        /// The index of the sample in the batch.
        sample: usize,
        /// The feature dimension.
        dim: usize,
        /// The value found.
        value: f64,
    },

    /// Reading the validation result back from the device failed (device lost, out of memory).
    #[error("could not read the input checks back from the device: {reason}")]
    ReadBack {
        /// What the backend reported.
        reason: String,
    },

    /// A configuration file could not be read or parsed.
    #[error("could not load the GmLossConfig from {path}: {reason}")]
    ConfigFile {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },

    /// A weights file could not be read, or does not fit the configuration (shapes, covariance).
    #[error("could not load GmLoss weights from {path}: {reason}")]
    RecordFile {
        /// The file.
        path: String,
        /// What went wrong, as Burn's record loader reports it.
        reason: String,
    },
}
