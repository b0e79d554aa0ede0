//! A training step must leave nothing behind. Burn's autodiff keeps every recorded node that
//! hangs off a live parameter until a backward pass consumes it, so an output of `forward`
//! whose graph `loss.backward()` does not reach would pile up one graph per step (and make
//! each later backward pass slower). Here the heap is counted across many steps: after a
//! warm-up, the bytes still live after each step must not grow.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use burn::prelude::*;
use burn::tensor::Distribution;
use gm_loss::{Covariance, GmLossConfig};

/// Counts the bytes live on the heap.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Live bytes after `warm_up` steps and after `warm_up + steps` steps of training `forward`
/// on the same cached features every step. `read`: every output is read after
/// the backward pass, as a burn-train step does; else the other outputs are dropped unread.
fn live_bytes(device: &Device, covariance: Covariance, read: bool) -> [isize; 2] {
    let ad = device.clone().autodiff();
    ad.seed(3);
    let head = GmLossConfig::new(5, 8)
        .with_covariance(covariance)
        .init(&ad);
    // Cached features, as when a head is trained on a frozen backbone's outputs: one autodiff
    // tensor, which each step marks as requiring a gradient.
    let features = Tensor::<2>::random([16, 8], Distribution::Normal(0.0, 1.0), device).autodiff();
    let y = Tensor::<1, Int>::from_ints([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0], &ad);
    let step = || {
        let x = features.clone().require_grad();
        let out = head.forward(x.clone(), y.clone());
        let grads = out.loss.backward();
        let _ = (x.grad(&grads), head.means.grad(&grads));
        if read {
            let _ = (
                out.classification.into_scalar::<f32>(),
                out.likelihood.into_scalar::<f32>(),
            );
            let _ = out.logits.argmax(1).into_data();
        }
    };
    for _ in 0..20 {
        step();
    }
    let before = LIVE.load(Ordering::Relaxed);
    for _ in 0..200 {
        step();
    }
    [before, LIVE.load(Ordering::Relaxed)]
}

#[test]
fn training_steps_leave_no_graph_behind() {
    #[allow(deprecated)]
    for (name, device) in [("flex", Device::flex()), ("ndarray", Device::ndarray())] {
        for covariance in [Covariance::Identity, Covariance::Diagonal] {
            for read in [false, true] {
                let [before, after] = live_bytes(&device, covariance, read);
                let growth = after - before;
                eprintln!(
                    "{name} {covariance:?}, outputs read {read}: {growth} bytes more live after \
                     200 more steps"
                );
                // A graph left behind keeps at least the step's features (512 bytes here) and
                // its nodes: over 200 steps, hundreds of kB. Allow a few kB for lazily grown
                // caches.
                assert!(
                    growth < 8 * 1024,
                    "{name} {covariance:?}: {growth} bytes more live after 200 steps: the \
                     autodiff graph of an output is left behind every step"
                );
            }
        }
    }
}
