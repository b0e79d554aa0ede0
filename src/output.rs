//! What the forward passes return: [`GmLossOutput`] (reduced) and [`GmLossPerSample`].

use burn::tensor::Tensor;

/// The loss and its parts for one batch, reduced as configured ([`Reduction`](crate::Reduction)).
#[derive(Debug, Clone)]
pub struct GmLossOutput {
    /// L = L_cls + λ·L_lkd, shape `[1]`: call `backward()` on this.
    pub loss: Tensor<1>,
    /// L_cls, the reduced margin cross-entropy, shape `[1]`. For metrics: on an autodiff device
    /// it carries no graph, like `likelihood` (the gradient of both is in `loss`; see "The
    /// training path" in [`GmLoss`](crate::GmLoss)).
    pub classification: Tensor<1>,
    /// L_lkd, the reduced d_{i,y_i} + ½Λ_{y_i} (negative log-likelihood of the true class without
    /// its constant), shape `[1]`. Reported without λ: the loss adds λ(t) times this.
    pub likelihood: Tensor<1>,
    /// The inference logits log π_k − ½Λ_k − d_ik (no margin), shape `[batch, num_classes]`.
    /// For metrics: on an autodiff device they carry no gradient (see "The training path" in
    /// [`GmLoss`](crate::GmLoss)); use [`GmLoss::logits`](crate::GmLoss::logits) for
    /// differentiable logits.
    pub logits: Tensor<2>,
}

/// The per-sample terms of one batch, before reduction.
///
/// Each term is already multiplied by its sample's class weight w_{y_i} (1 without weights) and
/// is 0 for padding samples, as in PyTorch's `reduction='none'`.
#[derive(Debug, Clone)]
pub struct GmLossPerSample {
    /// w_{y_i} · (margin cross-entropy of sample i), shape `[batch]`.
    pub classification: Tensor<1>,
    /// w_{y_i} · (d_{i,y_i} + ½Λ_{y_i}), shape `[batch]`.
    pub likelihood: Tensor<1>,
    /// The per-sample weight w_{y_i}, 0 for padding samples, shape `[batch]`: the
    /// [`Reduction::Mean`](crate::Reduction::Mean) denominator is its sum.
    pub weights: Tensor<1>,
    /// The inference logits log π_k − ½Λ_k − d_ik (no margin), shape `[batch, num_classes]`.
    pub logits: Tensor<2>,
}
