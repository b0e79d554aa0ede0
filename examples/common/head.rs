//! The two heads the examples compare: `GmLoss`, or `Linear` + `CrossEntropyLoss`.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use gm_loss::{GmClassificationOutput, GmLoss, GmLossConfig};

use super::cli::{CommonArgs, LossKind};

/// The classifier head on top of a `[batch, feat_dim]` feature.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)] // one head per model: size does not matter
pub enum Head {
    /// Gaussian-mixture loss: the class means (and variances) are the head's parameters.
    Gm(GmLoss),
    /// Softmax baseline: logits = W·x + b, loss = cross-entropy.
    Softmax(Linear),
}

impl Head {
    /// The head `args.loss` asks for, for `num_classes` classes on `feat_dim` features.
    pub fn new(args: &CommonArgs, num_classes: usize, feat_dim: usize, device: &Device) -> Self {
        match args.loss {
            LossKind::Gm => Head::Gm(gm_config(args, num_classes, feat_dim).init(device)),
            LossKind::Ce => Head::Softmax(LinearConfig::new(feat_dim, num_classes).init(device)),
        }
    }

    /// Loss (with the margin, for GM) and inference logits, as one burn-train output.
    /// For the softmax head both terms report the cross-entropy and the likelihood term is 0.
    pub fn forward(&self, features: Tensor<2>, targets: Tensor<1, Int>) -> GmClassificationOutput {
        match self {
            Head::Gm(gm) => {
                GmClassificationOutput::new(gm.forward(features, targets.clone()), targets)
            }
            Head::Softmax(linear) => {
                let logits = linear.forward(features);
                let loss = CrossEntropyLossConfig::new()
                    .init(&logits.device())
                    .forward(logits.clone(), targets.clone());
                GmClassificationOutput {
                    likelihood: loss.zeros_like(),
                    classification: loss.clone(),
                    loss,
                    output: logits,
                    targets,
                }
            }
        }
    }

    /// Inference logits (no margin for GM): the argmax is the prediction.
    pub fn logits(&self, features: Tensor<2>) -> Tensor<2> {
        match self {
            Head::Gm(gm) => gm.logits(features),
            Head::Softmax(linear) => linear.forward(features),
        }
    }
}

/// The GM head's configuration from the command line.
pub fn gm_config(args: &CommonArgs, num_classes: usize, feat_dim: usize) -> GmLossConfig {
    GmLossConfig::new(num_classes, feat_dim)
        .with_alpha(args.alpha)
        .with_lambda(args.lambda)
        .with_covariance(args.covariance.into())
}
