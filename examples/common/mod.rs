//! What the image examples share: flags, the two heads, the model wrapper burn-train trains,
//! a compact progress renderer, the training driver and the `--out` directory.
#![allow(dead_code)]

pub mod classifier;
pub mod cli;
pub mod head;
pub mod lenet;
pub mod plot;
pub mod progress;
pub mod resnet;
pub mod run;

/// The process exit code of an example's `run`: success, or the error on stderr and failure.
pub fn exit_code(result: Result<(), String>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
