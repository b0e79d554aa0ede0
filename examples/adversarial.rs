//! # Adversarial examples against GM and softmax, and detecting them by feature likelihood
//!
//! The seed paper's second claim: a GM-trained network knows when an input does not fit its
//! training distribution. The likelihood of the input's feature under the predicted class
//! Gaussian, log N(f(x); μ_ŷ, Σ_ŷ), separates clean inputs from adversarial ones, and the
//! symmetric feature space makes the model harder to attack.
//!
//! This example checks both claims on the bundled MNIST digits. It trains (or, with
//! `--gm-model` / `--ce-model`, loads from the `mnist` example's `--out`) a GM model and a
//! softmax model with the same LeNet++ network and budget, attacks both at several ε with
//!
//! * FGSM — one signed-gradient step of size ε;
//! * PGD — `--pgd-steps` steps of 2.5ε/steps from a random start in the ε-ball;
//! * two adaptive attacks on GM, which know about the likelihood detector:
//!   - `PGD + log p` — PGD on CE + κ·log p(f(x)): misclassify while pushing the feature's
//!     mixture likelihood up;
//!   - `feature pull` — PGD that ascends log N(f(x); μ_t, Σ_t), t the most probable wrong class
//!     of the clean input: it drags the feature into another class's Gaussian, where it is both
//!     misclassified and likely;
//!
//! and prints one table: clean accuracy, accuracy under attack, and how well a detector that
//! keeps 95% of clean inputs flags the successful adversarial inputs (AUROC, detection rate).
//! GM is scored by its feature likelihood (the paper's score) and by its maximum posterior
//! probability; softmax by the maximum softmax probability (MSP).
//!
//! ε is in pixel units of [0, 1] (the network sees 2·pixel − 1, so the attack's ε there is 2ε).
//!
//! ```text
//! cargo run --release --example adversarial
//! cargo run --release --example adversarial -- --epsilons 0.05,0.1,0.2 --attack-images 500
//! ```

mod common;
mod data;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use burn::data::dataloader::batcher::Batcher;
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, softmax};
use clap::Parser;
use gm_loss::attack::{Goal, PgdConfig, fgsm, pgd, pgd_with_objective};
use gm_loss::detect::{Detector, auroc};
use serde_json::json;

use common::classifier::{Classifier, Network};
use common::cli::{CommonArgs, CovarianceKind, DeviceKind, LossKind};
use common::head::Head;
use common::lenet::{Digit, DigitBatcher, LeNetArgs, LeNetPlusPlus, load_saved};

