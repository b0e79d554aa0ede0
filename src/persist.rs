//! Saving and loading a [`GmLoss`] with its configuration, with typed errors.

use std::path::Path;

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Device;

use crate::{GmLoss, GmLossConfig, GmLossError};

impl GmLossConfig {
    /// Reads a configuration saved with `Config::save` (JSON) and validates every value, as
    /// [`try_init`](Self::try_init) would.
    pub fn try_load(path: impl AsRef<Path>) -> Result<Self, GmLossError> {
        let path = path.as_ref();
        let config = <Self as Config>::load(path).map_err(|err| GmLossError::ConfigFile {
            path: path.display().to_string(),
            reason: err.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }
}

impl GmLoss {
    /// Writes the configuration (`<stem>.json`) and the weights (`<stem>.bpk`, Burn's
    /// burnpack format) next to each other.
    pub fn save(&self, stem: impl AsRef<Path>) -> Result<(), GmLossError> {
        let stem = stem.as_ref();
        let config_path = stem.with_extension("json");
        self.config()
            .save(&config_path)
            .map_err(|err| GmLossError::ConfigFile {
                path: config_path.display().to_string(),
                reason: err.to_string(),
            })?;
        let weights_path = stem.with_extension("bpk");
        self.clone()
            .save_file(&weights_path)
            .map_err(|err| GmLossError::RecordFile {
                path: weights_path.display().to_string(),
                reason: err.to_string(),
            })
    }

    /// Reads what [`save`](Self::save) wrote: validates the configuration, builds the module on
    /// `device`, and loads the weights, which must match it exactly — a record with other
    /// shapes, a missing or extra log-variance tensor, or a truncated file is an error, never
    /// a partial load. The iteration counter starts at 0 (see [`GmLoss::set_iteration`]).
    pub fn try_load(stem: impl AsRef<Path>, device: &Device) -> Result<Self, GmLossError> {
        let stem = stem.as_ref();
        let config = GmLossConfig::try_load(stem.with_extension("json"))?;
        let weights_path = stem.with_extension("bpk");
        config
            .try_init(device)?
            .try_load_file(&weights_path)
            .map_err(|err| GmLossError::RecordFile {
                path: weights_path.display().to_string(),
                reason: err.to_string(),
            })
    }
}
