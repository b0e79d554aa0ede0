//! The crate against the explicit-loop f64 reference (`common/reference.rs`) on random inputs:
//! every combination of B ∈ {1, 7, 64}, K ∈ {2, 3, 10, 100}, D ∈ {1, 2, 32}, both covariances,
//! α ∈ {0, 0.1, 1}, λ ∈ {0, 0.01, 0.1}, and uniform or random priors, on every backend.
//! Compared: the loss and both terms, logits, distances, predictions, and the gradients with
//! respect to features, means and log-variances.
//!
//! On wgpu (feature `wgpu`, when an adapter works; lavapipe in CI) a reduced set: B ∈ {1, 7},
//! K ∈ {3, 10}, D ∈ {2, 32}, α ∈ {0, 1}, λ = 0.01.
//!
//! Run with `--nocapture` to see the largest errors per backend.

mod common;

use burn::tensor::DType;
use common::reference::Problem;
use common::{ErrorStats, devices, flat, run_crate, wgpu_device};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Tolerance for values and gradients in f32, relative to each quantity's largest magnitude
/// (at least 1). The f32 matrix-product distances lose about log2(‖x‖²/d) bits to cancellation.
const TOL: f64 = 2e-5;

fn random_problem(
    rng: &mut StdRng,
    (b, k, d): (usize, usize, usize),
    diagonal: bool,
    alpha: f64,
    lambda: f64,
    priors: bool,
) -> Problem {
    let mut matrix = |rows: usize, lo: f64, hi: f64| -> Vec<Vec<f64>> {
        (0..rows)
            .map(|_| (0..d).map(|_| rng.random_range(lo..hi)).collect())
            .collect()
    };
    let x = matrix(b, -2.0, 2.0);
    let mu = matrix(k, -2.0, 2.0);
    let log_var = diagonal.then(|| matrix(k, -1.0, 1.0));
    Problem {
        x,
        y: (0..b).map(|_| rng.random_range(0..k)).collect(),
        mu,
        log_var,
        alpha,
        lambda,
        priors: priors.then(|| (0..k).map(|_| rng.random_range(0.1..1.0)).collect()),
        floor: 1e-4,
        options: Default::default(),
    }
}

/// Error statistics per quantity.
#[derive(Default)]
struct Stats {
    loss: ErrorStats,
    logits: ErrorStats,
    distances: ErrorStats,
    gradients: ErrorStats,
    prediction_mismatches_on_near_ties: usize,
}

fn compare(name: &str, problem: &Problem, stats: &mut Stats, device: &burn::prelude::Device) {
    let want = problem.evaluate();
    let got = run_crate(problem, DType::F32, device);
    stats.loss.check(
        &format!("{name} loss terms"),
        &[got.classification, got.likelihood, got.loss],
        &[want.classification, want.likelihood, want.loss],
        TOL,
    );
    stats.logits.check(
        &format!("{name} logits"),
        &flat(&got.logits),
        &flat(&want.logits),
        TOL,
    );
    stats.distances.check(
        &format!("{name} distances"),
        &flat(&got.d),
        &flat(&want.d),
        TOL,
    );
    let g = &mut stats.gradients;
    g.check(
        &format!("{name} dX"),
        &flat(&got.grad_x),
        &flat(&want.grad_x),
        TOL,
    );
    g.check(
        &format!("{name} dMu"),
        &flat(&got.grad_mu),
        &flat(&want.grad_mu),
        TOL,
    );
    if let Some(want_s) = &want.grad_log_var {
        let got_s = got.grad_log_var.as_ref().expect("log-variance gradient");
        g.check(&format!("{name} dlogV"), &flat(got_s), &flat(want_s), TOL);
    }
    // Predictions must match, except where the two best reference logits are within f32 noise.
    for (i, (&p, &w)) in got.predictions.iter().zip(&want.predictions).enumerate() {
        if p != w {
            let gap = (want.logits[i][w] - want.logits[i][p]).abs();
            assert!(
                gap < 1e-4,
                "{name}: sample {i} predicted {p}, want {w} (gap {gap})"
            );
            stats.prediction_mismatches_on_near_ties += 1;
        }
    }
}

#[test]
fn crate_matches_f64_reference_on_random_inputs() {
    let shapes: Vec<(usize, usize, usize)> = [1, 7, 64]
        .into_iter()
        .flat_map(|b| [2, 3, 10, 100].into_iter().map(move |k| (b, k)))
        .flat_map(|(b, k)| [1, 2, 32].into_iter().map(move |d| (b, k, d)))
        .collect();
    for (backend, device) in devices().into_iter().chain(wgpu_device()) {
        // lavapipe is slow: a reduced set on wgpu.
        let reduced = backend == "wgpu";
        let mut stats = Stats::default();
        let mut rng = StdRng::seed_from_u64(2018);
        let mut cases = 0;
        for &shape in &shapes {
            for diagonal in [false, true] {
                for alpha in [0.0, 0.1, 1.0] {
                    for lambda in [0.0, 0.01, 0.1] {
                        for priors in [false, true] {
                            let p =
                                random_problem(&mut rng, shape, diagonal, alpha, lambda, priors);
                            let (b, k, d) = shape;
                            if reduced
                                && !(b <= 7
                                    && [3, 10].contains(&k)
                                    && [2, 32].contains(&d)
                                    && alpha != 0.1
                                    && lambda == 0.01)
                            {
                                continue;
                            }
                            let name = format!(
                                "{backend} (B,K,D)={shape:?} diagonal={diagonal} α={alpha} λ={lambda} priors={priors}"
                            );
                            compare(&name, &p, &mut stats, &device);
                            cases += 1;
                        }
                    }
                }
            }
        }
        for (what, s) in [
            ("loss terms", stats.loss),
            ("logits", stats.logits),
            ("distances", stats.distances),
            ("gradients", stats.gradients),
        ] {
            eprintln!(
                "{backend}: {cases} cases, {what}: {} values, max abs error {:.3e}, max rel error {:.3e}",
                s.count, s.max_abs, s.max_rel
            );
        }
        eprintln!(
            "{backend}: predictions differing on near-ties: {}",
            stats.prediction_mismatches_on_near_ties
        );
    }
}
