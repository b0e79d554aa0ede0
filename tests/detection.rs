//! Feature likelihoods against the f64 reference, and the clean-data detector and AUROC against
//! hand-computed cases.

mod common;

use burn::prelude::*;
use burn::tensor::DType;
use common::reference::{Problem, small_problem};
use common::{ErrorStats, crate_loss, devices, rows, tensor2, values};
use gm_loss::detect::{DetectionError, Detector, auroc};

/// log N(x_i; μ_k, Σ_k) in f64, from the reference's distances.
fn reference_log_densities(p: &Problem) -> Vec<Vec<f64>> {
    let r = p.evaluate();
    let v = p.variances();
    let half_log_two_pi = 0.5 * p.dim() as f64 * (2.0 * std::f64::consts::PI).ln();
    r.d.iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(k, d)| -d - 0.5 * v[k].iter().map(|v| v.ln()).sum::<f64>() - half_log_two_pi)
                .collect()
        })
        .collect()
}

#[test]
fn likelihoods_match_the_reference() {
    for diagonal in [false, true] {
        let p = small_problem(diagonal, vec![0, 1, 2, 3, 1, 2]);
        let want = reference_log_densities(&p);
        let predictions = p.evaluate().predictions;
        let log_pi = p.log_priors();
        for (name, device) in devices() {
            let loss = crate_loss(&p, DType::F32, &device);
            let x = tensor2(&p.x, DType::F32, &device);
            let mut stats = ErrorStats::default();
            let got = rows(&loss.log_likelihood(x.clone()));
            stats.check(
                &format!("{name} log N"),
                &common::flat(&got),
                &common::flat(&want),
                1e-6,
            );
            let predicted = values(&loss.predicted_log_likelihood(x.clone()));
            let want_predicted: Vec<f64> = predictions
                .iter()
                .enumerate()
                .map(|(i, &k)| want[i][k])
                .collect();
            stats.check(
                &format!("{name} predicted"),
                &predicted,
                &want_predicted,
                1e-6,
            );
            let mixture = values(&loss.mixture_log_likelihood(x));
            let want_mixture: Vec<f64> = want
                .iter()
                .map(|row| {
                    row.iter()
                        .zip(&log_pi)
                        .map(|(l, p)| (l + p).exp())
                        .sum::<f64>()
                        .ln()
                })
                .collect();
            stats.check(&format!("{name} mixture"), &mixture, &want_mixture, 1e-6);
        }
    }
}

/// Far from every mean every density underflows (e^{−1220}); the mixture score stays finite and
/// equals the log-sum-exp of the per-class terms.
#[test]
fn mixture_likelihood_is_stable_far_away() {
    for (_, device) in devices() {
        let means = Tensor::<2>::from_floats([[1.0, 0.0], [-1.0, 1.0], [0.0, 2.0]], &device);
        let loss = gm_loss::GmLossConfig::new(3, 2)
            .init_with(means, None)
            .unwrap();
        let x = Tensor::<2>::from_floats([[30.0, -40.0]], &device);
        let got = values(&loss.mixture_log_likelihood(x))[0];
        // d = [1220.5, 1321, 1332]; log N_k = −d_k − log 2π; π_k = 1/3.
        let terms: Vec<f64> = [1220.5f64, 1321.0, 1332.0]
            .iter()
            .map(|d| -d - (2.0 * std::f64::consts::PI).ln() - 3f64.ln())
            .collect();
        let max = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let want = max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln();
        assert!((got - want).abs() < 1e-3, "{got} vs {want}");
    }
}

#[test]
fn detector_threshold_and_rates_by_hand() {
    let clean: Vec<f64> = (1..=10).map(f64::from).collect();
    // k = ⌊0.1·10⌋ = 1: threshold s₍₂₎ = 2, one clean score (1) flagged.
    let detector = Detector::fit(&clean, 0.9).unwrap();
    assert_eq!(detector.threshold(), 2.0);
    assert_eq!(detector.flagged_fraction(&clean).unwrap(), 0.1);
    assert_eq!(
        detector.flagged_fraction(&[0.0, 1.5, 2.0, 3.0]).unwrap(),
        0.5
    );
    // 95% of 10: k = 0, nothing clean flagged.
    assert_eq!(Detector::fit(&clean, 0.95).unwrap().threshold(), 1.0);
    // Ties at the threshold pass: more than the asked fraction is retained.
    let tied = Detector::fit(&[1.0, 1.0, 1.0, 2.0], 0.5).unwrap();
    assert_eq!(tied.threshold(), 1.0);
    assert_eq!(tied.flagged_fraction(&[1.0, 1.0, 1.0, 2.0]).unwrap(), 0.0);
    assert!(tied.is_abnormal(f64::NAN));
}

#[test]
fn auroc_by_hand_and_against_brute_force() {
    assert_eq!(auroc(&[3.0, 4.0], &[1.0, 2.0]).unwrap(), 1.0);
    assert_eq!(auroc(&[1.0, 2.0], &[3.0, 4.0]).unwrap(), 0.0);
    // Pairs (1,1) ½, (1,2) 0, (2,1) 1, (2,2) ½ → 2/4.
    assert_eq!(auroc(&[1.0, 2.0], &[1.0, 2.0]).unwrap(), 0.5);
    // (2>1) 1, (2=2) ½, (2<3) 0 → 1.5/3.
    assert_eq!(auroc(&[2.0], &[1.0, 2.0, 3.0]).unwrap(), 0.5);
    assert_eq!(auroc(&[5.0, 5.0, 5.0], &[5.0]).unwrap(), 0.5);
    // Against the O(n·m) definition on data with many ties.
    let mut state = 17u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
        ((state >> 40) % 7) as f64
    };
    for (n, m) in [(1, 1), (5, 3), (40, 60), (100, 7)] {
        let clean: Vec<f64> = (0..n).map(|_| next() + 1.0).collect();
        let abnormal: Vec<f64> = (0..m).map(|_| next()).collect();
        let mut wins = 0.0;
        for c in &clean {
            for a in &abnormal {
                wins += if c > a {
                    1.0
                } else if c == a {
                    0.5
                } else {
                    0.0
                };
            }
        }
        let want = wins / (n * m) as f64;
        let got = auroc(&clean, &abnormal).unwrap();
        assert!((got - want).abs() < 1e-12, "n={n} m={m}: {got} vs {want}");
    }
}

#[test]
fn detection_errors() {
    assert_eq!(
        Detector::fit(&[], 0.95),
        Err(DetectionError::EmptyScores { which: "clean" })
    );
    assert_eq!(
        Detector::fit(&[1.0, f64::NAN], 0.95),
        Err(DetectionError::NanScore {
            which: "clean",
            index: 1
        })
    );
    for bad in [0.0, 1.5, f64::NAN] {
        let err = Detector::fit(&[1.0], bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("retention must be in (0, 1], got {bad}")
        );
    }
    assert_eq!(
        auroc(&[1.0], &[]).unwrap_err().to_string(),
        "the abnormal scores are empty; at least one score is needed"
    );
    assert_eq!(
        auroc(&[f64::NAN], &[1.0]).unwrap_err().to_string(),
        "the clean scores contain NaN at index 0"
    );
    let detector = Detector::fit(&[1.0], 1.0).unwrap();
    assert!(detector.flagged_fraction(&[]).is_err());
}
