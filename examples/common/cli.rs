//! The flags both image examples share, and the choices they name.

use std::path::PathBuf;

use burn::prelude::Device;
use clap::{Args, ValueEnum};
use gm_loss::Covariance;

/// Which head (and loss) sits on top of the network's features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    /// `GmLoss`: class Gaussians, margin α, likelihood weight λ.
    Gm,
    /// `Linear` + `CrossEntropyLoss`: the softmax baseline, same network and budget.
    Ce,
}

/// The Burn backend to train on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// Burn's pure-Rust CPU backend.
    Flex,
    /// The ndarray CPU backend (deprecated upstream).
    Ndarray,
    /// wgpu: Vulkan, Metal or DX12 (needs `--features wgpu`).
    Wgpu,
}

/// The class covariance of the GM head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CovarianceKind {
    /// Σ = I (the CVPR paper's choice for its experiments).
    Identity,
    /// A learned diagonal Σ_k per class.
    Diagonal,
}

impl From<CovarianceKind> for Covariance {
    fn from(kind: CovarianceKind) -> Self {
        match kind {
            CovarianceKind::Identity => Covariance::Identity,
            CovarianceKind::Diagonal => Covariance::Diagonal,
        }
    }
}

/// Flags shared by `mnist` and `cifar`. Each example sets its own defaults for the training budget.
#[derive(Debug, Clone, Args, serde::Serialize, serde::Deserialize)]
pub struct CommonArgs {
    /// Loss at the head: `gm` (Gaussian mixture) or `ce` (Linear + softmax cross-entropy).
    #[arg(long, value_enum, default_value_t = LossKind::Gm)]
    pub loss: LossKind,
    /// Backend to train and evaluate on.
    #[arg(long, value_enum, default_value_t = DeviceKind::Flex)]
    pub device: DeviceKind,
    /// Random seed for initialisation, shuffling and augmentation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Margin α of the GM loss (ignored by `ce`).
    #[arg(long, default_value_t = 0.1)]
    pub alpha: f64,
    /// Likelihood weight λ of the GM loss (ignored by `ce`). The examples use the authors'
    /// CIFAR-100 value 0.1, which pulls the features onto their class Gaussians; the library's
    /// default is 0.01.
    #[arg(long, default_value_t = 0.1)]
    pub lambda: f64,
    /// Class covariance of the GM head (ignored by `ce`).
    #[arg(long, value_enum, default_value_t = CovarianceKind::Identity)]
    pub covariance: CovarianceKind,
    /// Learning rate of the GM head's means as a multiple of the network's (Caffe's
    /// `lr_mult`; ignored by `ce`). Adam moves every parameter by about the learning rate per
    /// step, so at 1 the means barely leave their initialisation while the network rescales
    /// the features around them.
    #[arg(long, default_value_t = 10.0)]
    #[serde(default = "one")]
    pub means_lr_mult: f64,
    /// Use only the first N training images and the first N/4 test images (0 = all).
    #[arg(long, default_value_t = 0)]
    pub limit: usize,
    /// Directory to save the trained model (`model.bpk`), its configuration (`config.json`) and a
    /// JSON summary of the metrics (`summary.json`). Nothing is saved without it.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn one() -> f64 {
    1.0
}

impl CommonArgs {
    /// The Burn device for `--device`, or a message saying why it is not available.
    pub fn device(&self) -> Result<Device, String> {
        match self.device {
            DeviceKind::Flex => Ok(Device::flex()),
            #[allow(deprecated)]
            DeviceKind::Ndarray => Ok(Device::ndarray()),
            DeviceKind::Wgpu => wgpu_device(),
        }
    }

    /// `(train, test)` sizes after `--limit`.
    pub fn limits(&self, train: usize, test: usize) -> (usize, usize) {
        if self.limit == 0 {
            (train, test)
        } else {
            (self.limit.min(train), (self.limit / 4).max(1).min(test))
        }
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device, String> {
    Ok(Device::wgpu(Default::default()))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device, String> {
    Err("this build has no wgpu backend: rerun with `--features wgpu`".into())
}
