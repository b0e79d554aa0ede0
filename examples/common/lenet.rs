//! The MNIST examples' network (LeNet++, spec §6) and their digits as burn data.

use burn::data::dataloader::batcher::Batcher;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PRelu, PReluConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::TensorData;

use super::classifier::{Classifier, ImageBatch, Network};
use super::cli::CommonArgs;
use super::head::Head;
use super::run::{self, Budget};
use crate::data::idx::Digits;

/// A pair of same-padded convolutions with PReLU, then 2×2 max-pooling.
#[derive(Module, Debug)]
struct ConvPair {
    first: Conv2d,
    first_activation: PRelu,
    second: Conv2d,
    second_activation: PRelu,
    pool: MaxPool2d,
}

impl ConvPair {
    fn new(input: usize, output: usize, device: &Device) -> Self {
        let conv = |i, o| {
            Conv2dConfig::new([i, o], [5, 5])
                .with_padding(PaddingConfig2d::Same)
                .init(device)
        };
        Self {
            first: conv(input, output),
            first_activation: PReluConfig::new().init(device),
            second: conv(output, output),
            second_activation: PReluConfig::new().init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.first_activation.forward(self.first.forward(x));
        let x = self.second_activation.forward(self.second.forward(x));
        self.pool.forward(x)
    }
}

/// LeNet++: 28×28 → three conv pairs (w, 2w, 4w channels; 14×14, 7×7, 3×3) → linear → D.
#[derive(Module, Debug)]
pub struct LeNetPlusPlus {
    stages: Vec<ConvPair>,
    features: Linear,
}

impl LeNetPlusPlus {
    pub fn new(width: usize, feat_dim: usize, device: &Device) -> Self {
        let channels = [1, width, 2 * width, 4 * width];
        Self {
            stages: (0..3)
                .map(|i| ConvPair::new(channels[i], channels[i + 1], device))
                .collect(),
            features: LinearConfig::new(4 * width * 3 * 3, feat_dim).init(device),
        }
    }
}

impl Network for LeNetPlusPlus {
    fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self.stages.iter().fold(images, |x, stage| stage.forward(x));
        self.features.forward(x.flatten(1, 3))
    }
}

/// One digit: 784 pixel bytes and a label.
#[derive(Debug, Clone)]
pub struct Digit {
    /// 28×28 row-major pixel bytes.
    pub pixels: Vec<u8>,
    /// 0–9.
    pub label: u8,
}

/// Pixels to [−1, 1], shape `[batch, 1, 28, 28]`.
#[derive(Debug, Clone, Default)]
pub struct DigitBatcher;

impl Batcher<Digit, ImageBatch> for DigitBatcher {
    fn batch(&self, items: Vec<Digit>, device: &Device) -> ImageBatch {
        let n = items.len();
        let pixels: Vec<f32> = items
            .iter()
            .flat_map(|d| d.pixels.iter().map(|&p| f32::from(p) / 127.5 - 1.0))
            .collect();
        let labels: Vec<i64> = items.iter().map(|d| i64::from(d.label)).collect();
        ImageBatch {
            images: Tensor::from_data(TensorData::new(pixels, [n, 1, 28, 28]), device),
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}

/// The first `limit` digits of a split.
pub fn digits(split: Digits, limit: usize) -> Vec<Digit> {
    split
        .images
        .chunks(784)
        .zip(split.labels)
        .take(limit)
        .map(|(pixels, label)| Digit {
            pixels: pixels.to_vec(),
            label,
        })
        .collect()
}

/// The network and budget flags of the MNIST examples.
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
pub struct LeNetArgs {
    /// Directory with the IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
    /// t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]). Default: the bundled digits.
    #[arg(long)]
    pub data: Option<std::path::PathBuf>,
    /// Passes over the training images.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Images per training step.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Initial learning rate of Adam (cosine-annealed to 0).
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Dimension D of the feature the head sees (2 for the picture).
    #[arg(long, default_value_t = 32)]
    pub feat_dim: usize,
    /// Channels of the first convolution pair; the next pairs have 2× and 4× as many
    /// (the paper's LeNet++ uses 32).
    #[arg(long, default_value_t = 16)]
    pub width: usize,
}

impl LeNetArgs {
    /// `--data`, or the bundled digits.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.data.clone().unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/mnist-10k")
        })
    }

    /// The train and test digits after `--limit`.
    pub fn load(&self, common: &CommonArgs) -> Result<(Vec<Digit>, Vec<Digit>), String> {
        let dir = self.data_dir();
        let train = crate::data::idx::read_split(&dir, "train").map_err(|e| e.to_string())?;
        let test = crate::data::idx::read_split(&dir, "t10k").map_err(|e| e.to_string())?;
        let (n_train, n_test) = common.limits(train.len(), test.len());
        Ok((digits(train, n_train), digits(test, n_test)))
    }

    /// A fresh LeNet++ with the head `common.loss` asks for, on `device`.
    pub fn model(&self, common: &CommonArgs, device: &Device) -> Classifier<LeNetPlusPlus> {
        Classifier {
            network: LeNetPlusPlus::new(self.width, self.feat_dim, device),
            head: Head::new(common, 10, self.feat_dim, device),
        }
    }

    /// Trains a fresh model (seeded by `--seed`) with burn-train; returns it in inference mode.
    pub fn train(
        &self,
        common: &CommonArgs,
        train: &[Digit],
        test: &[Digit],
        device: &Device,
    ) -> Result<Classifier<LeNetPlusPlus>, String> {
        device.seed(common.seed);
        let model = self.model(common, &device.clone().autodiff());
        let budget = Budget {
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
        };
        let model = run::fit(
            common,
            &budget,
            model,
            train.to_vec(),
            test.to_vec(),
            DigitBatcher,
            DigitBatcher,
            device,
        )?;
        Ok(model.valid())
    }
}

/// What `mnist --out DIR` saves as `config.json`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SavedRun {
    /// The shared flags (loss, α, λ, covariance, ...).
    pub common: CommonArgs,
    /// The network and budget.
    pub lenet: LeNetArgs,
}

/// Loads a model saved by `mnist --out DIR` onto `device`.
pub fn load_saved(
    dir: &std::path::Path,
    device: &Device,
) -> Result<(SavedRun, Classifier<LeNetPlusPlus>), String> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let saved: SavedRun =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let model = saved
        .lenet
        .model(&saved.common, device)
        .try_load_file(dir.join("model.bpk"))
        .map_err(|e| format!("{}: {e:?}", dir.join("model.bpk").display()))?;
    Ok((saved, model))
}
