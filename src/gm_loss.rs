//! [`GmLoss`]: the Gaussian-mixture classification head and loss.

use burn::module::{Content, DisplaySettings, Module, ModuleDisplay, Param, ParamGroup};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Bool, DType, IndexingUpdateOp, Int, Tensor, TensorCreationOptions, TensorData};

use crate::schedule::Iteration;
use crate::{
    Covariance, GmLossConfig, GmLossError, GmLossOutput, GmLossPerSample, Reduction, validate,
};

/// The Gaussian-mixture (GM) loss of Wan et al.: a classification head that holds one Gaussian
/// per class and a loss that is cross-entropy with a likelihood margin plus a likelihood term.
///
/// Build it with [`GmLossConfig`]. It replaces `Linear` + `CrossEntropyLoss` at the head of a
/// classifier: feed it the features x ∈ ℝ^D of the backbone, not logits.
///
/// # Formula
///
/// For a feature x_i with label y_i, class means μ_k, covariances Σ_k (identity or learned
/// diagonal), log-determinants Λ_k = log|Σ_k| and priors π_k:
///
/// ```text
/// d_ik  = ½ (x_i − μ_k)ᵀ Σ_k⁻¹ (x_i − μ_k)                       half squared Mahalanobis distance
/// ℓ_ik  = log π_k − ½ Λ_k − (1 + α·[k = y_i]) · d_ik              training logits (margin α)
/// L_cls = (1/B) Σ_i ( logsumexp_k ℓ_ik − ℓ_{i,y_i} )               cross-entropy of ℓ
/// L_lkd = (1/B) Σ_i ( d_{i,y_i} + ½ Λ_{y_i} )                      negative log-likelihood, constant dropped
/// L     = L_cls + λ · L_lkd
/// ```
///
/// At inference the margin is gone: the logits are log π_k − ½ Λ_k − d_ik, i.e. the log
/// posterior log p(k | x) up to a per-sample constant, and the prediction is their argmax.
///
/// # Parameters
///
/// This loss **owns trainable parameters**; hand the module to the optimizer together with the
/// backbone (make it a field of your model):
/// - [`means`](Self::means): μ, shape `[K, D]`;
/// - [`log_variances`](Self::log_variances): s = log v, shape `[K, D]`, only with
///   [`Covariance::Diagonal`]. The variance used is v = max(exp(s), variance_floor).
///
/// α, λ, the priors and the floor are constants: they are not trained and not stored in
/// records (save the [`GmLossConfig`] next to the weights, as for any Burn module). To train the
/// means or the log-variances at their own learning rate, use [`means_group`](Self::means_group)
/// and [`log_variances_group`](Self::log_variances_group) with Burn's `ModuleLrScheduler`.
///
/// # Implementation notes: deviations from the authors' Caffe layer
///
/// This is the paper's form (spec §2); the authors' Caffe `ClassDistance` layer differs:
/// 1. **Log-determinant in the logits and the likelihood term.** Caffe drops ½Λ_k everywhere.
///    With learned variances the paper form is the true log posterior; without it a class with
///    large variances wins every sample it is unsure about. Identical for the identity covariance.
/// 2. **Priors in the logits.** Caffe has none; uniform priors only shift all logits by −log K
///    (included, so that the logits are log posteriors up to one per-sample constant).
/// 3. **The likelihood term is a real term of the loss**, Mahalanobis (divided by the variances)
///    and with the log-determinant, so it reaches the variances. Caffe adds a Euclidean
///    (λ/B)(x − μ_y) as a gradient only, and its reported loss leaves λ·L_lkd out. Mixing the two
///    forms drives variances to zero (spec §8.2).
/// 4. **Log-variance parameters with a floor**, v = max(exp(s), floor), instead of raw variances
///    clamped as max(v, 0) + ε: positive by construction, and no gradient pushes a floored
///    variance further down. Caffe's default per-class isotropic variance is not offered; the
///    identity covariance is that default with the variance fixed at 1.
/// 5. **Means initialised N(0, 2/D)** (Caffe's MSRA filler of the CIFAR-100 model); the MNIST
///    prototxts use Xavier. Choose with [`GmLossConfig::initializer`].
/// 6. **Schedules.** α and λ may follow a [`Schedule`](crate::Schedule) of the iteration t;
///    Caffe's `STEPUP` policy is [`Schedule::StepUp`](crate::Schedule::StepUp). As in Caffe, t is
///    not saved with the weights (restore it with [`set_iteration`](Self::set_iteration)).
///    Caffe's `block_mul_grad`, `ignore_zero` and `metric: L1/IP` options are not offered.
///
/// # Options of `CrossEntropyLoss`
///
/// [`GmLossConfig::weights`], [`GmLossConfig::pad_tokens`] and [`GmLossConfig::smoothing`] work
/// as in Burn's `CrossEntropyLoss`. Per sample, with class weights w, smoothed target
/// q_ik = (1 − ε)·[k = y_i] + ε/K and p_i = softmax(ℓ_i):
///
/// ```text
/// cls_i = −Σ_k w_k q_ik log p_ik        (= −w_{y_i} log p_{i,y_i} without smoothing)
/// lkd_i = w_{y_i} (d_{i,y_i} + ½ Λ_{y_i})
/// Mean:  L_cls = Σ_i cls_i / Σ_i w_{y_i},   L_lkd = Σ_i lkd_i / Σ_i w_{y_i}   (0 if nothing counts)
/// Sum:   L_cls = Σ_i cls_i,                 L_lkd = Σ_i lkd_i
/// ```
///
/// where padding samples are left out of every sum. The margin stays on the true class only.
///
/// Distances come from matrix products, ½‖x‖² − x·μᵀ + ½‖μ‖² (with 1/v weights for the
/// diagonal case) after centring x and μ on the mean of the means, clamped at 0 against
/// cancellation; no `[B, K, D]` tensor is ever formed, so memory grows as O(B·K + K·D). The
/// cross-entropy uses a max-shifted log-softmax, so distances in the thousands give finite
/// losses and gradients. Everything is computed in at least f32: f16/bf16 features or parameters
/// are cast up (the outputs are f32; gradients flow back in the inputs' dtypes).
///
/// # The training path
///
/// On an autodiff device, [`forward`](Self::forward) does not let autodiff record the loss
/// step by step. It computes the classification term's gradients by hand (spec §3:
/// softmax minus target, scaled by the margin, then the chain rule through the distances) from
/// three matrix products — x̃·μ̃ᵀ forward, E·μ̃ and Eᵀ·x̃ for the gradients, twice that for the
/// diagonal covariance: the products `Linear` + cross-entropy needs — and hands them to
/// autodiff as constants. The likelihood term's gradient joins them (it is −λ·w_i/N at
/// Z_{i,y_i}, one more term in the same `[B, K]` scatter); its value is computed from x − μ_y
/// itself, without a graph. `loss.backward()` therefore consumes everything the step recorded
/// (a graph left unconsumed would stay attached to the parameters, one per step; tested). The
/// values and first-order gradients of `loss` are those of the plain path (tested to f32
/// precision for every option, on every backend). What differs from plain autodiff:
/// - `classification` and `likelihood` are reported values **without a graph** (for metrics):
///   differentiate `loss`, whose λ weighs them; for a term's own gradient use the plain path;
/// - the gradients are computed during the forward pass (a loss that is never backpropagated
///   still pays for them; validation on `model.valid()` does not take this path);
/// - they are not themselves differentiable (**no second-order gradients**);
/// - [`GmLossOutput::logits`] carries no gradient; [`logits`](Self::logits) does.
///
/// [`forward_no_reduction`](Self::forward_no_reduction) is plain autodiff throughout, if you need
/// either.
///
/// # Learned covariances
///
/// With [`Covariance::Diagonal`], L_lkd = d + ½Λ is unbounded below: scaling features, means and
/// covariances together lowers Λ without end (spec §8.1). The variance floor bounds the loss,
/// L ≥ λ·½·D·log(floor); a variance at the floor receives no gradient. Recommended: the default
/// floor 1e-4 (relative to the features' scale), λ ≤ 0.1, log-variances trained ~10× slower
/// ([`log_variances_group`](Self::log_variances_group)), or the identity covariance.
///
/// # Input checks
///
/// Every method checks shapes (free) and, unless [`GmLossConfig::check_values`] is off, values:
/// features finite and, for the loss, labels in `0..K`. The value checks run on the device and
/// cost **one device-to-host read per call**. Measured on `flex` (2-core CPU,
/// `cargo bench --bench validation`, checks on vs off in the same run, forward + backward):
/// about 1 ms (+14%) for the identity covariance and +3.5% for the diagonal one at
/// (B, D, K) = (256, 512, 1000), 13 µs (+14%, +5%) at (128, 64, 10). Turn them off with
/// [`GmLossConfig::with_check_values`] where that matters and the inputs are known good. The
/// `try_` methods return the [`GmLossError`]; the others panic with its message.
#[derive(Module, Debug)]
#[module(custom_display)]
pub struct GmLoss {
    /// The class means μ, shape `[num_classes, feat_dim]`.
    pub means: Param<Tensor<2>>,
    /// The log-variances s = log v of the diagonal covariances, shape `[num_classes, feat_dim]`;
    /// `None` for [`Covariance::Identity`].
    pub log_variances: Option<Param<Tensor<2>>>,
    /// The validated settings, priors normalised.
    #[module(skip)]
    config: GmLossConfig,
    /// The training iteration t of the schedules.
    #[module(skip)]
    iteration: Iteration,
}

