//! The training path of [`GmLoss::forward`]: the loss with its gradient derived by hand (spec
//! §3), so that autodiff records almost nothing and a training step costs three matrix products
//! (`products.rs`) and a few passes over `[B, K]`.
//!
//! With the inference logits Z = log π − ½Λ − d, the training logits
//! ℓ_ik = Z_ik − α·[k = y_i]·d_{i,y_i} and p_i = softmax(ℓ_i), the per-sample classification
//! term c_i = m_i·[(1 − ε)·w_{y_i}·(−log p_{i,y_i}) − (ε/K)·Σ_k w_k log p_ik] (m_i = 0 for
//! padding, ε the label smoothing, w the class weights, all 1 by default) reduced by 1/N
//! (N = B, Σ_i m_i w_{y_i}, or 1 for `Sum`) has
//!
//! ```text
//! G_ik = ∂L_cls/∂ℓ_ik = (m_i / N)·[(1 − ε)·w_{y_i}·(p_ik − [k = y_i]) + (ε/K)·(Ω·p_ik − w_k)],   Ω = Σ_k w_k
//! ```
//!
//! and, since d_{i,y} = log π_y − ½Λ_y − Z_{i,y}, while the likelihood term's
//! L_lkd = Σ_i c'_i·(d_{i,y_i} + ½Λ_{y_i}) = Σ_i c'_i·(log π_{y_i} − Z_{i,y_i}) with
//! c'_i = m_i·w_{y_i}/N depends on the parameters through Z alone, L = L_cls + λ·L_lkd has
//!
//! ```text
//! E_ik = ∂L/∂Z_ik = G_ik + [k = y_i]·(α·G_{i,y_i} − λ·c'_i)
//! h_k  = ∂L/∂(½Λ_k) besides Z = α·Σ_{i : y_i = k} G_{i,y_i}     (the margin's −α·(log π − ½Λ)_y)
//! ```
//!
//! `products.rs` turns E and h into ∂L/∂x, ∂L/∂μ and ∂L/∂s. `loss` is then
//! `value + (S − S.detach())` with the surrogate S = ⟨x, ∂L/∂x⟩ + ⟨μ, ∂L/∂μ⟩ + ⟨s, ∂L/∂s⟩
//! (gradients held constant): S − S.detach() is exactly 0, and its gradient is exactly the
//! hand-derived one. The values of both terms are computed on plain tensors (L_lkd from x − μ_y
//! itself, without cancellation) and returned without a graph, so `loss.backward()` consumes
//! every node recorded here. (An earlier version kept the likelihood term on autodiff beside the
//! surrogate: its graph, when not consumed, stayed attached to the parameters, one per step,
//! and every later backward pass got slower; `tests/graph_memory.rs`. Kept on autodiff and
//! consumed, it cost two `[K, D]` passes and a `[K, D]` scatter per step.)
//!
//! Deviations from plain autodiff: the gradients are computed during the forward pass (a forward
//! on an autodiff device whose loss is never backpropagated pays for them), they are not
//! themselves differentiable (no second-order gradients), the returned terms and logits carry no
//! gradient (use [`GmLoss::logits`] for differentiable logits), and d is not clamped at 0 in the
//! margin's gradient (it only differs where cancellation makes d ≈ −1e-7 instead of 0).

use burn::tensor::{Bool, IndexingUpdateOp, Int, Tensor, TensorData};

use crate::GmLoss;
use crate::gm_loss::{Prepared, cast, like};
use crate::products::Operands;

