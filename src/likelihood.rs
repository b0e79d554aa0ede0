//! Feature likelihoods under the learned Gaussians, for abnormal and adversarial input scoring.

use burn::tensor::Tensor;

use crate::gm_loss::Gaussians;
use crate::{GmLoss, GmLossError};

impl GmLoss {
    /// Per-class log densities log N(x_i; μ_k, Σ_k) = −d_ik − ½Λ_k − (D/2)·log 2π, the constant
    /// included; panics on bad input.
    ///
    /// # Shapes
    /// - features: `[batch, feat_dim]`
    /// - output: `[batch, num_classes]`
    pub fn log_likelihood(&self, features: Tensor<2>) -> Tensor<2> {
        self.try_log_likelihood(features)
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// [`log_likelihood`](Self::log_likelihood) after checking the features.
    pub fn try_log_likelihood(&self, features: Tensor<2>) -> Result<Tensor<2>, GmLossError> {
        let (gaussians, d) = self.checked_distances(features)?;
        Ok(self.log_densities(&gaussians, d))
    }

    /// The score of the paper's abnormal-input test: log N(x_i; μ_ŷ, Σ_ŷ) for the predicted class
    /// ŷ_i = argmax_k [log π_k − ½Λ_k − d_ik]; low values flag inputs unlike the training
    /// features. Panics on bad input.
    ///
    /// # Shapes
    /// - features: `[batch, feat_dim]`
    /// - output: `[batch]`
    pub fn predicted_log_likelihood(&self, features: Tensor<2>) -> Tensor<1> {
        self.try_predicted_log_likelihood(features)
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// [`predicted_log_likelihood`](Self::predicted_log_likelihood) after checking the features.
    pub fn try_predicted_log_likelihood(
        &self,
        features: Tensor<2>,
    ) -> Result<Tensor<1>, GmLossError> {
        let (gaussians, d) = self.checked_distances(features)?;
        let [batch, _] = d.dims();
        let predicted = (gaussians.log_weights.clone() - d.clone()).argmax(1);
        let log_densities = self.log_densities(&gaussians, d);
        Ok(log_densities.gather(1, predicted).reshape([batch]))
    }

    /// The mixture log-likelihood log Σ_k π_k N(x_i; μ_k, Σ_k), computed as a max-shifted
    /// log-sum-exp of log π_k + log N(x_i; μ_k, Σ_k) (finite even where every density underflows).
    /// Panics on bad input.
    ///
    /// # Shapes
    /// - features: `[batch, feat_dim]`
    /// - output: `[batch]`
    pub fn mixture_log_likelihood(&self, features: Tensor<2>) -> Tensor<1> {
        self.try_mixture_log_likelihood(features)
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// [`mixture_log_likelihood`](Self::mixture_log_likelihood) after checking the features.
    pub fn try_mixture_log_likelihood(
        &self,
        features: Tensor<2>,
    ) -> Result<Tensor<1>, GmLossError> {
        let (gaussians, d) = self.checked_distances(features)?;
        let [batch, _] = d.dims();
        // log π_k + log N_k = (log π_k − ½Λ_k − d_ik) − (D/2)log 2π.
        let terms = gaussians.log_weights - d;
        let max = terms.clone().max_dim(1);
        let log_sum = (terms - max.clone()).exp().sum_dim(1).log();
        Ok((max + log_sum).reshape([batch]) - self.half_log_two_pi())
    }

    /// log N(x_i; μ_k, Σ_k) = −d_ik − ½Λ_k − (D/2)·log 2π from the distances.
    fn log_densities(&self, gaussians: &Gaussians, d: Tensor<2>) -> Tensor<2> {
        let log_density = -d - self.half_log_two_pi();
        match &gaussians.half_log_det {
            Some(half_log_det) => log_density - half_log_det.clone(),
            None => log_density,
        }
    }

    /// (D/2)·log 2π.
    fn half_log_two_pi(&self) -> f64 {
        0.5 * self.feat_dim() as f64 * (2.0 * core::f64::consts::PI).ln()
    }
}