/// Command line of the adversarial example.
#[derive(Debug, Parser)]
#[command(about = "Attack GM and softmax LeNet++ models on MNIST; detect the attacks.")]
struct Args {
    #[command(flatten)]
    lenet: LeNetArgs,
    /// Backend.
    #[arg(long, value_enum, default_value_t = DeviceKind::Flex)]
    device: DeviceKind,
    /// Random seed for training and PGD's random start.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Margin α of the GM model trained here.
    #[arg(long, default_value_t = 0.1)]
    alpha: f64,
    /// Likelihood weight λ of the GM model trained here.
    #[arg(long, default_value_t = 0.1)]
    lambda: f64,
    /// Class covariance of the GM model trained here.
    #[arg(long, value_enum, default_value_t = CovarianceKind::Identity)]
    covariance: CovarianceKind,
    /// Learning rate of the GM model's means as a multiple of the network's.
    #[arg(long, default_value_t = 10.0)]
    means_lr_mult: f64,
    /// Use only the first N training images (0 = all) when training here.
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// Load the GM model from this `mnist --out` directory instead of training one.
    #[arg(long)]
    gm_model: Option<PathBuf>,
    /// Load the softmax model from this `mnist --out` directory instead of training one.
    #[arg(long)]
    ce_model: Option<PathBuf>,
    /// Attack radii ε in pixel units ([0, 1]), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0.05,0.1,0.2")]
    epsilons: Vec<f64>,
    /// PGD steps.
    #[arg(long, default_value_t = 10)]
    pgd_steps: usize,
    /// Weight κ of the log-likelihood in the objective of the `PGD + log p` attack.
    #[arg(long, default_value_t = 1.0)]
    kappa: f64,
    /// Test images to attack (the first N).
    #[arg(long, default_value_t = 500)]
    attack_images: usize,
    /// Clean inputs the detector keeps.
    #[arg(long, default_value_t = 0.95)]
    retention: f64,
    /// Write the table as JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

impl Args {
    fn common(&self, loss: LossKind) -> CommonArgs {
        CommonArgs {
            loss,
            device: self.device,
            seed: self.seed,
            alpha: self.alpha,
            lambda: self.lambda,
            covariance: self.covariance,
            means_lr_mult: self.means_lr_mult,
            limit: self.limit,
            out: None,
        }
    }
}

type Model = Classifier<LeNetPlusPlus>;

/// The detection scores of each input (higher = more like clean data): for GM the
/// log-likelihood of the feature under the predicted class Gaussian (the paper's score) and the
/// maximum posterior probability; for softmax the maximum softmax probability (MSP).
fn scores(model: &Model, images: Tensor<4>) -> Vec<Vec<f64>> {
    let features = model.network.features(images);
    let read = |t: Tensor<1>| t.try_to_vec_as::<f64>().expect("read scores");
    let msp = |logits: Tensor<2>| read(softmax(logits, 1).max_dim(1).flatten(0, 1));
    match &model.head {
        Head::Gm(gm) => vec![
            read(gm.predicted_log_likelihood(features.clone())),
            msp(gm.logits(features)),
        ],
        Head::Softmax(linear) => vec![msp(linear.forward(features))],
    }
}

/// The GM head of a GM model (the adaptive attacks run on GM only).
fn gm_head(model: &Model) -> &gm_loss::GmLoss {
    match &model.head {
        Head::Gm(gm) => gm,
        Head::Softmax(_) => unreachable!("adaptive attacks run on the GM model only"),
    }
}

/// The names of [`scores`]' scores.
fn score_names(model: &Model) -> &'static [&'static str] {
    match &model.head {
        Head::Gm(_) => &["likelihood", "MSP"],
        Head::Softmax(_) => &["MSP"],
    }
}

/// Predictions and every score of `images`, in chunks.
fn evaluate(model: &Model, images: &[Tensor<4>]) -> (Vec<i64>, Vec<Vec<f64>>) {
    let mut predictions = Vec::new();
    let mut all = vec![Vec::new(); score_names(model).len()];
    for x in images {
        let x = x.clone().detach();
        predictions.extend(
            model
                .predict(x.clone())
                .try_to_vec_as::<i64>()
                .expect("read predictions"),
        );
        for (all, new) in all.iter_mut().zip(scores(model, x)) {
            all.extend(new);
        }
    }
    (predictions, all)
}

/// One row of the table.
#[derive(Debug, serde::Serialize)]
struct Row {
    model: &'static str,
    score: &'static str,
    attack: String,
    epsilon: f64,
    accuracy: f64,
    successful: usize,
    auroc: Option<f64>,
    detection_rate: Option<f64>,
}

fn main() -> ExitCode {
    common::exit_code(run(&Args::parse()))
}

