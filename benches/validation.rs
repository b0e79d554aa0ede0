//! What the input value checks cost: forward + backward of `GmLoss` with
//! `check_values = true` (one device-to-host read per call) against `false` (shape checks
//! only), on `flex`, in the same process.
//!
//! ```sh
//! cargo bench --bench validation
//! ```

use std::hint::black_box;

use burn::prelude::*;
use burn::tensor::Distribution;
use criterion::{Criterion, criterion_group, criterion_main};
use gm_loss::{Covariance, GmLossConfig};

fn validation_cost(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    device.seed(0);
    let mut group = c.benchmark_group("validation");
    for (b, d, k) in [(128, 64, 10), (256, 512, 1000)] {
        let x = Tensor::<2>::random([b, d], Distribution::Normal(0.0, 1.0), &device);
        let labels: Vec<i32> = (0..b).map(|i| (i % k) as i32).collect();
        let y = Tensor::<1, Int>::from_ints(labels.as_slice(), &device);
        for covariance in [Covariance::Identity, Covariance::Diagonal] {
            for check_values in [true, false] {
                let loss = GmLossConfig::new(k, d)
                    .with_covariance(covariance)
                    .with_check_values(check_values)
                    .init(&device);
                let id = format!("B={b} D={d} K={k} {covariance:?} check_values={check_values}");
                group.bench_function(id, |bench| {
                    bench.iter(|| {
                        let out = loss.forward(x.clone(), y.clone());
                        let grads = out.loss.backward();
                        black_box(loss.means.grad(&grads))
                    })
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, validation_cost);
criterion_main!(benches);
