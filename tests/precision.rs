//! Half precision: features (and parameters) in f16 or bf16 are accumulated in f32; the loss and
//! the gradients stay finite and close to the f32 result.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use burn::prelude::*;
use burn::tensor::{DType, Distribution};
use common::{devices, values};
use gm_loss::{Covariance, GmLossConfig};

/// Whether `device` can hold tensors of `dtype` (ndarray has no f16/bf16 storage).
fn supports(device: &Device, dtype: DType) -> bool {
    let device = device.clone();
    catch_unwind(AssertUnwindSafe(move || {
        let t = Tensor::<2>::zeros([2, 2], (&device, dtype)) + 1.0;
        values(&t)
    }))
    .is_ok()
}

#[test]
fn half_precision_features_match_f32() {
    for (name, device) in devices() {
        for dtype in [DType::F16, DType::BF16] {
            if !supports(&device, dtype) {
                eprintln!("{name}: no {dtype:?} tensors on this backend; skipped");
                continue;
            }
            for covariance in [Covariance::Identity, Covariance::Diagonal] {
                device.seed(3);
                // Features far from the origin: d in the thousands, past f16's comfort zone
                // for squared norms (f16 max 65504 would overflow ‖x‖² = 5·60²·... if
                // accumulated in f16).
                let x32 = Tensor::<2>::random([16, 8], Distribution::Normal(0.0, 60.0), &device);
                let y = Tensor::<1, Int>::from_ints(
                    [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0],
                    &device,
                );
                let loss = GmLossConfig::new(5, 8)
                    .with_covariance(covariance)
                    .init(&device);
                // The f32 reference on the same (rounded) inputs.
                let x_half = x32.clone().cast(dtype).detach().require_grad();
                let x_ref = x_half.clone().cast(DType::F32).detach().require_grad();
                let want = loss.forward(x_ref.clone(), y.clone());
                let want_grads = want.loss.backward();
                let got = loss.forward(x_half.clone(), y.clone());
                assert_eq!(
                    got.loss.dtype(),
                    DType::F32,
                    "{name} {dtype:?}: computed in f32"
                );
                let got_grads = got.loss.backward();

                let (a, b) = (values(&got.loss)[0], values(&want.loss)[0]);
                assert!(a.is_finite(), "{name} {dtype:?}: loss {a}");
                assert!(
                    (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                    "{name} {dtype:?}: {a} vs {b}"
                );
                let gx = x_half
                    .grad(&got_grads)
                    .expect("gradient in the features' dtype");
                assert_eq!(gx.dtype(), dtype);
                let (gh, gf) = (values(&gx), values(&x_ref.grad(&want_grads).unwrap()));
                let scale = gf.iter().fold(1e-6f64, |m, v| m.max(v.abs()));
                // The gradient is rounded once to the half type: ≤ 2⁻⁸ relative (bf16), 2⁻¹¹ (f16).
                for (h, f) in gh.iter().zip(&gf) {
                    assert!(h.is_finite(), "{name} {dtype:?}: gradient {h}");
                    assert!(
                        (h - f).abs() <= scale * 2f64.powi(-7),
                        "{name} {dtype:?}: {h} vs {f}"
                    );
                }
                let gm = values(&loss.means.grad(&got_grads).unwrap());
                assert!(
                    gm.iter().all(|v| v.is_finite()),
                    "{name} {dtype:?}: means gradient"
                );
                eprintln!("{name} {dtype:?} {covariance:?}: loss {a:.6} (f32 {b:.6})");
            }
        }
    }
}

/// Parameters in half precision too: still accumulated in f32.
#[test]
fn half_precision_parameters() {
    let device = Device::flex().autodiff();
    let means =
        Tensor::<2>::random([4, 3], Distribution::Normal(0.0, 50.0), &device).cast(DType::F16);
    let loss = GmLossConfig::new(4, 3)
        .init_with(means.clone(), None)
        .unwrap();
    let x = Tensor::<2>::random([6, 3], Distribution::Normal(0.0, 50.0), &device).cast(DType::F16);
    let y = Tensor::<1, Int>::from_ints([0, 1, 2, 3, 0, 1], &device);
    let out = loss.forward(x.clone(), y.clone());
    assert_eq!(out.loss.dtype(), DType::F32);
    let reference = GmLossConfig::new(4, 3)
        .init_with(means.cast(DType::F32), None)
        .unwrap()
        .forward(x.cast(DType::F32), y);
    let (a, b) = (values(&out.loss)[0], values(&reference.loss)[0]);
    assert!(
        a.is_finite() && (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
        "{a} vs {b}"
    );
    let grads = out.loss.backward();
    let gm = loss.means.grad(&grads).unwrap();
    assert_eq!(gm.dtype(), DType::F16);
    assert!(values(&gm).iter().all(|v| v.is_finite()));
}