impl GmLoss {
    /// The loss, L_cls, L_lkd and the inference logits of a prepared batch on an autodiff device.
    pub(crate) fn fused_terms(
        &self,
        prepared: Prepared,
        lambda: f64,
    ) -> (Tensor<1>, Tensor<1>, Tensor<1>, Tensor<2>) {
        let dtype = prepared.features.dtype();
        let means = cast(self.means.val(), dtype);
        let log_variances = self.log_variances.as_ref().map(|s| cast(s.val(), dtype));
        let x = prepared.features.clone().without_autodiff();
        let plain_means = means.clone().without_autodiff();
        let plain_log_variances = log_variances.clone().map(Tensor::without_autodiff);

        // d_{i,y_i} + ½Λ_{y_i} from x − μ_y on plain tensors (no graph); weighted and reduced
        // with the classification term's own per-sample weights.
        let true_class = self.true_class_terms(
            &prepared.labels,
            x.clone(),
            plain_means.clone(),
            plain_log_variances.clone(),
        );

        let operands = Operands::new(
            x.clone(),
            plain_means,
            plain_log_variances,
            self.log_priors(like(&x)),
            self.config().variance_floor.ln(),
        );
        let y = prepared.y.clone().without_autodiff();
        let labels = prepared.labels.clone().without_autodiff();
        let padding = prepared.padding.clone().map(Tensor::without_autodiff);
        let Terms {
            classification,
            likelihood,
            e,
            g_y,
            logits,
        } = self.classification_gradient(
            &operands,
            &y,
            &labels,
            padding,
            true_class,
            prepared.alpha,
            lambda,
        );
        // h = α·Σ_{i: y_i = k} G_{i,y_i} (diagonal only).
        let h = self.log_variances.as_ref().map(|_| {
            Tensor::<1>::zeros([self.num_classes()], like(&e)).select_assign(
                0,
                labels,
                g_y * prepared.alpha,
                IndexingUpdateOp::Add,
            )
        });
        let grads = operands.backward(e, h);

        let inner = |a: Tensor<2>, b: Tensor<2>| (a * b.autodiff()).sum();
        let mut surrogate = inner(prepared.features, grads.x) + inner(means, grads.means);
        if let (Some(s), Some(grad)) = (log_variances, grads.log_variances) {
            surrogate = surrogate + inner(s, grad);
        }
        // Everything recorded here is in `loss`'s graph, which `loss.backward()` consumes (a
        // graph it did not reach would stay attached to the parameters, one per step).
        let value = classification.clone() + likelihood.clone() * lambda;
        let loss = value.autodiff() + (surrogate.clone() - surrogate.detach());
        (
            loss,
            classification.autodiff(),
            likelihood.autodiff(),
            logits.autodiff(),
        )
    }

