//! [`GmLossOutput`]: what [`GmLoss::forward`](crate::GmLoss::forward) returns.

use burn::tensor::Tensor;

/// The loss and its parts, for one batch.
#[derive(Debug, Clone)]
pub struct GmLossOutput {
    /// L = L_cls + λ·L_lkd, shape `[1]`: call `backward()` on this.
    pub loss: Tensor<1>,
    /// L_cls, the batch mean of the margin cross-entropy, shape `[1]`.
    pub classification: Tensor<1>,
    /// L_lkd, the batch mean of d_{i,y_i} + ½Λ_{y_i} (negative log-likelihood of the true class
    /// without its constant), shape `[1]`. Reported unweighted: the loss adds λ times this.
    pub likelihood: Tensor<1>,
    /// The inference logits log π_k − ½Λ_k − d_ik (no margin), shape `[batch, num_classes]`.
    pub logits: Tensor<2>,
}
