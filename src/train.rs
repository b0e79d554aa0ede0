//! burn-train glue (crate feature `train`): a training-step output that every classification
//! metric understands, and metrics for the two terms of the loss.
//!
//! ```text
//! TrainStep::step  →  GmClassificationOutput::new(gm_output, targets)
//!                     ├─ AccuracyMetric, TopKAccuracyMetric, Precision/Recall/FBeta, ...  (logits, targets)
//!                     ├─ LossMetric                                                       (loss)
//!                     └─ GmTermMetric::classification(), GmTermMetric::likelihood()       (the two terms)
//! ```

use std::sync::Arc;

use burn::tensor::{ExecutionError, Int, Tensor, TensorReadError};
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    AccuracyInput, Adaptor, ConfusionStatsInput, LossInput, Metric, MetricAttributes,
    MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry, SerializedEntry,
    TopKAccuracyInput,
};
use burn::train::{ClassificationOutput, ItemLazy};

use crate::GmLossOutput;

impl GmLossOutput {
    /// Burn's plain [`ClassificationOutput`] (loss, inference logits, targets), for code that
    /// expects exactly that type. Use [`GmClassificationOutput`] to also log the two terms.
    pub fn into_classification_output(self, targets: Tensor<1, Int>) -> ClassificationOutput {
        ClassificationOutput::new(self.loss, self.logits, targets)
    }
}

/// A training or validation step's output: everything [`ClassificationOutput`] adapts to
/// (accuracy, top-k accuracy, confusion statistics, loss), plus the classification and
/// likelihood terms for [`GmTermMetric`].
#[derive(Debug, Clone)]
pub struct GmClassificationOutput {
    /// L = L_cls + λ·L_lkd, shape `[1]`.
    pub loss: Tensor<1>,
    /// L_cls, shape `[1]`.
    pub classification: Tensor<1>,
    /// L_lkd, shape `[1]`.
    pub likelihood: Tensor<1>,
    /// The inference logits (no margin), shape `[batch, num_classes]`.
    pub output: Tensor<2>,
    /// The labels, shape `[batch]`.
    pub targets: Tensor<1, Int>,
}

impl GmClassificationOutput {
    /// Pairs a [`GmLossOutput`] with the batch's labels.
    pub fn new(output: GmLossOutput, targets: Tensor<1, Int>) -> Self {
        Self {
            loss: output.loss,
            classification: output.classification,
            likelihood: output.likelihood,
            output: output.logits,
            targets,
        }
    }

    fn as_classification_output(&self) -> ClassificationOutput {
        ClassificationOutput::new(self.loss.clone(), self.output.clone(), self.targets.clone())
    }
}

impl ItemLazy for GmClassificationOutput {
    fn sync(self) -> Result<Self, ExecutionError> {
        // As ClassificationOutput: flush, and take every tensor off autodiff (no readback).
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            classification: self.classification.without_autodiff(),
            likelihood: self.likelihood.without_autodiff(),
            output: self.output.without_autodiff(),
            targets: self.targets.without_autodiff(),
        })
    }
}

impl Adaptor<AccuracyInput> for GmClassificationOutput {
    fn adapt(&self) -> AccuracyInput {
        self.as_classification_output().adapt()
    }
}

impl Adaptor<TopKAccuracyInput> for GmClassificationOutput {
    fn adapt(&self) -> TopKAccuracyInput {
        self.as_classification_output().adapt()
    }
}

impl Adaptor<ConfusionStatsInput> for GmClassificationOutput {
    fn adapt(&self) -> ConfusionStatsInput {
        self.as_classification_output().adapt()
    }
}

impl Adaptor<LossInput> for GmClassificationOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

impl Adaptor<GmTermsInput> for GmClassificationOutput {
    fn adapt(&self) -> GmTermsInput {
        GmTermsInput {
            classification: self.classification.clone(),
            likelihood: self.likelihood.clone(),
        }
    }
}

/// The input of [`GmTermMetric`]: the two reduced terms of one batch.
#[derive(Debug, Clone)]
pub struct GmTermsInput {
    /// L_cls, shape `[1]`.
    pub classification: Tensor<1>,
    /// L_lkd, shape `[1]`.
    pub likelihood: Tensor<1>,
}

/// Which term a [`GmTermMetric`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GmTerm {
    /// L_cls, the margin cross-entropy.
    Classification,
    /// L_lkd, the likelihood term (without λ).
    Likelihood,
}

/// A numeric metric that reports one term of the GM loss, averaged over the epoch like
/// `LossMetric`: register `GmTermMetric::classification()` and `GmTermMetric::likelihood()`
/// with `SupervisedTraining::metric_train_numeric` / `metric_valid_numeric`.
#[derive(Clone)]
pub struct GmTermMetric {
    term: GmTerm,
    name: MetricName,
    state: NumericMetricState,
}

impl GmTermMetric {
    /// The metric of `term`.
    pub fn new(term: GmTerm) -> Self {
        let name = match term {
            GmTerm::Classification => "GM Classification Term",
            GmTerm::Likelihood => "GM Likelihood Term",
        };
        Self {
            term,
            name: Arc::new(name.to_string()),
            state: NumericMetricState::default(),
        }
    }

    /// The metric of L_cls.
    pub fn classification() -> Self {
        Self::new(GmTerm::Classification)
    }

    /// The metric of L_lkd.
    pub fn likelihood() -> Self {
        Self::new(GmTerm::Likelihood)
    }
}

impl Metric for GmTermMetric {
    type Input = GmTermsInput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: false,
        }
        .into()
    }

    fn update(
        &mut self,
        item: &GmTermsInput,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let term = match self.term {
            GmTerm::Classification => &item.classification,
            GmTerm::Likelihood => &item.likelihood,
        };
        let value = term.clone().mean().try_into_scalar::<f64>()?;
        self.state.update(value, 1);
        Ok(self
            .state
            .compute_update(FormatOptions::new(self.name()).precision(4)))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self
            .state
            .compute_final(FormatOptions::new(self.name()).precision(4)))
    }

    fn clear(&mut self) {
        self.state.reset()
    }
}

impl Numeric for GmTermMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}
