//! Forward + backward of the GM head against what it replaces and against what it must cost:
//!
//! * `linear_ce` — Burn's `Linear` + `CrossEntropyLoss` on the same features and labels;
//! * `floor` — the bare matrix products the head needs (x·Wᵀ forward; G·W and Gᵀ·x backward),
//!   no autodiff, no element-wise work;
//! * `gm_identity`, `gm_diagonal` — [`GmLoss`] with each covariance (default settings, value
//!   checks on);
//! * `gm_identity_plain` — the same identity loss with autodiff through every element-wise step
//!   (`forward_no_reduction`, then the mean), i.e. without `forward`'s hand-derived gradient;
//! * `naive` — the GM loss written as most first attempts are: broadcast (x − μ) to
//!   `[B, K, D]`, square and sum (inside this bench only; skipped where `[B, K, D]` exceeds 1 GiB).
//!
//! Every step ends with `device.sync()`. Criterion measures each; after each group the bench
//! prints the medians as ratios against `linear_ce` and `floor` from the same run, and the peak
//! host memory of one step (counted by a global allocator; CPU backends only), then a memory
//! sweep over K = 1,000 … 100,000 at B = 256, D = 512.
//!
//! ```sh
//! cargo bench --bench head                      # flex and ndarray
//! cargo bench --bench head --features wgpu      # and wgpu, when a Vulkan adapter exists
//! GM_BENCH_SIZES=256x512x1000 cargo bench --bench head   # one size (BxDxK)
//! GM_BENCH_MEMORY_ONLY=1 cargo bench --bench head         # only the memory sweep
//! GM_BENCH_SIZES=256x512x1000 GM_BENCH_PROFILE=gm_identity:400 \
//!     perf record -g target/release/deps/head-<hash> --bench  # one candidate, for a profiler
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::log_softmax;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use gm_loss::{Covariance, GmLoss, GmLossConfig};

/// Counts live and peak heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes allocated at the peak of `f`, above what was live before it.
fn peak_bytes(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed).saturating_sub(base)
}

/// One benchmark problem on one device.
struct Problem {
    device: Device,
    x: Tensor<2>,
    y: Tensor<1, Int>,
    linear: Linear,
    identity: GmLoss,
    diagonal: GmLoss,
    /// Floor inputs (no autodiff): W `[D, K]` and an upstream gradient G `[B, K]`.
    w: Tensor<2>,
    g: Tensor<2>,
    x_plain: Tensor<2>,
}

impl Problem {
    fn new(device: &Device, b: usize, d: usize, k: usize) -> Self {
        let ad = device.clone().autodiff();
        ad.seed(0);
        let labels: Vec<i32> = (0..b).map(|i| (i * 7919 % k) as i32).collect();
        let x_plain = Tensor::<2>::random([b, d], Distribution::Normal(0.0, 1.0), device);
        let gm = |covariance| {
            GmLossConfig::new(k, d)
                .with_covariance(covariance)
                .init(&ad)
        };
        Self {
            device: device.clone(),
            x: x_plain.clone().autodiff(),
            y: Tensor::<1, Int>::from_ints(labels.as_slice(), &ad),
            linear: LinearConfig::new(d, k).init(&ad),
            identity: gm(Covariance::Identity),
            diagonal: gm(Covariance::Diagonal),
            w: Tensor::<2>::random([d, k], Distribution::Normal(0.0, 0.05), device),
            g: Tensor::<2>::random([b, k], Distribution::Normal(0.0, 0.01), device),
            x_plain,
        }
    }

