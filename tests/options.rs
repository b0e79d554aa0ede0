//! Class weights, padding, label smoothing and the reduction, each alone and in every
//! combination with the margin and both covariances, against the explicit-loop f64 reference
//! (`common/reference.rs`: −Σ_k w_k q_ik log p_ik per sample, weighted likelihood, padding
//! skipped, Σ or Σ/Σw) — values, per-sample terms, and autodiff gradients against central finite
//! differences of the reference.

mod common;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::{DType, Distribution, Tolerance};
use common::reference::{Options, Problem, small_problem};
use common::{ErrorStats, crate_loss, devices, labels, run_crate, tensor2, values};
use gm_loss::{GmLossConfig, Reduction};

fn base_problem(diagonal: bool, alpha: f64, y: Vec<usize>) -> Problem {
    Problem {
        alpha,
        ..small_problem(diagonal, y)
    }
}

#[test]
fn every_combination_matches_the_reference() {
    let weights = [None, Some(vec![0.5, 2.0, 1.0, 3.0])];
    // No padding; padding with a class label (1); padding with a label outside 0..K (99).
    let paddings: [(Option<Vec<usize>>, Vec<usize>); 3] = [
        (None, vec![0, 1, 2, 3, 1, 2]),
        (Some(vec![1]), vec![0, 1, 2, 3, 1, 2]),
        (Some(vec![99]), vec![0, 99, 2, 3, 1, 99]),
    ];
    let mut cases = 0;
    for (name, device) in devices() {
        let mut stats = ErrorStats::default();
        for diagonal in [false, true] {
            for alpha in [0.0, 0.5] {
                for w in &weights {
                    for (pads, y) in &paddings {
                        for smoothing in [0.0, 0.1] {
                            for sum in [false, true] {
                                let mut p = base_problem(diagonal, alpha, y.clone());
                                p.options = Options {
                                    weights: w.clone(),
                                    pad_tokens: pads.clone(),
                                    smoothing,
                                    sum,
                                };
                                let what =
                                    format!("{name} {:?} diagonal={diagonal} α={alpha}", p.options);
                                check(&what, &p, &device, &mut stats);
                                cases += 1;
                            }
                        }
                    }
                }
            }
        }
        eprintln!("{name}: {cases} cases, max abs error {:.2e}", stats.max_abs);
    }
}

fn check(what: &str, p: &Problem, device: &Device, stats: &mut ErrorStats) {
    let (cls, lkd, loss) = p.loss_terms();
    let got = run_crate(p, DType::F64, device);
    stats.check(
        &format!("{what}: loss terms"),
        &[got.classification, got.likelihood, got.loss],
        &[cls, lkd, loss],
        1e-12,
    );
    // Per-sample terms.
    let want = p.per_sample();
    let terms = crate_loss(p, DType::F64, device)
        .forward_no_reduction(tensor2(&p.x, DType::F64, device), labels(&p.y, device));
    stats.check(
        &format!("{what}: per-sample L_cls"),
        &values(&terms.classification),
        &want.classification,
        1e-12,
    );
    stats.check(
        &format!("{what}: per-sample L_lkd"),
        &values(&terms.likelihood),
        &want.likelihood,
        1e-12,
    );
    stats.check(
        &format!("{what}: per-sample weights"),
        &values(&terms.weights),
        &want.weights,
        0.0,
    );
    // Gradients against finite differences of the reference.
    let [fd_x, fd_mu, fd_s] = p.finite_difference_gradients(1e-6);
    stats.check(
        &format!("{what}: dX"),
        &common::flat(&got.grad_x),
        &fd_x,
        1e-8,
    );
    stats.check(
        &format!("{what}: dMu"),
        &common::flat(&got.grad_mu),
        &fd_mu,
        1e-8,
    );
    if let Some(s) = &got.grad_log_var {
        stats.check(&format!("{what}: dlogV"), &common::flat(s), &fd_s, 1e-8);
    }
}