impl GmLoss {
    /// Assembles the module from validated settings.
    pub(crate) fn new(
        config: &GmLossConfig,
        means: Param<Tensor<2>>,
        log_variances: Option<Param<Tensor<2>>>,
        priors: Option<Vec<f64>>,
    ) -> Self {
        Self {
            means,
            log_variances,
            config: config.clone().with_priors(priors),
            iteration: Iteration::default(),
        }
    }

    /// The settings this module was built with (priors normalised). Save it next to the weights
    /// (`config().save(path)`) to rebuild the module before loading them.
    pub fn config(&self) -> &GmLossConfig {
        &self.config
    }

    /// K, the number of classes.
    pub fn num_classes(&self) -> usize {
        self.means.dims()[0]
    }

    /// D, the feature dimension.
    pub fn feat_dim(&self) -> usize {
        self.means.dims()[1]
    }

    /// The covariance kind, read off the parameters.
    pub fn covariance(&self) -> Covariance {
        match self.log_variances {
            Some(_) => Covariance::Diagonal,
            None => Covariance::Identity,
        }
    }

    /// The margin α at the current iteration.
    pub fn alpha(&self) -> f64 {
        self.alpha_at(self.iteration())
    }

    /// The likelihood weight λ at the current iteration.
    pub fn lambda(&self) -> f64 {
        self.lambda_at(self.iteration())
    }

