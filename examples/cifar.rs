//! # GM loss against softmax on CIFAR-10 / CIFAR-100 with ResNet-20
//!
//! Trains a ResNet-20 (He et al. 2016) with the usual augmentation — zero-pad to 40×40, random
//! 32×32 crop, random horizontal flip — and either head (`--loss gm|ce`), then prints the test
//! accuracy.
//!
//! ```text
//! cargo run --release --example cifar -- --data ~/data/cifar-10-batches-bin
//! cargo run --release --example cifar -- --dataset cifar100 --data ~/data/cifar-100-binary --loss ce
//! ```
//!
//! The data are the *binary* versions of the archives from
//! <https://www.cs.toronto.edu/~kriz/cifar.html>, extracted; nothing is downloaded. The default
//! budget (30 epochs) is sized for a GPU (`--device wgpu`, built with `--features wgpu`); on a
//! CPU use `--limit` and fewer epochs to try it out.

mod common;
mod data;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use burn::data::dataloader::batcher::Batcher;
use burn::prelude::*;
use burn::tensor::TensorData;
use clap::{Parser, ValueEnum};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use common::classifier::{Classifier, ImageBatch};
use common::cli::CommonArgs;
use common::head::Head;
use common::resnet::ResNet;
use common::run::{self, Budget};
use data::cifar::{self, IMAGE_BYTES};

/// Which archive `--data` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum DatasetKind {
    /// 10 classes (`cifar-10-batches-bin`).
    Cifar10,
    /// 100 fine classes (`cifar-100-binary`).
    Cifar100,
}

/// Command line of the CIFAR example.
#[derive(Debug, Parser, serde::Serialize)]
#[command(about = "Train ResNet-20 with the GM loss (or softmax) on CIFAR-10 or CIFAR-100.")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Which data set.
    #[arg(long, value_enum, default_value_t = DatasetKind::Cifar10)]
    dataset: DatasetKind,
    /// Directory of the extracted binary archive (cifar-10-batches-bin or cifar-100-binary).
    /// Default: data/cifar-10-batches-bin or data/cifar-100-binary in the crate.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Passes over the training images.
    #[arg(long, default_value_t = 30)]
    epochs: usize,
    /// Images per training step.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Initial learning rate of Adam (cosine-annealed to 0).
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// Basic blocks per stage: 3 gives ResNet-20, 5 ResNet-32.
    #[arg(long, default_value_t = 3)]
    blocks: usize,
    /// Channels of the first stage (the feature dimension is 4× this).
    #[arg(long, default_value_t = 16)]
    width: usize,
    /// Turn off the pad-4 random crop and flip of training images.
    #[arg(long)]
    no_augment: bool,
}

/// One image: 3072 channel-major bytes and a label.
#[derive(Debug, Clone)]
struct CifarImage {
    pixels: Vec<u8>,
    label: u8,
}

/// Per-channel mean and standard deviation of the CIFAR-10 training set.
const MEAN: [f32; 3] = [0.4914, 0.4822, 0.4465];
const STD: [f32; 3] = [0.2470, 0.2435, 0.2616];

/// Normalised `[batch, 3, 32, 32]` images; with `augment`, each image is zero-padded by 4,
/// cropped back to 32×32 at a random offset and flipped left–right with probability ½.
#[derive(Debug, Clone)]
struct CifarBatcher {
    augment: bool,
    seed: u64,
    batches: Arc<AtomicU64>,
}

