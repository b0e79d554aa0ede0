//! The CIFAR binary archives: `cifar-10-batches-bin` (records of 1 label byte + 3072 pixel
//! bytes, files `data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`) and
//! `cifar-100-binary` (2 label bytes, coarse then fine, + 3072; files `train.bin`, `test.bin`).
//! Pixels are stored channel-major: 1024 red, 1024 green, 1024 blue, each 32×32 row-major.

use std::io::Read;
use std::path::Path;

use super::DataError;

/// Pixel bytes per image.
pub const IMAGE_BYTES: usize = 3 * 32 * 32;

/// Which archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dataset {
    /// 10 classes, one label byte per record.
    Cifar10,
    /// 100 fine classes, two label bytes per record (coarse, fine); the fine label is used.
    Cifar100,
}

impl Dataset {
    /// Label bytes before the pixels of each record.
    pub fn label_bytes(self) -> usize {
        match self {
            Dataset::Cifar10 => 1,
            Dataset::Cifar100 => 2,
        }
    }

    /// The number of classes.
    pub fn num_classes(self) -> usize {
        match self {
            Dataset::Cifar10 => 10,
            Dataset::Cifar100 => 100,
        }
    }

    /// The files of a split, relative to the directory given with `--data`.
    pub fn files(self, train: bool) -> Vec<&'static str> {
        match (self, train) {
            (Dataset::Cifar10, true) => vec![
                "data_batch_1.bin",
                "data_batch_2.bin",
                "data_batch_3.bin",
                "data_batch_4.bin",
                "data_batch_5.bin",
            ],
            (Dataset::Cifar10, false) => vec!["test_batch.bin"],
            (Dataset::Cifar100, true) => vec!["train.bin"],
            (Dataset::Cifar100, false) => vec!["test.bin"],
        }
    }
}

/// Images (`len × 3072` bytes, channel-major) and labels of one split.
#[derive(Debug, Clone, Default)]
pub struct Images {
    /// Pixel bytes.
    pub pixels: Vec<u8>,
    /// Labels.
    pub labels: Vec<u8>,
}

impl Images {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
}

/// Reads a split of `dataset` from `dir`.
pub fn read_split(dir: &Path, dataset: Dataset, train: bool) -> Result<Images, DataError> {
    let mut images = Images::default();
    for name in dataset.files(train) {
        read_file(&dir.join(name), dataset, &mut images)?;
    }
    Ok(images)
}

/// Appends the records of one file to `images`.
pub fn read_file(path: &Path, dataset: Dataset, images: &mut Images) -> Result<(), DataError> {
    let record = dataset.label_bytes() + IMAGE_BYTES;
    let mut file = std::fs::File::open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => DataError::Missing {
            path: path.to_path_buf(),
            hint: format!(
                "Download the binary version of {} from https://www.cs.toronto.edu/~kriz/cifar.html, \
                 extract it, and pass its directory ({}) with --data.",
                match dataset {
                    Dataset::Cifar10 => "CIFAR-10",
                    Dataset::Cifar100 => "CIFAR-100",
                },
                match dataset {
                    Dataset::Cifar10 => "cifar-10-batches-bin",
                    Dataset::Cifar100 => "cifar-100-binary",
                }
            ),
        },
        _ => DataError::Io {
            path: path.to_path_buf(),
            source,
        },
    })?;
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = file.metadata().map_err(io)?.len() as usize;
    if len == 0 || !len.is_multiple_of(record) {
        return Err(DataError::malformed(
            path,
            format!(
                "{len} bytes is not a whole number of {record}-byte records ({} label byte(s) + {IMAGE_BYTES} pixels)",
                dataset.label_bytes()
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(len);
    file.read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() != len {
        return Err(DataError::malformed(
            path,
            "the file changed size while it was read",
        ));
    }
    for (i, chunk) in bytes.chunks_exact(record).enumerate() {
        if dataset == Dataset::Cifar100 && chunk[0] >= 20 {
            return Err(DataError::malformed(
                path,
                format!("record {i}: coarse label {}, expected 0–19", chunk[0]),
            ));
        }
        let label = chunk[dataset.label_bytes() - 1];
        if label as usize >= dataset.num_classes() {
            return Err(DataError::malformed(
                path,
                format!(
                    "record {i}: label {label}, expected 0–{}",
                    dataset.num_classes() - 1
                ),
            ));
        }
        images.labels.push(label);
        images
            .pixels
            .extend_from_slice(&chunk[dataset.label_bytes()..]);
    }
    Ok(())
}
