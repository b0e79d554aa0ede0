//! The IDX format of MNIST and Fashion-MNIST (optionally gzip-compressed):
//! bytes 0–1 zero, byte 2 the element type (0x08 = unsigned byte, the only one these data sets
//! use), byte 3 the number of dimensions n, then n big-endian u32 sizes, then the elements.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::DataError;

/// The largest data set a reader accepts: 2³¹ elements (full MNIST is 47 million bytes).
const MAX_ELEMENTS: u64 = 1 << 31;

/// A decoded IDX array of bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    /// The sizes of the dimensions.
    pub dims: Vec<usize>,
    /// The elements, row-major.
    pub data: Vec<u8>,
}

/// Reads an IDX file; a `.gz` name (or gzip magic) is decompressed on the fly.
pub fn read(path: &Path) -> Result<IdxArray, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => DataError::Missing {
            path: path.to_path_buf(),
            hint: "Expected an IDX file such as train-images-idx3-ubyte(.gz).".into(),
        },
        _ => io(source),
    })?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).map_err(io)?;
    let head = std::io::Cursor::new(magic[..n].to_vec());
    if n == 2 && magic == [0x1f, 0x8b] {
        parse(flate2::read::GzDecoder::new(head.chain(file)), path)
    } else {
        parse(head.chain(file), path)
    }
}

/// Parses IDX content from `reader`; `path` names it in errors.
pub fn parse(mut reader: impl Read, path: &Path) -> Result<IdxArray, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut header = [0u8; 4];
    read_exactly(
        &mut reader,
        &mut header,
        path,
        "the 4-byte IDX magic number",
    )?;
    if header[0] != 0 || header[1] != 0 {
        return Err(DataError::malformed(
            path,
            format!(
                "not an IDX file: magic number {:02x} {:02x} {:02x} {:02x}, expected 00 00 08 0n",
                header[0], header[1], header[2], header[3]
            ),
        ));
    }
    if header[2] != 0x08 {
        return Err(DataError::malformed(
            path,
            format!(
                "element type 0x{:02x}, expected 0x08 (unsigned byte)",
                header[2]
            ),
        ));
    }
    let rank = header[3] as usize;
    if rank == 0 || rank > 4 {
        return Err(DataError::malformed(
            path,
            format!("{rank} dimensions, expected 1 to 4"),
        ));
    }
    let mut dims = Vec::with_capacity(rank);
    let mut total: u64 = 1;
    for i in 0..rank {
        let mut size = [0u8; 4];
        read_exactly(
            &mut reader,
            &mut size,
            path,
            &format!("the size of dimension {i}"),
        )?;
        let size = u32::from_be_bytes(size) as u64;
        total = total.saturating_mul(size);
        dims.push(size as usize);
    }
    if total > MAX_ELEMENTS {
        return Err(DataError::malformed(
            path,
            format!(
                "header declares {dims:?} = {total} elements, more than the {MAX_ELEMENTS} accepted"
            ),
        ));
    }
    // Read at most one byte more than declared: enough to detect extra bytes, never more.
    let mut data = Vec::new();
    reader.take(total + 1).read_to_end(&mut data).map_err(io)?;
    match (data.len() as u64).cmp(&total) {
        std::cmp::Ordering::Less => Err(DataError::malformed(
            path,
            format!(
                "truncated: header declares {dims:?} = {total} bytes of data, found {}",
                data.len()
            ),
        )),
        std::cmp::Ordering::Greater => Err(DataError::malformed(
            path,
            format!("more data than the header's {dims:?} = {total} bytes"),
        )),
        std::cmp::Ordering::Equal => Ok(IdxArray { dims, data }),
    }
}

fn read_exactly(
    reader: &mut impl Read,
    buf: &mut [u8],
    path: &Path,
    what: &str,
) -> Result<(), DataError> {
    reader.read_exact(buf).map_err(|err| match err.kind() {
        std::io::ErrorKind::UnexpectedEof => {
            DataError::malformed(path, format!("truncated: the file ends inside {what}"))
        }
        _ => DataError::Io {
            path: path.to_path_buf(),
            source: err,
        },
    })
}

/// One split of an MNIST-layout directory: 28×28 images (row-major bytes) and labels 0–9.
#[derive(Debug, Clone)]
pub struct Digits {
    /// `len × 784` pixel bytes.
    pub images: Vec<u8>,
    /// One label per image.
    pub labels: Vec<u8>,
}

impl Digits {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
}

/// Reads `{prefix}-images-idx3-ubyte[.gz]` and `{prefix}-labels-idx1-ubyte[.gz]` from `dir`
/// (`prefix` is `train` or `t10k`), checking shapes, counts and labels.
pub fn read_split(dir: &Path, prefix: &str) -> Result<Digits, DataError> {
    let images_path = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let images = read(&images_path)?;
    let labels = read(&labels_path)?;
    if images.dims.len() != 3 || images.dims[1..] != [28, 28] {
        return Err(DataError::malformed(
            &images_path,
            format!("images of shape {:?}, expected [n, 28, 28]", images.dims),
        ));
    }
    if labels.dims.len() != 1 || labels.dims[0] != images.dims[0] {
        return Err(DataError::malformed(
            &labels_path,
            format!(
                "labels of shape {:?}, expected [{}] (one per image)",
                labels.dims, images.dims[0]
            ),
        ));
    }
    if let Some((i, &label)) = labels.data.iter().enumerate().find(|&(_, &l)| l > 9) {
        return Err(DataError::malformed(
            &labels_path,
            format!("label {label} at index {i}, expected 0–9"),
        ));
    }
    Ok(Digits {
        images: images.data,
        labels: labels.data,
    })
}

/// `dir/name.gz` or `dir/name`, whichever exists.
fn find(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let gz = dir.join(format!("{name}.gz"));
    let raw = dir.join(name);
    if gz.exists() {
        Ok(gz)
    } else if raw.exists() {
        Ok(raw)
    } else {
        Err(DataError::Missing {
            path: raw,
            hint: format!(
                "Expected {name} or {name}.gz in {}: the standard MNIST layout (Fashion-MNIST: \
                 apt-get install dataset-fashion-mnist, then --data /usr/share/datasets/fashion-mnist).",
                dir.display()
            ),
        })
    }
}
