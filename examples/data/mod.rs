//! Readers for the examples' data sets: MNIST-family IDX files and the CIFAR binary archives.
//!
//! Every failure is a [`DataError`] that names the file and what was wrong. Sizes are checked
//! against the header *before* anything is allocated, so a corrupt or hostile header cannot make
//! a reader allocate an absurd amount of memory, and a file with bytes missing or left over is
//! an error, never a silently truncated data set.

#![allow(dead_code)] // each example uses only its own reader

pub mod cifar;
pub mod idx;

use std::path::PathBuf;

/// What can go wrong reading a data file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file does not exist.
    #[error("{path}: file not found. {hint}")]
    Missing {
        /// The file.
        path: PathBuf,
        /// Where to get the data.
        hint: String,
    },
    /// Reading or decompressing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The content is not in the expected format.
    #[error("{path}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What was wrong, with the offending values.
        reason: String,
    },
}

impl DataError {
    pub(crate) fn malformed(path: &std::path::Path, reason: impl Into<String>) -> Self {
        DataError::Malformed {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}
