//! The examples' data readers (`examples/data/`) on small files written here: valid files, and
//! truncated, oversized-header, wrong-magic, wrong-type, extra-byte, bad-label and missing files,
//! each a clear error naming the file; plus random byte strings and random corruptions of valid
//! files, which must give `Ok` or an error — never a panic or a huge allocation.

#[path = "../examples/data/mod.rs"]
mod data;

use std::io::Write;
use std::path::{Path, PathBuf};

use data::cifar::{self, Dataset, IMAGE_BYTES};
use data::{DataError, idx};
use proptest::prelude::*;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gm-loss-data-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn malformed_reason(result: Result<idx::IdxArray, DataError>, file: &Path) -> String {
    match result {
        Err(DataError::Malformed { path, reason }) => {
            assert_eq!(path, file);
            reason
        }
        other => panic!("expected a Malformed error for {file:?}, got {other:?}"),
    }
}

#[test]
fn idx_valid_raw_and_gzip() {
    let dir = temp_dir("idx-ok");
    let data: Vec<u8> = (0..24).collect();
    let bytes = idx_bytes(&[2, 3, 4], &data);
    std::fs::write(dir.join("a"), &bytes).unwrap();
    std::fs::write(dir.join("a.gz"), gzip(&bytes)).unwrap();
    for name in ["a", "a.gz"] {
        let array = idx::read(&dir.join(name)).unwrap();
        assert_eq!(array.dims, vec![2, 3, 4]);
        assert_eq!(array.data, data);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn idx_bad_files_give_clear_errors() {
    let dir = temp_dir("idx-bad");
    let good = idx_bytes(&[2, 3], &[1, 2, 3, 4, 5, 6]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "empty",
            vec![],
            "the file ends inside the 4-byte IDX magic number",
        ),
        (
            "short-header",
            good[..6].to_vec(),
            "the file ends inside the size of dimension 0",
        ),
        (
            "truncated",
            good[..good.len() - 2].to_vec(),
            "truncated: header declares [2, 3] = 6 bytes of data, found 4",
        ),
        (
            "extra",
            [good.clone(), vec![9]].concat(),
            "more data than the header's [2, 3] = 6 bytes",
        ),
        (
            "magic",
            [vec![0x50, 0x4b], good[2..].to_vec()].concat(),
            "not an IDX file: magic number 50 4b 08 02",
        ),
        (
            "type",
            [vec![0, 0, 0x0d], good[3..].to_vec()].concat(),
            "element type 0x0d, expected 0x08",
        ),
        (
            "rank",
            [vec![0, 0, 8, 9], good[4..].to_vec()].concat(),
            "9 dimensions, expected 1 to 4",
        ),
        // 4 × 65535² elements: a header that would make a naive reader allocate 17 GB.
        (
            "oversized",
            idx_bytes(&[4, 65535, 65535], &[0; 16]),
            "more than the 2147483648 accepted",
        ),
        // Declares 2³¹ bytes exactly (accepted size) but holds 16: caught without allocating.
        (
            "huge-but-short",
            idx_bytes(&[32768, 65536], &[0; 16]),
            "truncated: header declares [32768, 65536] = 2147483648 bytes",
        ),
    ];
    for (name, bytes, expected) in &cases {
        for gz in [false, true] {
            let file = dir.join(if gz {
                format!("{name}.gz")
            } else {
                name.to_string()
            });
            std::fs::write(&file, if gz { gzip(bytes) } else { bytes.clone() }).unwrap();
            let reason = malformed_reason(idx::read(&file), &file);
            assert!(
                reason.contains(expected),
                "{name} (gz {gz}): {reason:?} lacks {expected:?}"
            );
        }
    }
    // A gzip stream cut short.
    let file = dir.join("cut.gz");
    let gz = gzip(&good);
    std::fs::write(&file, &gz[..gz.len() - 6]).unwrap();
    assert!(
        matches!(idx::read(&file), Err(DataError::Io { path, .. } | DataError::Malformed { path, .. }) if path == file)
    );
    // Missing.
    let err = idx::read(&dir.join("absent")).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains("absent: file not found"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn mnist_split_checks_shapes_counts_and_labels() {
    let dir = temp_dir("mnist");
    let write = |name: &str, bytes: Vec<u8>| std::fs::write(dir.join(name), gzip(&bytes)).unwrap();
    write(
        "t10k-images-idx3-ubyte.gz",
        idx_bytes(&[2, 28, 28], &[7; 2 * 784]),
    );
    write("t10k-labels-idx1-ubyte.gz", idx_bytes(&[2], &[3, 9]));
    let digits = idx::read_split(&dir, "t10k").unwrap();
    assert_eq!((digits.len(), digits.images.len()), (2, 1568));
    assert_eq!(digits.labels, vec![3, 9]);

    write("t10k-labels-idx1-ubyte.gz", idx_bytes(&[3], &[3, 9, 1]));
    let err = idx::read_split(&dir, "t10k").unwrap_err().to_string();
    assert!(err.contains("labels of shape [3], expected [2]"), "{err}");
    write("t10k-labels-idx1-ubyte.gz", idx_bytes(&[2], &[3, 10]));
    let err = idx::read_split(&dir, "t10k").unwrap_err().to_string();
    assert!(err.contains("label 10 at index 1"), "{err}");
    write(
        "t10k-images-idx3-ubyte.gz",
        idx_bytes(&[2, 28, 27], &[7; 2 * 756]),
    );
    let err = idx::read_split(&dir, "t10k").unwrap_err().to_string();
    assert!(
        err.contains("images of shape [2, 28, 27], expected [n, 28, 28]"),
        "{err}"
    );
    let err = idx::read_split(&dir, "train").unwrap_err();
    assert!(
        matches!(err, DataError::Missing { .. }) && err.to_string().contains("fashion-mnist"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn cifar_record(dataset: Dataset, label: u8, fill: u8) -> Vec<u8> {
    let mut r = match dataset {
        Dataset::Cifar10 => vec![label],
        Dataset::Cifar100 => vec![(label / 5).min(19), label],
    };
    r.extend(std::iter::repeat_n(fill, IMAGE_BYTES));
    r
}

#[test]
fn cifar_files_valid_and_bad() {
    let dir = temp_dir("cifar");
    for dataset in [Dataset::Cifar10, Dataset::Cifar100] {
        let top = (dataset.num_classes() - 1) as u8;
        let records = [cifar_record(dataset, 0, 1), cifar_record(dataset, top, 2)].concat();
        for name in dataset.files(false) {
            std::fs::write(dir.join(name), &records).unwrap();
        }
        let images = cifar::read_split(&dir, dataset, false).unwrap();
        assert_eq!(images.labels, vec![0, top]);
        assert_eq!(images.pixels.len(), 2 * IMAGE_BYTES);
        assert_eq!(images.pixels[IMAGE_BYTES], 2);

        let file = dir.join("bad.bin");
        let record = dataset.label_bytes() + IMAGE_BYTES;
        for (bytes, expected) in [
            (
                records[..records.len() - 1].to_vec(),
                format!(
                    "{} bytes is not a whole number of {record}-byte records",
                    2 * record - 1
                ),
            ),
            (
                vec![],
                format!("0 bytes is not a whole number of {record}-byte records"),
            ),
            (
                cifar_record(dataset, top + 1, 0),
                format!("record 0: label {}", top + 1),
            ),
        ] {
            std::fs::write(&file, bytes).unwrap();
            let err = cifar::read_file(&file, dataset, &mut Default::default()).unwrap_err();
            assert!(
                err.to_string().contains(&expected) && err.to_string().contains("bad.bin"),
                "{err}"
            );
        }
    }
    let err = cifar::read_split(&dir, Dataset::Cifar10, true).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err:?}");
    assert!(
        err.to_string().contains("data_batch_1.bin")
            && err.to_string().contains("cifar-10-batches-bin"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        rng_seed: proptest::test_runner::RngSeed::Fixed(7),
        ..ProptestConfig::default()
    })]

    /// Arbitrary bytes, raw or gzip-wrapped: the IDX reader returns, never panics.
    #[test]
    fn idx_reader_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..64), gz in any::<bool>()) {
        let dir = temp_dir("fuzz-random");
        let file = dir.join(if gz { "f.gz" } else { "f" });
        std::fs::write(&file, if gz { gzip(&bytes) } else { bytes }).unwrap();
        let _ = idx::read(&file);
    }

    /// Random corruptions of a valid file — a byte changed, the file cut or extended — give
    /// `Ok` only when the result is still consistent with its header.
    #[test]
    fn idx_reader_on_corrupted_files(pos in 0usize..40, value in any::<u8>(), cut in 0usize..40, extra in 0usize..3) {
        let dir = temp_dir("fuzz-corrupt");
        let mut bytes = idx_bytes(&[2, 2, 3], &[5; 12]);
        let pos = pos % bytes.len();
        bytes[pos] = value;
        bytes.truncate(bytes.len() - cut.min(bytes.len()) / 4);
        bytes.extend(std::iter::repeat_n(0u8, extra));
        let file = dir.join("c");
        std::fs::write(&file, &bytes).unwrap();
        if let Ok(array) = idx::read(&file) {
            prop_assert_eq!(array.data.len(), array.dims.iter().product::<usize>());
            prop_assert_eq!(array.data.len() + 4 + 4 * array.dims.len(), bytes.len());
        }
    }

    /// CIFAR files of arbitrary length and content: `Ok` exactly for whole records with valid
    /// labels.
    #[test]
    fn cifar_reader_on_random_files(records in 0usize..3, tail in 0usize..3, label in any::<u8>()) {
        let dir = temp_dir("fuzz-cifar");
        let mut bytes = Vec::new();
        for _ in 0..records {
            bytes.extend(cifar_record(Dataset::Cifar10, label, 3));
        }
        bytes.extend(std::iter::repeat_n(1u8, tail));
        let file = dir.join("r.bin");
        std::fs::write(&file, &bytes).unwrap();
        let result = cifar::read_file(&file, Dataset::Cifar10, &mut Default::default());
        prop_assert_eq!(result.is_ok(), records > 0 && tail == 0 && label < 10);
    }
}