/// With α = 0, λ = 0, identity covariance and uniform priors, the GM loss with weights, padding
/// and smoothing equals Burn's `CrossEntropyLoss` with the same options on the logits −d.
#[test]
fn options_match_burn_cross_entropy() {
    for (name, device) in devices() {
        device.seed(9);
        let x = Tensor::<2>::random([12, 5], Distribution::Normal(0.0, 1.0), &device);
        let y = Tensor::<1, Int>::from_ints([0, 1, 2, 3, 1, 2, 0, 3, 1, 1, 2, 0], &device);
        let weights = vec![0.5, 2.0, 1.5, 3.0];
        for smoothing in [None, Some(0.2)] {
            for pad in [None, Some(vec![1])] {
                for w in [None, Some(weights.clone())] {
                    let gm = GmLossConfig::new(4, 5)
                        .with_alpha(0.0)
                        .with_lambda(0.0)
                        .with_weights(w.clone())
                        .with_pad_tokens(pad.clone())
                        .with_smoothing(smoothing)
                        .init(&device);
                    let ce = CrossEntropyLossConfig::new()
                        .with_weights(w.map(|w| w.iter().map(|&v| v as f32).collect()))
                        .with_pad_tokens(pad.clone())
                        .with_smoothing(smoothing.map(|e| e as f32))
                        .init(&device);
                    let want = ce.forward(-gm.distances(x.clone()), y.clone());
                    let got = gm.forward(x.clone(), y.clone()).loss;
                    got.to_data()
                        .assert_approx_eq::<f32>(&want.to_data(), Tolerance::absolute(2e-6));
                    eprintln!(
                        "{name} smoothing={smoothing:?} pad={pad:?}: {} = {}",
                        values(&got)[0],
                        values(&want)[0]
                    );
                }
            }
        }
    }
}

/// A batch made only of padding gives loss 0 and zero gradients (Burn's `CrossEntropyLoss`
/// gives NaN there), with either reduction.
#[test]
fn all_padding_batch_gives_zero_not_nan() {
    for (name, device) in devices() {
        for reduction in [Reduction::Mean, Reduction::Sum] {
            let gm = GmLossConfig::new(3, 2)
                .with_pad_tokens(Some(vec![7]))
                .with_weights(Some(vec![1.0, 2.0, 3.0]))
                .with_reduction(reduction)
                .init(&device);
            let x = Tensor::<2>::from_floats([[0.5, 1.0], [2.0, -1.0]], &device).require_grad();
            let out = gm.forward(x.clone(), Tensor::from_ints([7, 7], &device));
            assert_eq!(values(&out.loss), vec![0.0], "{name} {reduction:?}");
            assert_eq!(values(&out.classification), vec![0.0]);
            assert_eq!(values(&out.likelihood), vec![0.0]);
            let grads = out.loss.backward();
            let gx = values(&x.grad(&grads).unwrap());
            assert!(gx.iter().all(|&g| g == 0.0), "{name}: {gx:?}");
            let gmu = values(&gm.means.grad(&grads).unwrap());
            assert!(gmu.iter().all(|&g| g == 0.0), "{name}: {gmu:?}");
        }
    }
}

/// Reduction::Mean and Reduction::Sum are the documented functions of the per-sample terms.
#[test]
fn reductions_of_the_per_sample_terms() {
    for (_, device) in devices() {
        let x = Tensor::<2>::random([10, 3], Distribution::Normal(0.0, 1.0), &device);
        let y = Tensor::<1, Int>::from_ints([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], &device);
        let config = GmLossConfig::new(3, 3).with_lambda(0.3);
        let mean_loss = config.init(&device);
        let sum_loss = GmLossConfig::init_with(
            &config.clone().with_reduction(Reduction::Sum),
            mean_loss.means.val(),
            None,
        )
        .unwrap();
        let terms = mean_loss.forward_no_reduction(x.clone(), y.clone());
        let cls = values(&terms.classification);
        let lkd = values(&terms.likelihood);
        let mean = mean_loss.forward(x.clone(), y.clone());
        let sum = sum_loss.forward(x, y);
        let s = |v: &[f64]| v.iter().sum::<f64>();
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
        close(values(&mean.classification)[0], s(&cls) / 10.0);
        close(values(&mean.likelihood)[0], s(&lkd) / 10.0);
        close(values(&sum.classification)[0], s(&cls));
        close(values(&sum.loss)[0], s(&cls) + 0.3 * s(&lkd));
    }
}