/// Trains the model for `loss`, or loads it from `dir`.
fn model(
    args: &Args,
    loss: LossKind,
    dir: Option<&PathBuf>,
    train: &[Digit],
    test: &[Digit],
    device: &Device,
) -> Result<Model, String> {
    match dir {
        Some(dir) => {
            let (saved, model) = load_saved(dir, device)?;
            if saved.common.loss != loss {
                return Err(format!(
                    "{}: holds a {:?} model, expected {loss:?}",
                    dir.display(),
                    saved.common.loss
                ));
            }
            println!("{loss:?} model loaded from {}", dir.display());
            Ok(model)
        }
        None => {
            println!("training the {loss:?} model");
            args.lenet.train(&args.common(loss), train, test, device)
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let start = Instant::now();
    let common = args.common(LossKind::Gm);
    let device = common.device()?;
    let (train, test) = args.lenet.load(&common)?;
    let gm = model(
        args,
        LossKind::Gm,
        args.gm_model.as_ref(),
        &train,
        &test,
        &device,
    )?;
    let ce = model(
        args,
        LossKind::Ce,
        args.ce_model.as_ref(),
        &train,
        &test,
        &device,
    )?;

    // Attacks need input gradients: the models move to the autodiff device.
    let ad = device.clone().autodiff();
    let to_batches = |items: &[Digit]| -> Vec<(Tensor<4>, Tensor<1, Int>)> {
        items
            .chunks(250)
            .map(|c| {
                let b = DigitBatcher.batch(c.to_vec(), &ad);
                (b.images, b.targets)
            })
            .collect()
    };
    let attacked = to_batches(&test[..args.attack_images.min(test.len())]);
    let reference = to_batches(&train[..2000.min(train.len())]);
    let labels: Vec<i64> = attacked
        .iter()
        .flat_map(|(_, y)| y.clone().try_to_vec_as::<i64>().expect("read labels"))
        .collect();
    let n = labels.len();

    let mut rows = Vec::new();
    for (name, model) in [("GM", gm), ("softmax", ce)] {
        let model = model.to_device(&ad);
        let names = score_names(&model);
        let clean_images: Vec<Tensor<4>> = attacked.iter().map(|(x, _)| x.clone()).collect();
        let (clean_pred, clean_scores) = evaluate(&model, &clean_images);
        let correct: Vec<bool> = clean_pred
            .iter()
            .zip(&labels)
            .map(|(p, y)| p == y)
            .collect();
        let clean_accuracy = correct.iter().filter(|&&c| c).count() as f64 / n as f64;
        // Each threshold keeps `retention` of clean *training* images: the test images stay
        // unseen by the detector.
        let reference_images: Vec<Tensor<4>> = reference.iter().map(|(x, _)| x.clone()).collect();
        let reference_scores = evaluate(&model, &reference_images).1;
        let mut detectors = Vec::new();
        for (j, score) in names.iter().enumerate() {
            let detector =
                Detector::fit(&reference_scores[j], args.retention).map_err(|e| e.to_string())?;
            let flagged = detector
                .flagged_fraction(&clean_scores[j])
                .map_err(|e| e.to_string())?;
            println!(
                "{name} ({score}): clean accuracy {:.2}%, detector flags {:.1}% of clean test images",
                100.0 * clean_accuracy,
                100.0 * flagged
            );
            rows.push(Row {
                model: name,
                score,
                attack: "none".into(),
                epsilon: 0.0,
                accuracy: clean_accuracy,
                successful: 0,
                auroc: None,
                detection_rate: Some(flagged),
            });
            detectors.push(detector);
        }
        // Clean scores of the clean-correct images, per score.
        let clean_correct: Vec<Vec<f64>> = clean_scores
            .iter()
            .map(|scores| {
                scores
                    .iter()
                    .zip(&correct)
                    .filter(|(_, c)| **c)
                    .map(|(s, _)| *s)
                    .collect()
            })
            .collect();

        let forward = |x: Tensor<4>| model.head.logits(model.network.features(x));
        let mut attacks = vec!["FGSM", "PGD"];
        if matches!(model.head, Head::Gm(_)) {
            attacks.extend(["PGD + log p", "feature pull"]);
        }
        for &epsilon in &args.epsilons {
            let eps = 2.0 * epsilon; // pixel units → the network's [−1, 1] inputs
            for &attack in &attacks {
                ad.seed(args.seed);
                let mut adversarial = Vec::new();
                for (x, y) in &attacked {
                    let goal = Goal::Untargeted(y.clone());
                    let config = PgdConfig::new(eps, args.pgd_steps).with_clip(-1.0, 1.0);
                    let x_adv = match attack {
                        "FGSM" => fgsm(forward, x.clone(), &goal, eps, Some((-1.0, 1.0))),
                        "PGD" => pgd(forward, x.clone(), &goal, &config),
                        "PGD + log p" => {
                            let gm = gm_head(&model);
                            let yy = y.clone().reshape([y.dims()[0], 1]);
                            // Ascend CE(y) + κ·log p(f(x)): misclassify, and keep the feature
                            // likely under the mixture.
                            let objective = |x: Tensor<4>| {
                                let features = model.network.features(x);
                                let ce = -log_softmax(gm.logits(features.clone()), 1)
                                    .gather(1, yy.clone())
                                    .sum();
                                ce + gm.mixture_log_likelihood(features).sum() * args.kappa
                            };
                            pgd_with_objective(objective, x.clone(), &config)
                        }
                        _ => {
                            let gm = gm_head(&model);
                            // t: the most probable wrong class of the clean input.
                            let [batch] = y.dims();
                            let clean = gm.logits(model.network.features(x.clone().detach()));
                            let own = y.clone().one_hot(gm.num_classes()).bool();
                            let target = clean
                                .mask_fill(own, f64::NEG_INFINITY)
                                .argmax(1)
                                .reshape([batch, 1]);
                            // Ascend log N(f(x); μ_t, Σ_t): into class t's Gaussian.
                            let objective = |x: Tensor<4>| {
                                gm.log_likelihood(model.network.features(x))
                                    .gather(1, target.clone())
                                    .sum()
                            };
                            pgd_with_objective(objective, x.clone(), &config)
                        }
                    }
                    .map_err(|e| e.to_string())?;
                    adversarial.push(x_adv);
                }
                let (pred, adv_scores) = evaluate(&model, &adversarial);
                let still_correct = pred.iter().zip(&labels).filter(|(p, y)| p == y).count();
                // Successful adversarial inputs: clean-correct images the attack flipped.
                let successful: Vec<usize> = (0..n)
                    .filter(|&i| correct[i] && pred[i] != labels[i])
                    .collect();
                for (j, score) in names.iter().enumerate() {
                    let scores: Vec<f64> = successful.iter().map(|&i| adv_scores[j][i]).collect();
                    let (area, rate) = if scores.is_empty() {
                        (None, None)
                    } else {
                        (
                            Some(auroc(&clean_correct[j], &scores).map_err(|e| e.to_string())?),
                            Some(
                                detectors[j]
                                    .flagged_fraction(&scores)
                                    .map_err(|e| e.to_string())?,
                            ),
                        )
                    };
                    rows.push(Row {
                        model: name,
                        score,
                        attack: attack.into(),
                        epsilon,
                        accuracy: still_correct as f64 / n as f64,
                        successful: successful.len(),
                        auroc: area,
                        detection_rate: rate,
                    });
                }
            }
        }
    }

    println!(
        "\n{n} test images attacked. Each detector keeps {:.0}% of clean training images. \
         AUROC: clean-correct vs successful adversarial test images (0.5 = chance, below 0.5 = \
         adversarial inputs look *more* normal). Detected: share of the successful adversarial \
         images flagged (for attack \"none\": of the clean test images).\n",
        100.0 * args.retention
    );
    println!("| model (score) | attack | ε | accuracy | successful | AUROC | detected |");
    println!("|---|---|---|---|---|---|---|");
    let pct = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.1}%", 100.0 * v));
    for r in &rows {
        println!(
            "| {} ({}) | {} | {} | {:.1}% | {} | {} | {} |",
            r.model,
            r.score,
            r.attack,
            if r.attack == "none" {
                "–".into()
            } else {
                format!("{}", r.epsilon)
            },
            100.0 * r.accuracy,
            r.successful,
            r.auroc.map_or("–".into(), |a| format!("{a:.3}")),
            pct(r.detection_rate),
        );
    }
    println!("\ntotal time {:.0} s", start.elapsed().as_secs_f64());
    if let Some(path) = &args.out {
        let text = serde_json::to_string_pretty(&json!({ "rows": rows, "attacked_images": n }))
            .expect("JSON");
        std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
