//! The matrix products of the training path: the logits Z = log π − ½Λ − d, and the chain rule
//! from E = ∂L/∂Z back to x, μ and s, on plain (non-autodiff) tensors, with no transposed copy
//! and no `[B, K, D]` tensor.
//!
//! With x̃ = x − c and μ̃ = μ − c (c = the mean of the means, a constant: d does not depend on
//! it, so the gradients through it cancel exactly), u = 1/v = exp(−max(s, log floor)),
//! Λ_k = Σ_j max(s_kj, log floor) and the column sums e_k = Σ_i E_ik:
//!
//! ```text
//! identity:  Z = x̃·μ̃ᵀ − ½‖x̃‖² + (log π − ½‖μ̃‖²)
//!            ∂L/∂x = E·μ̃ − (Σ_k E_ik)·x̃            ∂L/∂μ = Eᵀ·x̃ − e∘μ̃
//! diagonal:  Z = x̃·(u∘μ̃)ᵀ − ½ x̃²·uᵀ + (log π − ½Λ − ½ Σ_j u μ̃²)
//!            ∂L/∂x = E·(u∘μ̃) − x̃∘(E·u)
//!            ∂L/∂μ = u∘(Eᵀ·x̃ − e∘μ̃)
//!            ∂L/∂s = ½[u∘(Eᵀ·x̃² − 2μ̃∘(Eᵀ·x̃) + e∘μ̃²) − e + h]     (0 where s < log floor)
//! ```
//!
//! where h_k = ∂L/∂(½Λ_k) through any other path than Z (the margin's, see `fused.rs`). That is
//! one product B×D×K forward and two backward (identity), twice that for the diagonal case: the
//! work of `Linear` + cross-entropy. The per-row term −½‖x̃‖² is left out of
//! [`Operands::scores`] (the softmax does not see it) and added only for the returned logits.

use burn::tensor::{Bool, Tensor};

/// What the products of one batch need, and keep for the backward pass.
pub(crate) struct Operands {
    /// x̃, `[B, D]`.
    x: Tensor<2>,
    /// μ̃, `[K, D]`.
    means: Tensor<2>,
    /// μ as given (no copy) and c `[1, D]`, to rebuild μ̃ late in the backward pass instead of
    /// holding it through the largest product.
    raw_means: Tensor<2>,
    centre: Tensor<2>,
    /// For the diagonal covariance: u `[K, D]`, u∘μ̃ `[K, D]` and where s lies below the floor.
    diagonal: Option<(Tensor<2>, Tensor<2>, Tensor<2, Bool>)>,
    /// log π − ½Λ, `[K]`.
    pub(crate) log_weights: Tensor<1>,
}

/// ∂L/∂x, ∂L/∂μ and ∂L/∂s (diagonal only), plain tensors of the parameters' shapes.
pub(crate) struct Gradients {
    pub(crate) x: Tensor<2>,
    pub(crate) means: Tensor<2>,
    pub(crate) log_variances: Option<Tensor<2>>,
}

impl Operands {
    /// The operands for features `x` `[B, D]`, means `[K, D]`, raw log-variances s (diagonal
    /// only), log π `[K]` and the log of the variance floor; all plain tensors of one dtype.
    pub(crate) fn new(
        x: Tensor<2>,
        raw_means: Tensor<2>,
        log_variances: Option<Tensor<2>>,
        log_priors: Tensor<1>,
        log_floor: f64,
    ) -> Self {
        let [num_classes, _] = raw_means.dims();
        let centre = raw_means.clone().mean_dim(0);
        let x = x - centre.clone();
        let means = raw_means.clone() - centre.clone();
        let (diagonal, log_weights) = match log_variances {
            None => (None, log_priors),
            Some(s) => {
                let floored = s.clone().lower_elem(log_floor);
                let s = s.clamp_min(log_floor);
                let half_log_det = s.clone().sum_dim(1).reshape([num_classes]) * 0.5;
                let u = s.neg().exp();
                let scaled = u.clone() * means.clone();
                (Some((u, scaled, floored)), log_priors - half_log_det)
            }
        };
        Self {
            x,
            means,
            raw_means,
            centre,
            diagonal,
            log_weights,
        }
    }

    /// Scores S = Z + r `[B, K]`: the logits up to a per-row constant r `[B, 1]`
    /// (r = ½‖x̃_i‖² for the identity covariance, none for the diagonal one), so Z = S − r.
    /// The softmax of a row of S is that of Z.
    pub(crate) fn scores(&self) -> (Tensor<2>, Option<Tensor<2>>) {
        let [num_classes, _] = self.means.dims();
        let log_weights = self.log_weights.clone().reshape([1, num_classes]);
        match &self.diagonal {
            None => {
                let column = self
                    .means
                    .clone()
                    .square()
                    .sum_dim(1)
                    .reshape([1, num_classes])
                    * -0.5
                    + log_weights;
                let scores = self.x.clone().matmul(self.means.clone().transpose()) + column;
                (scores, Some(self.x.clone().square().sum_dim(1) * 0.5))
            }
            Some((u, scaled, _)) => {
                let column = (scaled.clone() * self.means.clone())
                    .sum_dim(1)
                    .reshape([1, num_classes])
                    * -0.5
                    + log_weights;
                let quadratic = self.x.clone().square().matmul(u.clone().transpose()) * 0.5;
                let scores = self.x.clone().matmul(scaled.clone().transpose()) - quadratic + column;
                (scores, None)
            }
        }
    }

    /// The gradients of the loss from E = ∂L/∂Z `[B, K]` and h = ∂L/∂(½Λ) `[K]` through paths
    /// other than Z (diagonal only). Consumes the operands, releasing each as soon as it can:
    /// a product's output takes twice its size while it is formed.
    pub(crate) fn backward(self, e: Tensor<2>, h: Option<Tensor<1>>) -> Gradients {
        let [num_classes, _] = self.means.dims();
        let column_sums = e.clone().sum_dim(0).reshape([num_classes, 1]);
        match self.diagonal {
            None => {
                let row_sums = e.clone().sum_dim(1);
                let x = e.clone().matmul(self.means) - self.x.clone() * row_sums;
                // μ̃ is released before Eᵀ·x̃ is formed and rebuilt after.
                let from_x = e.transpose().matmul(self.x);
                let means = from_x - (self.raw_means - self.centre) * column_sums;
                Gradients {
                    x,
                    means,
                    log_variances: None,
                }
            }
            Some((u, scaled, floored)) => {
                let x = e.clone().matmul(scaled) - self.x.clone() * e.clone().matmul(u.clone());
                let quadratic = e.clone().transpose().matmul(self.x.clone().square());
                let linear = e.transpose().matmul(self.x);
                // R = Eᵀ·x̃ − e∘μ̃; then Eᵀ·x̃² − 2μ̃∘(Eᵀ·x̃) + e∘μ̃² = Eᵀ·x̃² − μ̃∘(R + Eᵀ·x̃).
                let residual = linear.clone() - self.means.clone() * column_sums.clone();
                let sum = linear + residual.clone();
                let means = u.clone() * residual;
                let curvature = quadratic - self.means * sum;
                let mut constant = column_sums.neg();
                if let Some(h) = h {
                    constant = constant + h.reshape([num_classes, 1]);
                }
                let log_variances = ((u * curvature + constant) * 0.5).mask_fill(floored, 0.0);
                Gradients {
                    x,
                    means,
                    log_variances: Some(log_variances),
                }
            }
        }
    }
}
