//! The training path of `forward` computes the classification term's gradient by hand (spec §3,
//! `src/fused.rs`). Here it is compared with autodiff through every step of the plain path
//! (`forward_no_reduction`, reduced here), for every option that changes the gradient: values of
//! the loss and of each term, and the loss's gradients, to f32 precision, on both CPU backends
//! (and wgpu where an adapter exists). The terms come back without a graph: checked too.

mod common;

use burn::prelude::*;
use burn::tensor::Distribution;
use common::{devices, values, wgpu_device};
use gm_loss::{Covariance, GmLoss, GmLossConfig, Reduction};

/// The plain path's terms, reduced as `forward` documents.
fn plain(loss: &GmLoss, x: Tensor<2>, y: Tensor<1, Int>) -> (Tensor<1>, Tensor<1>) {
    let terms = loss.forward_no_reduction(x, y);
    let config = loss.config();
    let reduce = |term: Tensor<1>| match config.reduction {
        Reduction::Sum => term.sum(),
        Reduction::Mean if config.weights.is_none() && config.pad_tokens.is_none() => term.mean(),
        Reduction::Mean => {
            let total: f64 = values(&terms.weights).iter().sum();
            term.sum() / if total == 0.0 { 1.0 } else { total }
        }
    };
    (
        reduce(terms.classification.clone()),
        reduce(terms.likelihood.clone()),
    )
}

/// Largest |a − b| relative to the largest |b| (at least 1e-3).
fn close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
    let worst = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= tol * scale,
        "{what}: max |Δ| {worst:e} > {tol:e} × {scale:e}\n got {got:?}\nwant {want:?}"
    );
}

#[test]
fn hand_derived_gradients_match_autodiff_of_the_plain_path() {
    let (batch, num_classes, feat_dim) = (9, 5, 4);
    let mut cases = 0;
    let backends = devices()
        .into_iter()
        .chain(wgpu_device())
        .collect::<Vec<_>>();
    for (name, device) in &backends {
        let device = device.clone();
        device.seed(11);
        for covariance in [Covariance::Identity, Covariance::Diagonal] {
            for alpha in [0.0, 0.3] {
                for reduction in [Reduction::Mean, Reduction::Sum] {
                    for (weights, pad, smoothing) in [
                        (false, false, None),
                        (true, false, None),
                        (false, true, None),
                        (false, false, Some(0.2)),
                        (true, true, Some(0.1)),
                    ] {
                        let config = GmLossConfig::new(num_classes, feat_dim)
                            .with_covariance(covariance)
                            .with_alpha(alpha)
                            .with_lambda(0.3)
                            .with_reduction(reduction)
                            .with_weights(weights.then(|| vec![0.5, 1.0, 2.0, 1.5, 0.25]))
                            .with_pad_tokens(pad.then(|| vec![7]))
                            .with_smoothing(smoothing);
                        let loss = config.init(&device);
                        // Random log-variances, some below the floor.
                        let loss = match &loss.log_variances {
                            Some(_) => {
                                let s = Tensor::<2>::random(
                                    [num_classes, feat_dim],
                                    Distribution::Uniform(-10.0, 1.0),
                                    &device,
                                );
                                config.init_with(loss.means.val(), Some(s)).unwrap()
                            }
                            None => loss,
                        };
                        let x = Tensor::<2>::random(
                            [batch, feat_dim],
                            Distribution::Normal(0.0, 1.5),
                            &device,
                        );
                        let labels: Vec<i32> = (0..batch)
                            .map(|i| {
                                if pad && i % 4 == 1 {
                                    7
                                } else {
                                    (i * 3 % num_classes) as i32
                                }
                            })
                            .collect();
                        let y = Tensor::<1, Int>::from_ints(labels.as_slice(), &device);
                        let case = format!(
                            "{name} {covariance:?} α={alpha} {reduction:?} weights={weights} pad={pad} ε={smoothing:?}"
                        );
                        let grads_of = |use_fused: bool| {
                            let x = x.clone().require_grad();
                            let (loss_value, cls, lkd) = if use_fused {
                                let out = loss.forward(x.clone(), y.clone());
                                (out.loss, out.classification, out.likelihood)
                            } else {
                                let (cls, lkd) = plain(&loss, x.clone(), y.clone());
                                (cls.clone() + lkd.clone() * 0.3, cls, lkd)
                            };
                            let mut all = values(&loss_value);
                            all.extend(values(&cls));
                            all.extend(values(&lkd));
                            let grads = loss_value.backward();
                            all.extend(values(&x.grad(&grads).unwrap()));
                            all.extend(values(&loss.means.grad(&grads).unwrap()));
                            if let Some(s) = &loss.log_variances {
                                all.extend(values(
                                    &s.grad(&grads).unwrap_or_else(|| s.val().zeros_like()),
                                ));
                            }
                            all
                        };
                        close(&case, &grads_of(true), &grads_of(false), 2e-5);
                        cases += 1;
                    }
                }
            }
        }
    }
    assert_eq!(cases, backends.len() * 2 * 2 * 2 * 5);
}

/// The training path's terms are reported values: they take part in no graph (so nothing of
/// them stays attached to the parameters), while the loss does.
#[test]
fn reported_terms_carry_no_graph() {
    for (name, device) in devices() {
        for covariance in [Covariance::Identity, Covariance::Diagonal] {
            let loss = GmLossConfig::new(3, 2)
                .with_covariance(covariance)
                .init(&device);
            let x = Tensor::<2>::from_floats([[0.5, -1.0], [2.0, 0.25]], &device).require_grad();
            let y = Tensor::<1, Int>::from_ints([0, 2], &device);
            let out = loss.forward(x.clone(), y.clone());
            for (what, term) in [
                ("classification", &out.classification),
                ("likelihood", &out.likelihood),
                ("logits", &out.logits.clone().sum()),
            ] {
                assert!(
                    !term.is_tracked(),
                    "{name} {covariance:?}: {what} is tracked"
                );
            }
            assert!(
                out.loss.is_tracked(),
                "{name} {covariance:?}: the loss is not tracked"
            );
            let grads = out.loss.backward();
            assert!(
                x.grad(&grads).is_some() && loss.means.grad(&grads).is_some(),
                "{name} {covariance:?}: the loss has no gradient"
            );
        }
    }
}
