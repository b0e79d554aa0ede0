//! Gradients in f64: autodiff through the crate against the hand-derived formulas of spec §3
//! (implemented in `common/reference.rs`) and against central finite differences of the crate's
//! own loss value.

mod common;

use burn::tensor::DType;
use common::reference::{Problem, small_problem};
use common::{ErrorStats, devices, flat, labels, run_crate, tensor2};

fn problem(diagonal: bool) -> Problem {
    small_problem(diagonal, vec![0, 1, 2, 3, 1, 2])
}

/// The crate's loss value in f64 for `problem` (no gradients).
fn crate_loss_value(problem: &Problem, device: &burn::prelude::Device) -> f64 {
    let loss = common::crate_loss(problem, DType::F64, device);
    let out = loss.forward(
        tensor2(&problem.x, DType::F64, device),
        labels(&problem.y, device),
    );
    common::values(&out.loss)[0]
}

/// Central differences of the crate's loss with respect to every entry of one parameter block.
fn finite_differences(
    problem: &Problem,
    device: &burn::prelude::Device,
    block: fn(&mut Problem) -> &mut Vec<Vec<f64>>,
) -> Vec<f64> {
    let h = 1e-5;
    let mut p = problem.clone();
    let (rows, cols) = (block(&mut p).len(), block(&mut p)[0].len());
    let mut out = Vec::new();
    for i in 0..rows {
        for j in 0..cols {
            let orig = block(&mut p)[i][j];
            block(&mut p)[i][j] = orig + h;
            let plus = crate_loss_value(&p, device);
            block(&mut p)[i][j] = orig - h;
            let minus = crate_loss_value(&p, device);
            block(&mut p)[i][j] = orig;
            out.push((plus - minus) / (2.0 * h));
        }
    }
    out
}

fn check(diagonal: bool) {
    let p = problem(diagonal);
    let want = p.evaluate();
    for (name, device) in devices() {
        let got = run_crate(&p, DType::F64, &device);
        // Autodiff vs the hand-derived formulas, both in f64.
        let mut formula = ErrorStats::default();
        formula.check(
            &format!("{name} dX"),
            &flat(&got.grad_x),
            &flat(&want.grad_x),
            1e-12,
        );
        formula.check(
            &format!("{name} dMu"),
            &flat(&got.grad_mu),
            &flat(&want.grad_mu),
            1e-12,
        );
        // Autodiff vs finite differences of the crate itself.
        let mut fd = ErrorStats::default();
        let fd_x = finite_differences(&p, &device, |p| &mut p.x);
        fd.check(&format!("{name} dX vs FD"), &flat(&got.grad_x), &fd_x, 1e-8);
        let fd_mu = finite_differences(&p, &device, |p| &mut p.mu);
        fd.check(
            &format!("{name} dMu vs FD"),
            &flat(&got.grad_mu),
            &fd_mu,
            1e-8,
        );
        if diagonal {
            let got_s = flat(got.grad_log_var.as_ref().unwrap());
            let want_s = flat(want.grad_log_var.as_ref().unwrap());
            formula.check(&format!("{name} dlogV"), &got_s, &want_s, 1e-12);
            let fd_s = finite_differences(&p, &device, |p| p.log_var.as_mut().unwrap());
            fd.check(&format!("{name} dlogV vs FD"), &got_s, &fd_s, 1e-8);
        }
        eprintln!(
            "{name} diagonal={diagonal}: autodiff vs formula max abs {:.2e}; vs finite differences max abs {:.2e}",
            formula.max_abs, fd.max_abs
        );
    }
}

#[test]
fn identity_gradients_match_formulas_and_finite_differences() {
    check(false);
}

#[test]
fn diagonal_gradients_match_formulas_and_finite_differences() {
    check(true);
}

/// Where a log-variance sits below log(floor), the variance is floored: the loss does not depend
/// on that log-variance, so its gradient is exactly 0 while its neighbours still learn.
#[test]
fn floored_log_variance_gets_no_gradient() {
    let mut p = problem(true);
    p.floor = 0.5;
    p.log_var.as_mut().unwrap()[1][2] = -3.0; // exp(−3) ≈ 0.05 < 0.5
    let want = p.evaluate();
    for (name, device) in devices() {
        let got = run_crate(&p, DType::F64, &device);
        let got_s = got.grad_log_var.unwrap();
        assert_eq!(got_s[1][2], 0.0, "{name}");
        assert_ne!(got_s[1][1], 0.0, "{name}");
        let mut stats = ErrorStats::default();
        stats.check(
            &format!("{name} dlogV"),
            &flat(&got_s),
            &flat(want.grad_log_var.as_ref().unwrap()),
            1e-12,
        );
        stats.check(&format!("{name} loss"), &[got.loss], &[want.loss], 1e-12);
    }
}
