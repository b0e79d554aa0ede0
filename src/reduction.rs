//! [`Reduction`]: how per-sample terms become the batch loss.

use burn::config::Config;

/// How [`GmLoss::forward`](crate::GmLoss::forward) reduces the per-sample terms of
/// [`GmLoss::forward_no_reduction`](crate::GmLoss::forward_no_reduction).
///
/// Only the two reductions that are defined for this loss exist, so an unsupported one cannot be
/// configured (unlike Burn's `Reduction`, whose `BatchMean` and `Auto` some losses reject at run
/// time).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Reduction {
    /// Σ_i w_{y_i} ℓ_i / Σ_i w_{y_i} over the counted (non-padding) samples: the plain batch mean
    /// without class weights or padding, the weighted mean of Burn's and PyTorch's
    /// `CrossEntropyLoss` with them. A batch with no counted sample gives 0.
    Mean,
    /// Σ_i w_{y_i} ℓ_i over the counted samples.
    Sum,
}
