//! # GM loss against softmax on MNIST-family digits
//!
//! Trains the paper's LeNet++-style network (spec §6: pairs of 5×5 convolutions with PReLU and
//! max-pooling, then a linear layer to a `--feat-dim`-dimensional feature) with either head:
//!
//! * `--loss gm` (default): [`gm_loss::GmLoss`] — one Gaussian per class, margin α, likelihood
//!   weight λ;
//! * `--loss ce`: `Linear` + `CrossEntropyLoss` — the softmax baseline, same network and budget.
//!
//! ```text
//! cargo run --release --example mnist                       # bundled 10k digits, GM head
//! cargo run --release --example mnist -- --loss ce          # the softmax baseline
//! cargo run --release --example mnist -- --data /usr/share/datasets/fashion-mnist
//! cargo run --release --example mnist -- --feat-dim 2 --plot features.png
//! ```
//!
//! By default the data are the 10,000 real MNIST digits committed under `data/mnist-10k/`
//! (8,000 train / 2,000 test; see its README for provenance and licence). `--data DIR` reads any
//! directory in the standard IDX layout (`train-images-idx3-ubyte[.gz]`, ...), such as full
//! MNIST or Fashion-MNIST. `--help` lists every flag.

mod common;
mod data;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use burn::data::dataloader::batcher::Batcher;
use clap::Parser;
use serde_json::json;

use common::classifier::Network;
use common::cli::CommonArgs;
use common::lenet::{DigitBatcher, LeNetArgs, SavedRun};
use common::run;

/// Command line of the MNIST example.
#[derive(Debug, Parser, serde::Serialize)]
#[command(about = "Train LeNet++ with the GM loss (or softmax) on MNIST-family digits.")]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    lenet: LeNetArgs,
    /// Draw the 2-D test features with each class Gaussian into this PNG (needs --feat-dim 2).
    #[arg(long)]
    plot: Option<PathBuf>,
}

fn main() -> ExitCode {
    common::exit_code(run(&Args::parse()))
}

fn run(args: &Args) -> Result<(), String> {
    if args.plot.is_some() && args.lenet.feat_dim != 2 {
        return Err(format!(
            "--plot draws 2-D features: add --feat-dim 2 (got --feat-dim {})",
            args.lenet.feat_dim
        ));
    }
    let device = args.common.device()?;
    let dir = args.lenet.data_dir();
    let (train, test) = args.lenet.load(&args.common)?;
    println!(
        "mnist: {} training and {} test images from {}; head {:?}, D = {}, {:?} device",
        train.len(),
        test.len(),
        dir.display(),
        args.common.loss,
        args.lenet.feat_dim,
        args.common.device
    );
    let start = Instant::now();
    let model = args.lenet.train(&args.common, &train, &test, &device)?;
    let train_seconds = run::seconds(start);
    let test_accuracy = run::accuracy(&model, &test, &DigitBatcher, &device);
    println!(
        "test accuracy {:.2}% ({} images, {:?} head), trained in {train_seconds} s",
        100.0 * test_accuracy,
        test.len(),
        args.common.loss
    );

    if let Some(path) = &args.plot {
        let batch = DigitBatcher.batch(test.clone(), &device);
        let features = model
            .network
            .features(batch.images)
            .try_to_vec_as::<f64>()
            .map_err(|e| format!("reading features back: {e:?}"))?;
        let labels: Vec<usize> = test.iter().map(|d| usize::from(d.label)).collect();
        let title = format!(
            "{} head, test accuracy {:.2}%",
            match args.common.loss {
                common::cli::LossKind::Gm => "GM",
                common::cli::LossKind::Ce => "softmax",
            },
            100.0 * test_accuracy
        );
        common::plot::features(path, &features, &labels, &model.head, &title)?;
        println!("feature picture written to {}", path.display());
    }

    if let Some(out) = &args.common.out {
        let summary = json!({
            "example": "mnist",
            "data": dir,
            "loss": args.common.loss,
            "train_images": train.len(),
            "test_images": test.len(),
            "test_accuracy": test_accuracy,
            "train_seconds": train_seconds,
        });
        let config = serde_json::to_value(SavedRun {
            common: args.common.clone(),
            lenet: args.lenet.clone(),
        })
        .expect("flags serialise");
        run::save(out, &model, &config, &summary)?;
        println!("model, config and summary saved in {}", out.display());
    }
    Ok(())
}