    /// One forward + backward of `candidate`, synchronised.
    fn step(&self, candidate: &str) {
        let x = self.x.clone().require_grad();
        match candidate {
            "linear_ce" => {
                let logits = self.linear.forward(x.clone());
                let loss = CrossEntropyLossConfig::new()
                    .init(&logits.device())
                    .forward(logits, self.y.clone());
                let grads = loss.backward();
                std::hint::black_box((x.grad(&grads), self.linear.weight.grad(&grads)));
            }
            "floor" => {
                let logits = self.x_plain.clone().matmul(self.w.clone());
                let gx = self.g.clone().matmul(self.w.clone().transpose());
                let gw = self.x_plain.clone().transpose().matmul(self.g.clone());
                std::hint::black_box((logits, gx, gw));
            }
            "gm_identity" | "gm_diagonal" => {
                let gm = if candidate == "gm_identity" {
                    &self.identity
                } else {
                    &self.diagonal
                };
                let grads = gm.forward(x.clone(), self.y.clone()).loss.backward();
                std::hint::black_box((x.grad(&grads), gm.means.grad(&grads)));
            }
            "gm_identity_plain" => {
                // The same loss with autodiff through every step (per-sample terms, then the
                // mean): what `forward` cost before its hand-derived classification gradient.
                let gm = &self.identity;
                let terms = gm.forward_no_reduction(x.clone(), self.y.clone());
                let loss = terms.classification.mean() + terms.likelihood.mean() * gm.lambda();
                let grads = loss.backward();
                std::hint::black_box((x.grad(&grads), gm.means.grad(&grads)));
            }
            "naive" => {
                let gm = &self.identity;
                let [b, d] = x.dims();
                let k = gm.num_classes();
                // d_ik = ½ Σ_j (x_ij − μ_kj)², through a [B, K, D] tensor.
                let diff = x.clone().reshape([b, 1, d]) - gm.means.val().reshape([1, k, d]);
                let dist = diff.square().sum_dim(2).reshape([b, k]) * 0.5;
                let one_hot = self.y.clone().one_hot(k).float();
                let logits = -dist.clone() * (one_hot.clone() * gm.alpha() + 1.0);
                let classification = -(log_softmax(logits, 1) * one_hot.clone()).sum_dim(1).mean();
                let likelihood = (dist * one_hot).sum_dim(1).mean();
                let grads = (classification + likelihood * gm.lambda()).backward();
                std::hint::black_box((x.grad(&grads), gm.means.grad(&grads)));
            }
            other => unreachable!("{other}"),
        }
        self.device.sync().expect("device sync");
    }
}

/// The backends this build can run: flex, ndarray, and wgpu with a working adapter.
fn backends() -> Vec<(&'static str, Device)> {
    #[allow(deprecated)]
    let mut backends = vec![("flex", Device::flex()), ("ndarray", Device::ndarray())];
    #[cfg(feature = "wgpu")]
    {
        let probe = std::panic::catch_unwind(|| {
            let device = Device::wgpu(Default::default());
            let t = Tensor::<1>::ones([4], &device);
            t.sum().into_scalar::<f32>();
            device
        });
        match probe {
            Ok(device) => backends.push(("wgpu", device)),
            Err(_) => eprintln!("wgpu: no usable adapter, skipped"),
        }
    }
    if let Ok(only) = std::env::var("GM_BENCH_BACKENDS") {
        backends.retain(|(name, _)| only.split(',').any(|o| o == *name));
    }
    backends
}

fn sizes() -> Vec<(usize, usize, usize)> {
    let parse = |s: &str| -> Option<(usize, usize, usize)> {
        let v: Vec<usize> = s
            .split('x')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        (v.len() == 3).then(|| (v[0], v[1], v[2]))
    };
    match std::env::var("GM_BENCH_SIZES") {
        Ok(s) => s.split(',').filter_map(parse).collect(),
        Err(_) => vec![(128, 64, 10), (256, 512, 1000), (1024, 512, 10000)],
    }
}

const CANDIDATES: [&str; 6] = [
    "linear_ce",
    "floor",
    "gm_identity",
    "gm_diagonal",
    "gm_identity_plain",
    "naive",
];

/// `[B, K, D]` f32 tensors above this many bytes are not attempted.
const NAIVE_LIMIT: usize = 1 << 30;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `GM_BENCH_PROFILE=candidate:steps`: that many steps of one candidate at the first size on
/// the first backend, outside criterion, for `perf record`.
fn profile(spec: &str) {
    let (candidate, steps) = spec.split_once(':').unwrap_or((spec, "200"));
    let candidate = CANDIDATES
        .into_iter()
        .find(|c| *c == candidate)
        .unwrap_or_else(|| panic!("GM_BENCH_PROFILE: unknown candidate {candidate}"));
    let steps: usize = steps.parse().expect("GM_BENCH_PROFILE: steps");
    let (backend, device) = backends().remove(0);
    let (b, d, k) = sizes()[0];
    let problem = Problem::new(&device, b, d, k);
    let start = Instant::now();
    for _ in 0..steps {
        problem.step(candidate);
    }
    println!(
        "{candidate} on {backend}, B={b} D={d} K={k}: {steps} steps, {:.3} ms per step",
        1e3 * start.elapsed().as_secs_f64() / steps as f64
    );
}

