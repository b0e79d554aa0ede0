//! The CIFAR example's network: ResNet-20 of He et al. (2016, §4.2) — a 3×3 convolution, then
//! three stages of three basic blocks (w, 2w, 4w channels at 32², 16², 8²), global average
//! pooling. The pooled 4w-vector is the feature the head sees (D = 64 at the usual w = 16).

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d, Relu};
use burn::prelude::*;

use super::classifier::Network;

fn conv(input: usize, output: usize, kernel: usize, stride: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([input, output], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            kernel / 2,
            kernel / 2,
            kernel / 2,
            kernel / 2,
        ))
        .with_bias(false)
        .init(device)
}

/// The 1×1 convolution + batch norm of a shortcut that changes shape.
#[derive(Module, Debug)]
struct Projection {
    conv: Conv2d,
    bn: BatchNorm,
}

/// Two 3×3 convolutions with batch norm and a residual connection (1×1 projection when the
/// shape changes).
#[derive(Module, Debug)]
struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    projection: Option<Projection>,
    relu: Relu,
}

impl BasicBlock {
    fn new(input: usize, output: usize, stride: usize, device: &Device) -> Self {
        let projection = (stride != 1 || input != output).then(|| Projection {
            conv: conv(input, output, 1, stride, device),
            bn: BatchNormConfig::new(output).init(device),
        });
        Self {
            conv1: conv(input, output, 3, stride, device),
            bn1: BatchNormConfig::new(output).init(device),
            conv2: conv(output, output, 3, 1, device),
            bn2: BatchNormConfig::new(output).init(device),
            projection,
            relu: Relu::new(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let shortcut = match &self.projection {
            Some(p) => p.bn.forward(p.conv.forward(x.clone())),
            None => x.clone(),
        };
        let y = self.relu.forward(self.bn1.forward(self.conv1.forward(x)));
        let y = self.bn2.forward(self.conv2.forward(y));
        self.relu.forward(y + shortcut)
    }
}

/// ResNet-20 (`blocks` = 3 per stage; 6n+2 layers in general).
#[derive(Module, Debug)]
pub struct ResNet {
    stem: Conv2d,
    stem_bn: BatchNorm,
    blocks: Vec<BasicBlock>,
    pool: AdaptiveAvgPool2d,
    relu: Relu,
}

impl ResNet {
    /// `blocks` basic blocks per stage, `width` channels in the first stage.
    pub fn new(blocks: usize, width: usize, device: &Device) -> Self {
        let mut layers = Vec::new();
        let mut channels = width;
        for stage in 0..3 {
            let output = width << stage;
            for block in 0..blocks {
                let stride = if stage > 0 && block == 0 { 2 } else { 1 };
                layers.push(BasicBlock::new(channels, output, stride, device));
                channels = output;
            }
        }
        Self {
            stem: conv(3, width, 3, 1, device),
            stem_bn: BatchNormConfig::new(width).init(device),
            blocks: layers,
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            relu: Relu::new(),
        }
    }
}

impl Network for ResNet {
    fn features(&self, images: Tensor<4>) -> Tensor<2> {
        let x = self
            .relu
            .forward(self.stem_bn.forward(self.stem.forward(images)));
        let x = self.blocks.iter().fold(x, |x, block| block.forward(x));
        self.pool.forward(x).flatten(1, 3)
    }
}