impl Batcher<CifarImage, ImageBatch> for CifarBatcher {
    fn batch(&self, items: Vec<CifarImage>, device: &Device) -> ImageBatch {
        let n = items.len();
        // One generator per batch, seeded from (seed, batch number): reproducible runs.
        let batch = self.batches.fetch_add(1, Ordering::Relaxed);
        let mut rng = StdRng::seed_from_u64(self.seed ^ batch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut pixels = vec![0f32; n * IMAGE_BYTES];
        for (image, out) in items.iter().zip(pixels.chunks_mut(IMAGE_BYTES)) {
            let (dy, dx, flip) = if self.augment {
                (
                    rng.random_range(-4..=4),
                    rng.random_range(-4..=4),
                    rng.random_bool(0.5),
                )
            } else {
                (0, 0, false)
            };
            for c in 0..3 {
                for y in 0..32i32 {
                    for x in 0..32i32 {
                        let (sy, sx) = (y + dy, if flip { 31 - x } else { x } + dx);
                        // Pixels shifted in from the padding are zero before normalisation.
                        let value = if (0..32).contains(&sy) && (0..32).contains(&sx) {
                            f32::from(image.pixels[c * 1024 + (sy * 32 + sx) as usize]) / 255.0
                        } else {
                            0.0
                        };
                        out[c * 1024 + (y * 32 + x) as usize] = (value - MEAN[c]) / STD[c];
                    }
                }
            }
        }
        let labels: Vec<i64> = items.iter().map(|i| i64::from(i.label)).collect();
        ImageBatch {
            images: Tensor::from_data(TensorData::new(pixels, [n, 3, 32, 32]), device),
            targets: Tensor::from_data(TensorData::new(labels, [n]), device),
        }
    }
}

fn images(split: cifar::Images, limit: usize) -> Vec<CifarImage> {
    split
        .pixels
        .chunks(IMAGE_BYTES)
        .zip(split.labels)
        .take(limit)
        .map(|(pixels, label)| CifarImage {
            pixels: pixels.to_vec(),
            label,
        })
        .collect()
}

fn main() -> ExitCode {
    common::exit_code(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), String> {
    let device = args.common.device()?;
    let dataset = match args.dataset {
        DatasetKind::Cifar10 => cifar::Dataset::Cifar10,
        DatasetKind::Cifar100 => cifar::Dataset::Cifar100,
    };
    let dir = args.data.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(match args.dataset {
            DatasetKind::Cifar10 => "data/cifar-10-batches-bin",
            DatasetKind::Cifar100 => "data/cifar-100-binary",
        })
    });
    let train = cifar::read_split(&dir, dataset, true).map_err(|e| e.to_string())?;
    let test = cifar::read_split(&dir, dataset, false).map_err(|e| e.to_string())?;
    let (n_train, n_test) = args.common.limits(train.len(), test.len());
    let (train, test) = (images(train, n_train), images(test, n_test));
    let num_classes = dataset.num_classes();
    let feat_dim = 4 * args.width;
    println!(
        "cifar: {} training and {} test images ({:?}) from {}; head {:?}, D = {feat_dim}, {:?} device",
        train.len(),
        test.len(),
        args.dataset,
        dir.display(),
        args.common.loss,
        args.common.device
    );

    device.seed(args.common.seed);
    let train_device = device.clone().autodiff();
    let model = Classifier {
        network: ResNet::new(args.blocks, args.width, &train_device),
        head: Head::new(&args.common, num_classes, feat_dim, &train_device),
    };
    let batcher = |augment| CifarBatcher {
        augment,
        seed: args.common.seed,
        batches: Arc::new(AtomicU64::new(0)),
    };
    let budget = Budget {
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
    };
    let start = Instant::now();
    let model = run::fit(
        &args.common,
        &budget,
        model,
        train.clone(),
        test.clone(),
        batcher(!args.no_augment),
        batcher(false),
        &device,
    )?;
    let train_seconds = run::seconds(start);
    let model = model.valid();
    let test_accuracy = run::accuracy(&model, &test, &batcher(false), &device);
    println!(
        "test accuracy {:.2}% ({} images, {:?} head), trained in {train_seconds} s",
        100.0 * test_accuracy,
        test.len(),
        args.common.loss
    );

    if let Some(out) = &args.common.out {
        let summary = json!({
            "example": "cifar",
            "dataset": args.dataset,
            "data": dir,
            "loss": args.common.loss,
            "train_images": train.len(),
            "test_images": test.len(),
            "test_accuracy": test_accuracy,
            "train_seconds": train_seconds,
        });
        let config = serde_json::to_value(args).expect("flags serialise");
        run::save(out, &model, &config, &summary)?;
        println!("model, config and summary saved in {}", out.display());
    }
    Ok(())
}