fn head(c: &mut Criterion) {
    if let Ok(spec) = std::env::var("GM_BENCH_PROFILE") {
        profile(&spec);
        return;
    }
    if std::env::var("GM_BENCH_MEMORY_ONLY").is_ok() {
        for (backend, device) in backends() {
            if backend != "wgpu" {
                memory_sweep(backend, &device);
            }
        }
        return;
    }
    for (backend, device) in backends() {
        for (b, d, k) in sizes() {
            let problem = Problem::new(&device, b, d, k);
            // Per-iteration times of every sample, as criterion took them.
            let samples: Arc<Mutex<HashMap<&str, Vec<f64>>>> = Arc::default();
            let mut group = c.benchmark_group(format!("head_{backend}_B{b}_D{d}_K{k}"));
            let heavy = b * d * k >= 256 * 512 * 1000;
            if heavy {
                group
                    .sampling_mode(SamplingMode::Flat)
                    .sample_size(10)
                    .warm_up_time(Duration::from_secs(1))
                    .measurement_time(Duration::from_secs(5));
            }
            let mut memory = Vec::new();
            for candidate in CANDIDATES {
                if candidate == "naive" && b * k * d * 4 > NAIVE_LIMIT {
                    println!(
                        "{candidate}: [B, K, D] would take {}; skipped",
                        mib(b * k * d * 4)
                    );
                    continue;
                }
                let recorded = samples.clone();
                group.bench_function(candidate, |bench| {
                    bench.iter_custom(|iters| {
                        let start = Instant::now();
                        for _ in 0..iters {
                            problem.step(candidate);
                        }
                        let elapsed = start.elapsed();
                        recorded
                            .lock()
                            .unwrap()
                            .entry(candidate)
                            .or_default()
                            .push(elapsed.as_secs_f64() / iters as f64);
                        elapsed
                    })
                });
                if backend != "wgpu" {
                    memory.push((candidate, peak_bytes(|| problem.step(candidate))));
                }
            }
            group.finish();
            report(backend, (b, d, k), &samples.lock().unwrap(), &memory);
        }
        if backend != "wgpu" && std::env::var("GM_BENCH_SKIP_SWEEP").is_err() {
            memory_sweep(backend, &device);
        }
    }
}

fn report(
    backend: &str,
    (b, d, k): (usize, usize, usize),
    samples: &HashMap<&str, Vec<f64>>,
    memory: &[(&str, usize)],
) {
    let medians: HashMap<&str, f64> = samples
        .iter()
        .map(|(name, v)| (*name, median(v.clone())))
        .collect();
    println!("\n{backend}, B={b} D={d} K={k}: median per step, ratios from this run");
    println!("| candidate | median | × linear_ce | × floor | peak memory | × linear_ce |");
    println!("|---|---|---|---|---|---|");
    let base_memory = memory.iter().find(|(n, _)| *n == "linear_ce").map(|m| m.1);
    for name in CANDIDATES {
        let Some(&t) = medians.get(name) else {
            continue;
        };
        let mem = memory.iter().find(|(n, _)| *n == name).map(|m| m.1);
        println!(
            "| {name} | {:.3} ms | {:.2} | {:.2} | {} | {} |",
            1e3 * t,
            t / medians["linear_ce"],
            t / medians["floor"],
            mem.map_or("–".into(), mib),
            match (mem, base_memory) {
                (Some(m), Some(base)) if base > 0 => format!("{:.2}", m as f64 / base as f64),
                _ => "–".into(),
            }
        );
    }
}

/// Peak memory of one training step at B = 256, D = 512 as K grows: it must grow as
/// O(B·K + K·D), like Linear + CE.
fn memory_sweep(backend: &str, device: &Device) {
    println!("\n{backend}: peak memory of one step, B=256 D=512");
    println!(
        "| K | linear_ce | gm_identity | × linear_ce | gm_diagonal | × linear_ce | B·K + K·D floats |"
    );
    println!("|---|---|---|---|---|---|---|");
    for k in [1_000, 10_000, 100_000] {
        let problem = Problem::new(device, 256, 512, k);
        // Warm up once so that lazily created state is not counted.
        let mut peaks = HashMap::new();
        for candidate in ["linear_ce", "gm_identity", "gm_diagonal"] {
            problem.step(candidate);
            peaks.insert(candidate, peak_bytes(|| problem.step(candidate)));
        }
        let base = peaks["linear_ce"] as f64;
        println!(
            "| {k} | {} | {} | {:.2} | {} | {:.2} | {} |",
            mib(peaks["linear_ce"]),
            mib(peaks["gm_identity"]),
            peaks["gm_identity"] as f64 / base,
            mib(peaks["gm_diagonal"]),
            peaks["gm_diagonal"] as f64 / base,
            mib(4 * (256 * k + k * 512)),
        );
    }
}

criterion_group!(benches, head);
criterion_main!(benches);
