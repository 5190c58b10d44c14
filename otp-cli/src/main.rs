//! `otp-link`: the command line over `otp-core`.
//!
//! Thin by design: `cli` declares the arguments, `commands` makes one library
//! call per command and prints, and `main` maps every error to its one line
//! on stderr and its exit code, here and nowhere else.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cli;
mod commands;
mod input;

use std::process::ExitCode;

use clap::Parser;
use otp_core::Error as CoreError;

/// Everything a command can fail with.
#[derive(Debug)]
pub enum CliError {
    /// An error of the library.
    Core(CoreError),
    /// Bad arguments or input that clap could not catch; says what to do.
    Usage(String),
    /// Reading stdin or the terminal, or writing stdout, failed.
    Io(String),
    /// `exec` could not start the program.
    Exec {
        /// What happened.
        message: String,
        /// 127 when the program was not found, else 126.
        code: u8,
    },
}

impl From<CoreError> for CliError {
    fn from(e: CoreError) -> Self {
        CliError::Core(e)
    }
}

/// The exit code for each error (README and `--help` list them).
fn exit_code(error: &CliError) -> u8 {
    match error {
        CliError::Usage(_) => 2,
        CliError::Io(_) => 10,
        CliError::Exec { code, .. } => *code,
        CliError::Core(e) => match e {
            CoreError::MalformedKey { .. }
            | CoreError::MismatchedKeys { .. }
            | CoreError::MalformedLegacyKey { .. } => 3,
            CoreError::AuthenticationFailed | CoreError::LegacyKeyRejected { .. } => 4,
            CoreError::UnknownRecord { .. } | CoreError::UnknownAccount { .. } => 5,
            CoreError::AccountExists { .. } => 6,
            CoreError::StoreMissing { .. } => 7,
            CoreError::StoreCorrupt { .. }
            | CoreError::UnsupportedVersion { .. }
            | CoreError::LegacyFile { .. } => 8,
            CoreError::InsecureStore { .. } => 9,
            e if e.is_permission_denied() => 9,
            CoreError::Io { .. } | CoreError::LockTimeout { .. } => 10,
            CoreError::ValueTooLong { .. }
            | CoreError::InvalidWidth { .. }
            | CoreError::InvalidAccountName { .. } => 11,
            CoreError::NoStoreLocation => 2,
            _ => 1,
        },
    }
}

fn message(error: &CliError) -> String {
    match error {
        CliError::Core(e) => e.to_string(),
        CliError::Usage(m) | CliError::Io(m) => m.clone(),
        CliError::Exec { message, .. } => message.clone(),
    }
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(error) => {
            // One line, whatever the message holds.
            let line = message(&error).replace(['\n', '\r'], " ");
            eprintln!("otp-link: {line}");
            ExitCode::from(exit_code(&error))
        }
    }
}
