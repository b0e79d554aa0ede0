//! Test helpers: the backends to test on, tensor conversion, comparison with error tracking, and
//! the explicit-loop f64 reference of the GM loss (`reference`).
#![allow(dead_code)]

pub mod reference;

use burn::prelude::*;
use burn::tensor::{DType, TensorData};

/// The CPU backends every test runs on: `flex` and `ndarray`, each with autodiff.
pub fn devices() -> Vec<(&'static str, Device)> {
    #[allow(deprecated)] // ndarray is deprecated upstream, but users are still on it.
    let ndarray = Device::ndarray();
    vec![
        ("flex", Device::flex().autodiff()),
        ("ndarray", ndarray.autodiff()),
    ]
}

/// [`devices`] and, where it works, [`wgpu_device`].
pub fn all_devices() -> Vec<(&'static str, Device)> {
    devices().into_iter().chain(wgpu_device()).collect()
}

/// wgpu with autodiff, when this build has the `wgpu` feature and a Vulkan/Metal/DX12 adapter
/// works (in CI: Mesa's lavapipe CPU driver, about 140× slower than flex, so wgpu runs a reduced
/// set of cases). Otherwise `None`, after saying why on stderr.
pub fn wgpu_device() -> Option<(&'static str, Device)> {
    #[cfg(feature = "wgpu")]
    {
        let probe = std::panic::catch_unwind(|| {
            let device = Device::wgpu(Default::default());
            let sum = Tensor::<1>::from_floats([1.0, 2.0], &device)
                .sum()
                .into_scalar::<f32>();
            assert_eq!(sum, 3.0);
            device
        });
        match probe {
            Ok(device) => {
                eprintln!("wgpu: adapter works, running the wgpu cases");
                Some(("wgpu", device.autodiff()))
            }
            Err(_) => {
                eprintln!(
                    "wgpu: no working adapter (install mesa-vulkan-drivers): wgpu cases skipped"
                );
                None
            }
        }
    }
    #[cfg(not(feature = "wgpu"))]
    {
        eprintln!("wgpu: built without `--features wgpu`: wgpu cases skipped");
        None
    }
}

/// A `[rows, cols]` tensor from nested rows, in `dtype`.
pub fn tensor2(rows: &[Vec<f64>], dtype: DType, device: &Device) -> Tensor<2> {
    let cols = rows[0].len();
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), cols]), (device, dtype))
}

/// Labels as an Int tensor.
pub fn labels(y: &[usize], device: &Device) -> Tensor<1, Int> {
    let n = y.len();
    let y: Vec<i64> = y.iter().map(|&v| v as i64).collect();
    Tensor::from_data(TensorData::new(y, [n]), device)
}

/// A tensor's values as f64, row-major.
pub fn values<const D: usize>(t: &Tensor<D>) -> Vec<f64> {
    t.try_to_vec_as::<f64>().expect("read back")
}

/// A tensor's values as nested rows.
pub fn rows(t: &Tensor<2>) -> Vec<Vec<f64>> {
    let [_, cols] = t.dims();
    values(t).chunks(cols).map(<[f64]>::to_vec).collect()
}

/// The largest absolute and relative error seen, over many comparisons.
///
/// The relative error of one comparison is |got − want| / max(|want|, floor): the floor keeps
/// near-zero reference values from dominating it.
#[derive(Debug, Default, Clone, Copy)]
pub struct ErrorStats {
    pub max_abs: f64,
    pub max_rel: f64,
    pub count: usize,
}

impl ErrorStats {
    /// Compares `got` with `want` element by element, asserting
    /// |got − want| ≤ tol · max(1, max_j |want_j|): the tolerance scales with the magnitude of
    /// the quantity (a gradient's entries share one scale).
    #[track_caller]
    pub fn check(&mut self, what: &str, got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            let abs = (g - w).abs();
            assert!(
                abs <= tol * scale,
                "{what}[{i}]: got {g}, want {w} (|diff| {abs:e} > {tol:e} * scale {scale})"
            );
            self.max_abs = self.max_abs.max(abs);
            self.max_rel = self.max_rel.max(abs / w.abs().max(1e-3));
            self.count += 1;
        }
    }

    pub fn merge(&mut self, other: ErrorStats) {
        self.max_abs = self.max_abs.max(other.max_abs);
        self.max_rel = self.max_rel.max(other.max_rel);
        self.count += other.count;
    }
}

/// Flattens nested rows.
pub fn flat(rows: &[Vec<f64>]) -> Vec<f64> {
    rows.iter().flatten().copied().collect()
}

/// What the crate computes for a [`reference::Problem`], read back as f64.
#[derive(Debug, Clone)]
pub struct CrateResult {
    pub d: Vec<Vec<f64>>,
    pub logits: Vec<Vec<f64>>,
    pub predictions: Vec<usize>,
    pub classification: f64,
    pub likelihood: f64,
    pub loss: f64,
    pub grad_x: Vec<Vec<f64>>,
    pub grad_mu: Vec<Vec<f64>>,
    pub grad_log_var: Option<Vec<Vec<f64>>>,
}

/// The crate's `GmLoss` for `problem`, with its parameters in `dtype` on `device`.
pub fn crate_loss(problem: &reference::Problem, dtype: DType, device: &Device) -> gm_loss::GmLoss {
    use gm_loss::{Covariance, GmLossConfig};
    let covariance = match problem.log_var {
        Some(_) => Covariance::Diagonal,
        None => Covariance::Identity,
    };
    GmLossConfig::new(problem.classes(), problem.dim())
        .with_alpha(problem.alpha)
        .with_lambda(problem.lambda)
        .with_covariance(covariance)
        .with_priors(problem.priors.clone())
        .with_variance_floor(problem.floor)
        .with_weights(problem.options.weights.clone())
        .with_pad_tokens(problem.options.pad_tokens.clone())
        .with_smoothing((problem.options.smoothing > 0.0).then_some(problem.options.smoothing))
        .with_reduction(if problem.options.sum {
            gm_loss::Reduction::Sum
        } else {
            gm_loss::Reduction::Mean
        })
        .init_with(
            tensor2(&problem.mu, dtype, device),
            problem.log_var.as_ref().map(|s| tensor2(s, dtype, device)),
        )
        .expect("valid problem")
}

/// Runs forward, backward, `distances` and `predict` of the crate on `problem`.
pub fn run_crate(problem: &reference::Problem, dtype: DType, device: &Device) -> CrateResult {
    let loss = crate_loss(problem, dtype, device);
    let x = tensor2(&problem.x, dtype, device).require_grad();
    let y = labels(&problem.y, device);
    let out = loss.forward(x.clone(), y);
    let grads = out.loss.backward();
    let predictions = loss
        .predict(x.clone().detach())
        .try_to_vec_as::<i64>()
        .expect("read back")
        .into_iter()
        .map(|p| p as usize)
        .collect();
    CrateResult {
        d: rows(&loss.distances(x.clone().detach())),
        logits: rows(&out.logits),
        predictions,
        classification: values(&out.classification)[0],
        likelihood: values(&out.likelihood)[0],
        loss: values(&out.loss)[0],
        grad_x: rows(&x.grad(&grads).expect("features gradient")),
        grad_mu: rows(&loss.means.grad(&grads).expect("means gradient")),
        grad_log_var: loss
            .log_variances
            .as_ref()
            .map(|s| rows(&s.grad(&grads).expect("log-variance gradient"))),
    }
}