    /// The two terms' values and E, G_y and Z (see [`Terms`]) from the operands and the
    /// unweighted per-sample d_{i,y_i} + ½Λ_{y_i} `[B]`; plain tensors.
    #[allow(clippy::too_many_arguments)]
    fn classification_gradient(
        &self,
        operands: &Operands,
        y: &Tensor<2, Int>,
        labels: &Tensor<1, Int>,
        padding: Option<Tensor<1, Bool>>,
        true_class: Tensor<1>,
        alpha: f64,
        lambda: f64,
    ) -> Terms {
        // Scores Z + r (r constant per row): the training logits and their softmax are shifted
        // by r too, which changes neither the loss nor G.
        let (scores, row) = operands.scores();
        let [batch, num_classes] = scores.dims();
        let options = like(&scores);
        let smoothing = self
            .config()
            .smoothing
            .filter(|&eps| eps > 0.0)
            .unwrap_or(0.0);
        let class_weights = self.config().weights.as_ref().map(|w| {
            Tensor::<1>::from_data(TensorData::new(w.clone(), [num_classes]), options.clone())
        });
        let ones = || Tensor::<1>::ones([batch], options.clone());
        // m_i (0 for padding) and m_i·w_{y_i}.
        let mask = padding
            .as_ref()
            .map(|padding| ones().mask_fill(padding.clone(), 0.0));
        let counted = match (&class_weights, &mask) {
            (Some(w), Some(m)) => Some(w.clone().select(0, labels.clone()) * m.clone()),
            (Some(w), None) => Some(w.clone().select(0, labels.clone())),
            (None, Some(m)) => Some(m.clone()),
            (None, None) => None,
        };
        // 1/N.
        let scale = match (self.config().reduction, &counted) {
            (crate::Reduction::Sum, _) => Tensor::<1>::full([1], 1.0f64, options.clone()),
            (crate::Reduction::Mean, None) => {
                Tensor::<1>::full([1], 1.0 / batch as f64, options.clone())
            }
            (crate::Reduction::Mean, Some(counted)) => self.mean_divisor(counted).recip(),
        };
        let per_sample = counted.clone().unwrap_or_else(ones) * scale.clone();
        // L_lkd = Σ_i c'_i·(d_{i,y_i} + ½Λ_{y_i}), c'_i = m_i·w_{y_i}/N: the same weights and
        // divisor as L_cls. Padding rows (computed with label 0) are masked, not multiplied by 0,
        // like L_cls's below.
        let mut likelihood = true_class * per_sample.clone();
        if let Some(padding) = &padding {
            likelihood = likelihood.mask_fill(padding.clone(), 0.0);
        }
        let likelihood = likelihood.sum();
        // λ·m_i·w_{y_i}/N: −∂(λ·L_lkd)/∂Z_{i,y_i}.
        let likelihood_weight =
            (lambda != 0.0).then(|| (per_sample.clone() * lambda).reshape([batch, 1]));

        // The logits Z = scores − r, and d_y = log π_y − ½Λ_y − Z_{i,y}.
        let scores_y = scores.clone().gather(1, y.clone());
        let log_weights_y = operands
            .log_weights
            .clone()
            .select(0, labels.clone())
            .reshape([batch, 1]);
        let (logits, d_y) = match row {
            Some(row) => (
                scores.clone() - row.clone(),
                (log_weights_y - scores_y.clone() + row).clamp_min(0.0),
            ),
            None => (
                scores.clone(),
                (log_weights_y - scores_y.clone()).clamp_min(0.0),
            ),
        };
        // Training logits ℓ (+ r) = scores − α·onehot·d_y, their log-sum-exp and exp(ℓ − max).
        let logits_y = scores_y - d_y.clone() * alpha;
        let training_logits = if alpha > 0.0 {
            scores.scatter(1, y.clone(), d_y * -alpha, IndexingUpdateOp::Add)
        } else {
            scores
        };
        let max = training_logits.clone().max_dim(1);
        // Kept only for smoothing: otherwise the subtraction reuses its buffer.
        let kept = (smoothing > 0.0).then(|| training_logits.clone());
        let exp = (training_logits - max.clone()).exp();
        let sum = exp.clone().sum_dim(1);
        let log_sum_exp = max + sum.clone().log();

        // Per-sample values c_i (padding rows are masked, not summed).
        let mut values = (log_sum_exp.clone() - logits_y).reshape([batch]);
        if let Some(counted) = &counted {
            values = values * counted.clone();
        }
        let eps_k = smoothing / num_classes as f64;
        if let Some(training_logits) = kept {
            // Σ_k w_k log p_ik, from log p = ℓ − logsumexp (element-wise: no cancellation).
            let log_p = training_logits - log_sum_exp;
            let spread = match &class_weights {
                Some(w) => log_p.matmul(w.clone().reshape([num_classes, 1])),
                None => log_p.sum_dim(1),
            }
            .reshape([batch]);
            let m = mask.clone().unwrap_or_else(ones);
            values = values * (1.0 - smoothing) - spread * m * eps_k;
        }
        if let Some(padding) = &padding {
            values = values.mask_fill(padding.clone(), 0.0);
        }
        let value = values.sum() * scale.clone();

        // G = p·(a_i + b_i·Ω) − a_i·onehot − b_i·w, with a_i = (1 − ε)·m_i·w_{y_i}/N and
        // b_i = (ε/K)·m_i/N.
        let a = (per_sample * (1.0 - smoothing)).reshape([batch, 1]);
        let (row, b) = if smoothing > 0.0 {
            let b = (mask.unwrap_or_else(ones) * scale * eps_k).reshape([batch, 1]);
            let omega = match &class_weights {
                Some(w) => w.clone().sum(),
                None => Tensor::<1>::full([1], num_classes as f64, options.clone()),
            };
            (a.clone() + b.clone() * omega.reshape([1, 1]), Some(b))
        } else {
            (a.clone(), None)
        };
        // p·row = exp·(row / Σ exp): one pass.
        let mut g = exp * (row / sum);
        if let Some(b) = b {
            g = match &class_weights {
                Some(w) => g - b * w.clone().reshape([1, num_classes]),
                None => g - b,
            };
        }
        // G = g − a·onehot, E = G + α·onehot·G_y − onehot·λ·m·w_y/N (the likelihood term): all
        // in one scatter at y, where E_y = g_y − a + α·G_y − λ·m_i·w_{y_i}/N.
        let g_y = g.clone().gather(1, y.clone()) - a.clone();
        let mut at_y = g_y.clone() * alpha - a;
        if let Some(weight) = likelihood_weight {
            at_y = at_y - weight;
        }
        let e = g.scatter(1, y.clone(), at_y, IndexingUpdateOp::Add);
        Terms {
            classification: value,
            likelihood,
            e,
            g_y: g_y.reshape([batch]),
            logits,
        }
    }
}

/// What [`GmLoss::classification_gradient`] computes: plain tensors.
struct Terms {
    /// The value of L_cls, `[1]`.
    classification: Tensor<1>,
    /// The value of L_lkd, `[1]`.
    likelihood: Tensor<1>,
    /// E = ∂L/∂Z with L = L_cls + λ·L_lkd, `[B, K]`.
    e: Tensor<2>,
    /// G_{i,y_i} = ∂L_cls/∂ℓ_{i,y_i}, `[B]`.
    g_y: Tensor<1>,
    /// The inference logits Z, `[B, K]`.
    logits: Tensor<2>,
}
