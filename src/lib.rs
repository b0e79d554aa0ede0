#![warn(missing_docs)]
//! # gm-loss
//!
//! The Gaussian-mixture (GM) loss of Wan et al. — "Rethinking Feature Distribution for Loss
//! Functions in Image Classification" (CVPR 2018, the L-GM loss) and "Shaping Deep Feature Space
//! Towards Gaussian Mixture for Visual Classification" (IEEE TPAMI 2023) — for
//! [Burn](https://burn.dev) 0.22.
//!
//! [`GmLoss`] replaces `Linear` + `CrossEntropyLoss` at the head of a classifier. It holds one
//! Gaussian per class (a learnable mean, and optionally a learned diagonal covariance), turns
//! features into logits from half squared Mahalanobis distances d_ik, widens the true-class
//! distance by a margin (1 + α) during training, and adds a likelihood term that pulls each
//! feature toward its class Gaussian:
//!
//! ```text
//! d_ik = ½ (x_i − μ_k)ᵀ Σ_k⁻¹ (x_i − μ_k)
//! L    = (1/B) Σ_i CE( log π_k − ½ log|Σ_k| − (1 + α·[k = y_i]) d_ik ,  y_i )
//!      + λ · (1/B) Σ_i ( d_{i,y_i} + ½ log|Σ_{y_i}| )
//! ```
//!
//! At inference the same parameters give the logits log π_k − ½ log|Σ_k| − d_ik, predictions,
//! distances to every class Gaussian, and feature log-likelihoods that flag abnormal inputs
//! ([`detect`]); the `attack` module (feature `autodiff`) has FGSM and PGD to test that on
//! adversarial ones.
//!
//! ## Backends
//!
//! The crate depends on Burn without any backend; enable the one you use with this crate's
//! feature of the same name (`flex`, `ndarray`, `wgpu`), or directly on `burn`. Training needs
//! Burn's `autodiff` feature (this crate's `autodiff`, or `burn/optim`).
//!
//! ## Example
//!
//! ```
//! use burn::prelude::*;
//! use gm_loss::{Covariance, GmLossConfig};
//!
//! let device = Device::flex().autodiff();
//! let loss = GmLossConfig::new(10, 64)            // K = 10 classes, D = 64 features
//!     .with_alpha(0.1)
//!     .with_lambda(0.01)
//!     .with_covariance(Covariance::Identity)
//!     .init(&device);
//!
//! let features = Tensor::<2>::random([32, 64], burn::tensor::Distribution::Default, &device);
//! let targets = Tensor::<1, Int>::from_ints([3; 32], &device);
//! let output = loss.forward(features, targets);
//! let grads = output.loss.backward();
//! assert!(loss.means.grad(&grads).is_some());
//! assert_eq!(output.logits.dims(), [32, 10]);
//! ```

#[cfg(feature = "autodiff")]
pub mod attack;
mod config;
pub mod detect;
mod error;
mod fused;
mod gm_loss;
mod likelihood;
mod output;
mod persist;
mod products;
mod reduction;
mod schedule;
#[cfg(feature = "train")]
mod train;
mod validate;

pub use config::{Covariance, GmLossConfig};
pub use error::GmLossError;
pub use gm_loss::GmLoss;
pub use output::{GmLossOutput, GmLossPerSample};
pub use reduction::Reduction;
pub use schedule::Schedule;
#[cfg(feature = "train")]
pub use train::{GmClassificationOutput, GmTerm, GmTermMetric, GmTermsInput};

/// The README's code blocks, compiled and run as doctests (with the `train` feature, as the
/// README's test command runs them).
#[cfg(all(doctest, feature = "train"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
