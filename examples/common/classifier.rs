//! A network that maps images to features, with a [`Head`] on top: the model burn-train trains.

use burn::prelude::*;
use burn::train::{InferenceStep, TrainOutput, TrainStep};
use gm_loss::GmClassificationOutput;

use super::head::Head;

/// A feature extractor: `[batch, channels, height, width]` images to `[batch, feat_dim]` features.
pub trait Network: Module + burn::module::ModuleDisplay {
    /// The features of a batch of images.
    fn features(&self, images: Tensor<4>) -> Tensor<2>;
}

/// A batch of images and their labels.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// `[batch, channels, height, width]`, normalised.
    pub images: Tensor<4>,
    /// `[batch]` class indices.
    pub targets: Tensor<1, Int>,
}

/// Network + head.
#[derive(Module, Debug)]
pub struct Classifier<N> {
    /// Images → features.
    pub network: N,
    /// Features → loss and logits.
    pub head: Head,
}

impl<N: Network> Classifier<N> {
    /// Loss and logits of a batch.
    pub fn forward_classification(&self, batch: ImageBatch) -> GmClassificationOutput {
        let features = self.network.features(batch.images);
        self.head.forward(features, batch.targets)
    }

    /// Predicted classes of a batch of images.
    pub fn predict(&self, images: Tensor<4>) -> Tensor<1, Int> {
        self.head
            .logits(self.network.features(images))
            .argmax(1)
            .squeeze_dim(1)
    }
}

impl<N: Network> TrainStep for Classifier<N> {
    type Input = ImageBatch;
    type Output = GmClassificationOutput;

    fn step(&self, batch: ImageBatch) -> TrainOutput<GmClassificationOutput> {
        let item = self.forward_classification(batch);
        TrainOutput::new(self, item.loss.backward(), item)
    }
}

impl<N: Network> InferenceStep for Classifier<N> {
    type Input = ImageBatch;
    type Output = GmClassificationOutput;

    fn step(&self, batch: ImageBatch) -> GmClassificationOutput {
        self.forward_classification(batch)
    }
}
