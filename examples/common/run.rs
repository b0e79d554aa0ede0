//! Training with burn-train, evaluation on the test split, and the `--out` directory.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::lr_scheduler::cosine::CosineAnnealingLrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::ModuleLrSchedulerConfig;
use burn::optim::AdamConfig;
use burn::prelude::*;
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::{Learner, SupervisedTraining};
use gm_loss::GmTermMetric;

use super::classifier::{Classifier, ImageBatch, Network};
use super::cli::{CommonArgs, LossKind};
use super::head::Head;
use super::progress::CompactRenderer;

/// The optimisation budget: Adam with a cosine-annealed learning rate.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Budget {
    /// Passes over the training images.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Initial learning rate, annealed to 0 along a cosine over all steps.
    pub lr: f64,
}

/// Trains `model` on `train`, reporting loss, accuracy (and for GM the two loss terms) on the
/// training batches and on `test` after every epoch. The test split is only watched, never used
/// to choose a checkpoint or stop early: the model returned is the one after the last epoch.
#[allow(clippy::too_many_arguments)]
pub fn fit<N, I, B>(
    args: &CommonArgs,
    budget: &Budget,
    model: Classifier<N>,
    train: Vec<I>,
    test: Vec<I>,
    train_batcher: B,
    test_batcher: B,
    device: &Device,
) -> Result<Classifier<N>, String>
where
    N: Network + 'static,
    I: Send + Sync + Clone + std::fmt::Debug + 'static,
    B: Batcher<I, ImageBatch> + 'static,
{
    if !(args.means_lr_mult.is_finite() && args.means_lr_mult > 0.0) {
        return Err(format!(
            "--means-lr-mult must be a positive number, got {}",
            args.means_lr_mult
        ));
    }
    let steps = train.len().div_ceil(budget.batch_size) * budget.epochs;
    let train_loader = DataLoaderBuilder::new(train_batcher)
        .batch_size(budget.batch_size)
        .shuffle(args.seed)
        .set_device(device.clone())
        .build(InMemDataset::new(train));
    let test_loader = DataLoaderBuilder::new(test_batcher)
        .batch_size(budget.batch_size.max(256))
        .set_device(device.clone())
        .build(InMemDataset::new(test));

    let dir = log_dir(args);
    let mut training = SupervisedTraining::new(&dir, train_loader, test_loader)
        .metrics((AccuracyMetric::new(), LossMetric::new()))
        .renderer(Box::new(CompactRenderer::new()))
        .num_epochs(budget.epochs);
    if args.loss == LossKind::Gm {
        training = training
            .metric_train_numeric(GmTermMetric::classification())
            .metric_train_numeric(GmTermMetric::likelihood());
    }
    // One cosine schedule for the network, and one `--means-lr-mult` times higher for the GM
    // head's means (a parameter group of their own).
    let cosine = |lr: f64| CosineAnnealingLrSchedulerConfig::new(lr, steps.max(1));
    let mut lr = ModuleLrSchedulerConfig::new(cosine(budget.lr).into());
    if let Head::Gm(gm) = &model.head
        && args.means_lr_mult != 1.0
    {
        lr = lr.with_group(gm.means_group(), cosine(budget.lr * args.means_lr_mult));
    }
    let lr = lr.init()?;
    let result = training.launch(Learner::new(model, AdamConfig::new().init(), lr));
    if let Some(error) = result.error {
        return Err(format!("training failed: {error:?}"));
    }
    if args.out.is_none() {
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(result.model)
}

/// burn-train's metric logs: under `--out` when given, else a temporary directory removed after.
fn log_dir(args: &CommonArgs) -> PathBuf {
    match &args.out {
        Some(out) => out.join("logs"),
        None => std::env::temp_dir().join(format!("gm-loss-example-{}", std::process::id())),
    }
}

/// Test accuracy of `model` (in inference mode) on `items`.
pub fn accuracy<N, I, B>(model: &Classifier<N>, items: &[I], batcher: &B, device: &Device) -> f64
where
    N: Network,
    I: Clone,
    B: Batcher<I, ImageBatch>,
{
    let mut correct = 0i64;
    for chunk in items.chunks(500) {
        let batch = batcher.batch(chunk.to_vec(), device);
        correct += model
            .predict(batch.images)
            .equal(batch.targets)
            .int()
            .sum()
            .into_scalar::<i64>();
    }
    correct as f64 / items.len().max(1) as f64
}

/// Writes `model.bpk`, `config.json` (everything needed to rebuild the model) and
/// `summary.json` into `dir`.
pub fn save<N: Network>(
    dir: &Path,
    model: &Classifier<N>,
    config: &serde_json::Value,
    summary: &serde_json::Value,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    model
        .clone()
        .save_file(dir.join("model"))
        .map_err(|e| format!("{}: {e:?}", dir.join("model.bpk").display()))?;
    for (name, value) in [("config.json", config), ("summary.json", summary)] {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(value).expect("JSON values serialise");
        std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Seconds since `start`, rounded to 0.1 s.
pub fn seconds(start: Instant) -> f64 {
    (start.elapsed().as_secs_f64() * 10.0).round() / 10.0
}