    /// α at iteration `t`: the schedule's value, or the constant `alpha`.
    pub fn alpha_at(&self, t: u64) -> f64 {
        match &self.config.alpha_schedule {
            Some(schedule) => schedule.value(t),
            None => self.config.alpha,
        }
    }

    /// λ at iteration `t`: the schedule's value, or the constant `lambda`.
    pub fn lambda_at(&self, t: u64) -> f64 {
        match &self.config.lambda_schedule {
            Some(schedule) => schedule.value(t),
            None => self.config.lambda,
        }
    }

    /// The training iteration t that the α and λ schedules read.
    ///
    /// t starts at 0 and advances by one at every successful forward pass ([`forward`](Self::forward),
    /// [`forward_no_reduction`](Self::forward_no_reduction) and their `try_` twins) whose
    /// features live on an autodiff device, i.e. at every training step, whatever runs the loop
    /// (burn-train's `TrainStep::step` takes `&self`: nothing else has to be done there).
    /// Passes on plain devices — a `valid()` model in burn-train's validation — leave it alone.
    ///
    /// The counter is shared by the clones of the module (a data-parallel run advances it once
    /// per device and step) and is not stored in records: after loading a checkpoint, restore it
    /// with [`set_iteration`](Self::set_iteration).
    pub fn iteration(&self) -> u64 {
        self.iteration.get()
    }

    /// Sets the training iteration t (to resume a run; see [`iteration`](Self::iteration)).
    pub fn set_iteration(&self, t: u64) {
        self.iteration.set(t)
    }

    /// The normalised class priors π, or `None` for uniform priors.
    pub fn priors(&self) -> Option<&[f64]> {
        self.config.priors.as_deref()
    }

    /// The variance floor (used with [`Covariance::Diagonal`] only).
    pub fn variance_floor(&self) -> f64 {
        self.config.variance_floor
    }

    /// Whether input values are checked on every call (see [`GmLossConfig::check_values`]).
    pub fn check_values(&self) -> bool {
        self.config.check_values
    }

    /// The parameter group of the means, to give them their own learning rate or optimizer
    /// (Burn's `ModuleLrScheduler::with_group`, `ModuleOptimizer::with_group`).
    pub fn means_group(&self) -> ParamGroup {
        ParamGroup::from_ids(vec![self.means.id])
    }

    /// The parameter group of the log-variances (empty for [`Covariance::Identity`]), to train
    /// them more slowly than the rest, as the authors recommend.
    pub fn log_variances_group(&self) -> ParamGroup {
        ParamGroup::from_ids(self.log_variances.iter().map(|s| s.id).collect())
    }

    /// Computes the loss and its parts; panics on bad input.
    ///
    /// # Shapes
    /// - features: `[batch, feat_dim]`
    /// - targets: `[batch]`, labels in `0..num_classes` (or padding labels)
    ///
    /// # Panics
    /// With the message of the [`GmLossError`] that [`try_forward`](Self::try_forward) returns.
    pub fn forward(&self, features: Tensor<2>, targets: Tensor<1, Int>) -> GmLossOutput {
        self.try_forward(features, targets)
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// Computes L = L_cls + λ·L_lkd (see the [type docs](Self)) after checking the inputs.
    ///
    /// Returns the loss, its two terms (reduced as configured, shape `[1]`) and the inference
    /// logits `[batch, num_classes]` (no margin), ready for an accuracy metric.
    pub fn try_forward(
        &self,
        features: Tensor<2>,
        targets: Tensor<1, Int>,
    ) -> Result<GmLossOutput, GmLossError> {
        let prepared = self.prepare(features, targets)?;
        let lambda = self.lambda_at(prepared.t);
        let training = prepared.features.is_autodiff() || self.means.val().is_autodiff();
        let (loss, classification, likelihood, logits) = if training {
            // Training: the loss's gradient by hand, from three matrix products (fused.rs).
            self.fused_terms(prepared, lambda)
        } else {
            let terms = self.terms(prepared);
            let classification = self.reduce(terms.classification, &terms.weights);
            let likelihood = self.reduce(terms.likelihood, &terms.weights);
            let loss = classification.clone() + likelihood.clone() * lambda;
            (loss, classification, likelihood, terms.logits)
        };
        Ok(GmLossOutput {
            loss,
            classification,
            likelihood,
            logits,
        })
    }

    /// The per-sample terms, before reduction; panics on bad input.
    ///
    /// # Shapes
    /// - features: `[batch, feat_dim]`
    /// - targets: `[batch]`
    /// - output: terms and weights `[batch]`, logits `[batch, num_classes]`
    pub fn forward_no_reduction(
        &self,
        features: Tensor<2>,
        targets: Tensor<1, Int>,
    ) -> GmLossPerSample {
        self.try_forward_no_reduction(features, targets)
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// [`forward_no_reduction`](Self::forward_no_reduction) after checking the inputs.
    pub fn try_forward_no_reduction(
        &self,
        features: Tensor<2>,
        targets: Tensor<1, Int>,
    ) -> Result<GmLossPerSample, GmLossError> {
        Ok(self.per_sample(features, targets)?.0)
    }

    /// The per-sample terms and the iteration t they were computed at.
    fn per_sample(
        &self,
        features: Tensor<2>,
        targets: Tensor<1, Int>,
    ) -> Result<(GmLossPerSample, u64), GmLossError> {
        let prepared = self.prepare(features, targets)?;
        let t = prepared.t;
        let terms = self.terms(prepared);
        Ok((terms, t))
    }

    /// What every loss path starts from: checked inputs in the compute dtype, the schedules
    /// advanced.
    pub(crate) fn prepare(
        &self,
        features: Tensor<2>,
        targets: Tensor<1, Int>,
    ) -> Result<Prepared, GmLossError> {
        let batch = validate::feature_shape(&features, self.feat_dim())?;
        validate::target_shape(&targets, batch)?;
        // Padding samples are computed with label 0, then zeroed.
        let padding = self.padding_mask(&targets);
        let labels = match &padding {
            Some(padding) => targets.mask_fill(padding.clone(), 0),
            None => targets,
        };
        if self.config.check_values {
            validate::values(&features, Some(&labels), self.num_classes())?;
        }
        let features = self.in_compute_dtype(features);
        let t = self.iteration.advance(features.is_autodiff());
        Ok(Prepared {
            batch,
            y: labels.clone().reshape([batch, 1]),
            labels,
            padding,
            features,
            t,
            alpha: self.alpha_at(t),
        })
    }

    /// The class weight w_{y_i} of every sample, `[batch]`, if class weights are configured.
    pub(crate) fn label_weights(&self, prepared: &Prepared) -> Option<Tensor<1>> {
        self.config.weights.as_ref().map(|w| {
            Tensor::<1>::from_data(
                TensorData::new(w.clone(), [self.num_classes()]),
                like(&prepared.features),
            )
            .select(0, prepared.labels.clone())
        })
    }

    /// Per-sample L_lkd terms w_{y_i}·(d_{i,y_i} + ½Λ_{y_i}) (0 for padding) and the weights
    /// w_{y_i} (0 for padding) the mean reduction divides by, differentiated by autodiff (the
    /// plain path).
    pub(crate) fn likelihood_terms(&self, prepared: &Prepared) -> (Tensor<1>, Tensor<1>) {
        let dtype = prepared.features.dtype();
        let mut likelihood = self.true_class_terms(
            &prepared.labels,
            prepared.features.clone(),
            cast(self.means.val(), dtype),
            self.log_variances.as_ref().map(|s| cast(s.val(), dtype)),
        );
        let weight_y = self.label_weights(prepared);
        if let Some(w) = &weight_y {
            likelihood = likelihood * w.clone();
        }
        let mut weights =
            weight_y.unwrap_or_else(|| Tensor::ones([prepared.batch], like(&prepared.features)));
        if let Some(padding) = &prepared.padding {
            likelihood = likelihood.mask_fill(padding.clone(), 0.0);
            weights = weights.mask_fill(padding.clone(), 0.0);
        }
        (likelihood, weights)
    }

    /// d_{i,y_i} + ½Λ_{y_i} per sample `[B]`, unweighted, for `features` `[B, D]`, `means`
    /// `[K, D]` and log-variances s (diagonal only) in the compute dtype.
    ///
    /// d_{i,y_i} is computed from the difference x_i − μ_{y_i} itself (`[batch, D]` work, no
    /// cancellation): the plain path differentiates it by autodiff, the training path
    /// (`fused.rs`) passes plain tensors and takes the value only.
    pub(crate) fn true_class_terms(
        &self,
        labels: &Tensor<1, Int>,
        features: Tensor<2>,
        means: Tensor<2>,
        log_variances: Option<Tensor<2>>,
    ) -> Tensor<1> {
        let [batch, _] = features.dims();
        let r = features - means.select(0, labels.clone());
        match log_variances {
            None => r.square().sum_dim(1),
            Some(s) => {
                // s_y floored, as in v = max(exp(s), floor).
                let s_y = s
                    .select(0, labels.clone())
                    .clamp_min(self.config.variance_floor.ln());
                (r.square() * s_y.clone().neg().exp()).sum_dim(1) + s_y.sum_dim(1)
            }
        }
        .reshape([batch])
            * 0.5
    }

    /// The reduction of a per-sample term: Σ_i ℓ_i, or Σ_i w_i ℓ_i / Σ_i w_i (0 when nothing is
    /// counted), the plain mean without class weights or padding (the terms are already
    /// weighted).
    pub(crate) fn reduce(&self, term: Tensor<1>, weights: &Tensor<1>) -> Tensor<1> {
        let weighted = self.config.weights.is_some() || self.config.pad_tokens.is_some();
        match self.config.reduction {
            Reduction::Sum => term.sum(),
            Reduction::Mean if !weighted => term.mean(),
            Reduction::Mean => term.sum() / self.mean_divisor(weights),
        }
    }

    /// Σ_i w_i, or 1 when it is 0 (all padding).
    pub(crate) fn mean_divisor(&self, weights: &Tensor<1>) -> Tensor<1> {
        let total = weights.clone().sum();
        let nothing_counted = total.clone().equal_elem(0.0);
        total.mask_fill(nothing_counted, 1.0)
    }

    /// The per-sample terms of a prepared batch, differentiated step by step by autodiff.
    fn terms(&self, prepared: Prepared) -> GmLossPerSample {
        let (likelihood, weights) = self.likelihood_terms(&prepared);
        let Prepared {
            batch,
            labels,
            y,
            padding,
            features,
            alpha,
            ..
        } = prepared;
        let gaussians = self.gaussians(&features);
        let d = gaussians.distances(features.clone());
        let num_classes = self.num_classes();
        let logits = gaussians.log_weights.clone() - d.clone();
        let d_y = d.gather(1, y.clone());

        // Training logits ℓ: the true-class distance widened by (1 + α), i.e. −α·d_{i,y} added
        // at column y only (one scatter; no [B, K] mask).
        let training_logits = if alpha > 0.0 {
            logits
                .clone()
                .scatter(1, y.clone(), d_y * -alpha, IndexingUpdateOp::Add)
        } else {
            logits.clone()
        };
        let log_p = log_softmax(training_logits, 1);

        let class_weights = self.config.weights.as_ref().map(|w| {
            Tensor::<1>::from_data(TensorData::new(w.clone(), [num_classes]), like(&features))
        });
        let weight_y = class_weights.clone().map(|w| w.select(0, labels.clone()));

        // −Σ_k w_k q_ik log p_ik with q_i = (1 − ε)·onehot(y_i) + ε/K.
        let mut classification = -log_p.clone().gather(1, y.clone()).reshape([batch]);
        if let Some(w) = weight_y {
            classification = classification * w;
        }
        if let Some(eps) = self.config.smoothing.filter(|&eps| eps > 0.0) {
            let spread = match class_weights {
                Some(w) => log_p.matmul(w.reshape([num_classes, 1])),
                None => log_p.sum_dim(1),
            };
            classification =
                classification * (1.0 - eps) - spread.reshape([batch]) * (eps / num_classes as f64);
        }
        if let Some(padding) = padding {
            classification = classification.mask_fill(padding, 0.0);
        }
        GmLossPerSample {
            classification,
            likelihood,
            weights,
            logits,
        }
    }

    /// True where the label is one of the padding labels.
    fn padding_mask(&self, targets: &Tensor<1, Int>) -> Option<Tensor<1, Bool>> {
        self.config.pad_tokens.as_ref().and_then(|pad_tokens| {
            pad_tokens
                .iter()
                .map(|&token| targets.clone().equal_elem(token as i64))
                .reduce(|mask, other| mask.bool_or(other))
        })
    }

    /// The inference logits log π_k − ½ Λ_k − d_ik (no margin), i.e. log p(k | x) up to a
    /// per-sample constant; panics on bad input.
    ///
    /// # Shapes
    /// - features: `[batch, feat_dim]`
    /// - output: `[batch, num_classes]`
    pub fn logits(&self, features: Tensor<2>) -> Tensor<2> {
        self.try_logits(features)
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// [`logits`](Self::logits) after checking the features.
    pub fn try_logits(&self, features: Tensor<2>) -> Result<Tensor<2>, GmLossError> {
        let (gaussians, d) = self.checked_distances(features)?;
        Ok(gaussians.log_weights - d)
    }

    /// The half squared Mahalanobis distances d_ik = ½ (x_i − μ_k)ᵀ Σ_k⁻¹ (x_i − μ_k);
    /// panics on bad input.
    ///
    /// # Shapes
    /// - features: `[batch, feat_dim]`
    /// - output: `[batch, num_classes]`, every entry ≥ 0
    pub fn distances(&self, features: Tensor<2>) -> Tensor<2> {
        self.try_distances(features)
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// [`distances`](Self::distances) after checking the features.
    pub fn try_distances(&self, features: Tensor<2>) -> Result<Tensor<2>, GmLossError> {
        Ok(self.checked_distances(features)?.1)
    }

    /// The class variances in use, v_kj = max(exp(s_kj), variance_floor) for
    /// [`Covariance::Diagonal`], all ones for [`Covariance::Identity`]: Σ_k = diag(v_k).
    /// (`log_variances` holds s unfloored; this is what the loss and the densities use.)
    ///
    /// # Shapes
    /// - output: `[num_classes, feat_dim]`
    pub fn variances(&self) -> Tensor<2> {
        match &self.log_variances {
            None => self.means.val().ones_like(),
            Some(s) => s.val().clamp_min(self.config.variance_floor.ln()).exp(),
        }
    }

    /// The predicted class argmax_k [log π_k − ½ Λ_k − d_ik]; panics on bad input.
    ///
    /// With the identity covariance and uniform priors this is the nearest mean.
    ///
    /// # Shapes
    /// - features: `[batch, feat_dim]`
    /// - output: `[batch]`
    pub fn predict(&self, features: Tensor<2>) -> Tensor<1, Int> {
        self.try_predict(features)
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// [`predict`](Self::predict) after checking the features.
    pub fn try_predict(&self, features: Tensor<2>) -> Result<Tensor<1, Int>, GmLossError> {
        let logits = self.try_logits(features)?;
        let [batch, _] = logits.dims();
        Ok(logits.argmax(1).reshape([batch]))
    }

    /// Checks the features and casts them to the compute dtype.
    fn checked_features(&self, features: Tensor<2>) -> Result<Tensor<2>, GmLossError> {
        validate::feature_shape(&features, self.feat_dim())?;
        if self.config.check_values {
            validate::values(&features, None, self.num_classes())?;
        }
        Ok(self.in_compute_dtype(features))
    }

    /// Checks the features, then returns the Gaussians and the distances d_ik `[batch, K]`: the
    /// start of every inference method.
    pub(crate) fn checked_distances(
        &self,
        features: Tensor<2>,
    ) -> Result<(Gaussians, Tensor<2>), GmLossError> {
        let features = self.checked_features(features)?;
        let gaussians = self.gaussians(&features);
        let d = gaussians.distances(features);
        Ok((gaussians, d))
    }

    /// The features in the dtype the loss computes in: the wider of the features' and the
    /// parameters' float types, and at least f32, so half-precision (f16, bf16) features and
    /// parameters are accumulated in f32. The outputs come in that dtype; gradients flow back
    /// through the casts in the inputs' own dtypes.
    fn in_compute_dtype(&self, features: Tensor<2>) -> Tensor<2> {
        let dtype = match (features.dtype(), self.means.dtype()) {
            (DType::F64, _) | (_, DType::F64) => DType::F64,
            _ => DType::F32,
        };
        cast(features, dtype)
    }

    /// log π_k, `[K]`, a constant tensor with `options`.
    pub(crate) fn log_priors(&self, options: TensorCreationOptions) -> Tensor<1> {
        let num_classes = self.num_classes();
        match &self.config.priors {
            Some(priors) => {
                let log_priors: Vec<f64> = priors.iter().map(|p| p.ln()).collect();
                Tensor::from_data(TensorData::new(log_priors, [num_classes]), options)
            }
            None => Tensor::full([num_classes], -(num_classes as f64).ln(), options),
        }
    }

    /// The per-class quantities every method needs, in the dtype and on the device of the
    /// features (already in the compute dtype).
    pub(crate) fn gaussians(&self, features: &Tensor<2>) -> Gaussians {
        let dtype = features.dtype();
        let means = cast(self.means.val(), dtype);
        let [num_classes, _] = means.dims();
        let log_priors = self.log_priors(like(features)).reshape([1, num_classes]);
        match &self.log_variances {
            None => Gaussians {
                means,
                inverse_variances: None,
                half_log_det: None,
                log_weights: log_priors,
            },
            Some(log_variances) => {
                // s = max(s, log floor) ⇔ v = max(exp(s), floor).
                let s = cast(log_variances.val(), dtype).clamp_min(self.config.variance_floor.ln());
                let half_log_det = s.clone().sum_dim(1).reshape([1, num_classes]) * 0.5;
                Gaussians {
                    means,
                    inverse_variances: Some(s.neg().exp()),
                    log_weights: log_priors - half_log_det.clone(),
                    half_log_det: Some(half_log_det),
                }
            }
        }
    }
}

impl ModuleDisplay for GmLoss {
    fn custom_settings(&self) -> Option<DisplaySettings> {
        DisplaySettings::new()
            .with_new_line_after_attribute(false)
            .optional()
    }

    fn custom_content(&self, content: Content) -> Option<Content> {
        let c = &self.config;
        let show = |value: &dyn core::fmt::Debug| format!("{value:?}");
        let alpha = match &c.alpha_schedule {
            Some(schedule) => show(schedule),
            None => show(&c.alpha),
        };
        let lambda = match &c.lambda_schedule {
            Some(schedule) => show(schedule),
            None => show(&c.lambda),
        };
        let or_none = |value: Option<String>, none: &str| value.unwrap_or_else(|| none.to_string());
        content
            .add("num_classes", &self.num_classes())
            .add("feat_dim", &self.feat_dim())
            .add("covariance", &show(&self.covariance()))
            .add("alpha", &alpha)
            .add("lambda", &lambda)
            .add(
                "priors",
                &or_none(c.priors.as_ref().map(|p| show(p)), "uniform"),
            )
            .add("variance_floor", &c.variance_floor)
            .add("reduction", &show(&c.reduction))
            .add(
                "weights",
                &or_none(c.weights.as_ref().map(|w| show(w)), "None"),
            )
            .add(
                "pad_tokens",
                &or_none(c.pad_tokens.as_ref().map(|p| show(p)), "None"),
            )
            .add("smoothing", &or_none(c.smoothing.map(|e| show(&e)), "None"))
            .add("check_values", &c.check_values)
            .optional()
    }
}

/// `tensor` in `dtype` (no-op when it already is).
pub(crate) fn cast(tensor: Tensor<2>, dtype: DType) -> Tensor<2> {
    if tensor.dtype() == dtype {
        tensor
    } else {
        tensor.cast(dtype)
    }
}

/// Creation options for a new tensor with the dtype and on the device of `tensor`.
pub(crate) fn like(tensor: &Tensor<2>) -> TensorCreationOptions {
    TensorCreationOptions::new(tensor.device()).with_dtype(tensor.dtype())
}

/// A checked batch, shared by the loss paths.
pub(crate) struct Prepared {
    pub(crate) batch: usize,
    /// The labels, padding replaced by 0, `[batch]`.
    pub(crate) labels: Tensor<1, Int>,
    /// The labels as `[batch, 1]`, for gathers and scatters.
    pub(crate) y: Tensor<2, Int>,
    /// True for padding samples.
    pub(crate) padding: Option<Tensor<1, Bool>>,
    /// The features in the compute dtype.
    pub(crate) features: Tensor<2>,
    /// The iteration this call counts as.
    pub(crate) t: u64,
    /// α at that iteration.
    pub(crate) alpha: f64,
}

/// μ, 1/v, ½Λ and log π − ½Λ for all classes.
pub(crate) struct Gaussians {
    /// μ, `[K, D]`.
    pub(crate) means: Tensor<2>,
    /// 1/v, `[K, D]`; `None` for the identity covariance.
    inverse_variances: Option<Tensor<2>>,
    /// ½Λ_k, `[1, K]`; `None` for the identity covariance.
    pub(crate) half_log_det: Option<Tensor<2>>,
    /// log π_k − ½Λ_k, `[1, K]`.
    pub(crate) log_weights: Tensor<2>,
}

impl Gaussians {
    /// d_ik from matrix products, clamped at 0:
    /// identity: x·(−μ_k) + ½‖x‖² + ½‖μ_k‖²;
    /// diagonal: x·(−μ_k/v_k) + ½ x²·(1/v_k) + ½ Σ_j μ_kj²/v_kj.
    ///
    /// Both sides are first centred on the mean of the means, c: d is invariant to a common
    /// shift, and the expansion then cancels ‖x − c‖² and ‖μ − c‖² instead of ‖x‖² and ‖μ‖²,
    /// so features and means far from the origin keep their precision. c is a constant for
    /// autodiff (exact, since d does not depend on it).
    pub(crate) fn distances(&self, x: Tensor<2>) -> Tensor<2> {
        let [num_classes, _] = self.means.dims();
        let centre = self.means.clone().detach().mean_dim(0);
        let x = x - centre.clone();
        let means = self.means.clone() - centre;
        let (x_term, mu_term, cross) = match &self.inverse_variances {
            None => (
                x.clone().square().sum_dim(1),
                means.clone().square().sum_dim(1),
                x.matmul(means.clone().neg().transpose()),
            ),
            Some(inverse_variances) => {
                let scaled_means = means.clone() * inverse_variances.clone();
                (
                    x.clone()
                        .square()
                        .matmul(inverse_variances.clone().transpose()),
                    (scaled_means.clone() * means.clone()).sum_dim(1),
                    x.matmul(scaled_means.neg().transpose()),
                )
            }
        };
        // One [B, K] buffer: the product, then two broadcast adds and the clamp.
        (cross + x_term * 0.5 + mu_term.reshape([1, num_classes]) * 0.5).clamp_min(0.0)
    }
}
