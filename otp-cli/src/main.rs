//! `otp-link`: the command line over `otp-core`.
//!
//! Thin by design: `cli` declares the arguments, `commands` makes one library
//! call per command and prints, and `main` turns every error — clap's
//! included — into its one line on stderr and its exit code, here and
//! nowhere else. The library's errors carry their exit code
//! ([`otp_core::Error::exit_code`]); the CLI adds only its own few.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cli;
mod commands;
mod expiry;
mod input;
mod trail;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use otp_core::Error as CoreError;

/// Everything a command can fail with.
#[derive(Debug)]
pub enum CliError {
    /// An error of the library.
    Core(CoreError),
    /// Bad arguments or input that clap could not catch; says what to do.
    Usage(String),
    /// Input values refused before they reach the library: over-long or
    /// non-UTF-8 value lines.
    Rejected(String),
    /// Reading stdin or the terminal, or writing stdout, failed.
    Io(String),
    /// The operator pressed Ctrl-C at a prompt.
    Interrupted,
    /// The library refused the account on this line of a `--batch`.
    BatchLine {
        /// The line's number, from 1.
        line: usize,
        /// Why.
        error: CoreError,
    },
    /// `exec` could not start the program.
    Exec {
        /// What happened.
        message: String,
        /// 127 when the program was not found, else 126.
        code: u8,
    },
    /// A command failed, and its failure record could not be written to
    /// the audit log either.
    Unrecorded {
        /// How the command failed.
        error: Box<CliError>,
        /// Why the record could not be written.
        problem: String,
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
        CliError::Core(e) => e.exit_code(),
        CliError::Usage(_) => 2,
        CliError::Io(_) => 10,
        CliError::Rejected(_) => 11,
        CliError::Interrupted => 130,
        CliError::BatchLine { error, .. } => error.exit_code(),
        CliError::Exec { code, .. } => *code,
        CliError::Unrecorded { error, .. } => exit_code(error),
    }
}

fn message(error: &CliError) -> String {
    match error {
        CliError::Core(e) => e.to_string(),
        CliError::Usage(m) | CliError::Rejected(m) | CliError::Io(m) => m.clone(),
        CliError::Interrupted => "interrupted at the prompt; nothing was changed".into(),
        CliError::BatchLine { line, error } => {
            format!("line {line} of the batch: {error}; nothing was secured")
        }
        CliError::Exec { message, .. } => message.clone(),
        CliError::Unrecorded { error, problem } => format!(
            "{}; and its failure could not be recorded: {problem}",
            message(error)
        ),
    }
}

/// Prints one error line: newlines folded, control and format characters
/// escaped, so what reaches a log or a terminal is exactly one plain line.
fn report(message: &str, code: u8) -> ExitCode {
    let line = message.replace(['\n', '\r'], " ");
    note(&otp_core::printable(&line));
    ExitCode::from(code)
}

/// Writes `otp-link: LINE` to stderr. Never panics: a closed or full stderr
/// (`2>/dev/full`) loses the line, not the command's result.
pub fn note(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "otp-link: {line}");
}

fn main() -> ExitCode {
    // Before anything is read: a typed password, a key on stdin and the keys
    // on the command line are secrets, and another process of this user must
    // not read them from /proc/PID/mem or attach to this one.
    otp_core::harden_process();
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    match commands::run(cli) {
        Ok(code) => code,
        Err(error) => report(&message(&error), exit_code(&error)),
    }
}

/// Help and version go to stdout as clap renders them; every other clap
/// error becomes one line, exit 2, with any argument that could be a key
/// replaced by a placeholder: clap quotes the argument it stumbled on, and
/// stderr ends up in logs.
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            return match e.print() {
                Ok(()) => ExitCode::SUCCESS,
                Err(io) => report(&format!("writing to stdout failed: {io}"), 10),
            };
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            return report(
                "no command given; run 'otp-link --help' to list the commands",
                2,
            );
        }
        _ => {}
    }
    let rendered = e.render().to_string();
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    report(&usage_line(&rendered, &args), 2)
}

/// clap's rendered error as one line: its first paragraph (the error and
/// its notes; a list after a colon joined with commas), redacted, and where
/// to read the usage of the command that was given.
fn usage_line(rendered: &str, args: &[String]) -> String {
    let mut text = String::new();
    let mut listing = false;
    for line in rendered.lines().map(str::trim) {
        if line.is_empty() {
            if text.is_empty() {
                continue;
            }
            break;
        }
        let line = line.strip_prefix("error: ").unwrap_or(line);
        if text.is_empty() {
            text.push_str(line);
        } else if listing && !line.ends_with(':') && !line.starts_with("tip:") {
            text.push_str(if text.ends_with(':') { " " } else { ", " });
            text.push_str(line);
            continue;
        } else {
            text.push_str("; ");
            text.push_str(line);
        }
        listing = line.ends_with(':');
    }
    let command = cli::Cli::command();
    let subcommand = args.iter().find_map(|arg| {
        command
            .get_subcommands()
            .find(|sub| sub.get_name() == arg)
            .map(|sub| sub.get_name().to_owned())
    });
    let help = match subcommand {
        Some(name) => format!("otp-link {name}"),
        None => "otp-link".into(),
    };
    format!("{}; run '{help} --help' for usage", redact(&text, args))
}

/// Replaces every argument that could be a secret with `[redacted]`: any
/// that looks like a key of either format, and any long word that is not an
/// option or a path. Then, whatever the arguments were, any word of the
/// message that starts like an otp-link key.
fn redact(message: &str, args: &[String]) -> String {
    let mut out = message.to_owned();
    let mut candidates: Vec<&str> = Vec::new();
    for arg in args {
        candidates.push(arg);
        if let Some((_, value)) = arg.split_once('=') {
            candidates.push(value);
        }
    }
    // Longest first, so a key is not half-replaced by a shorter argument.
    candidates.sort_by_key(|c| std::cmp::Reverse(c.len()));
    for candidate in candidates {
        if could_be_secret(candidate) {
            out = out.replace(candidate, "[redacted]");
        }
    }
    let mut redacted = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(at) = rest.to_ascii_lowercase().find("otp1-") {
        redacted.push_str(&rest[..at]);
        redacted.push_str("[redacted]");
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '`' | ','))
            .unwrap_or(tail.len());
        rest = &tail[end..];
    }
    redacted.push_str(rest);
    redacted
}

/// Whether a command-line word could be a key: an otp-link key, or a word
/// long enough to be a Secure-Python-Link key (25 characters) or a part of
/// one, that is not an option and not a path.
fn could_be_secret(word: &str) -> bool {
    let word = word.trim();
    word.to_ascii_lowercase().starts_with("otp1")
        || (word.chars().count() >= 8 && !word.starts_with('-') && !word.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clap_line(args: &[&str]) -> String {
        let error = cli::Cli::command()
            .try_get_matches_from(std::iter::once("otp-link").chain(args.iter().copied()))
            .unwrap_err();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        usage_line(&error.render().to_string(), &args)
    }

    const USER: &str = "otp1-u-00112233445566778899aabbccddeeff-5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef-deadbeef";
    const PASS: &str = "otp1-p-00112233445566778899aabbccddeeff-a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5-fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210-beefdead";

    #[test]
    fn clap_errors_never_show_a_key() {
        for args in [
            vec!["recover", USER, PASS, PASS],
            vec![USER, PASS],
            vec!["recover", "--field", USER, PASS],
            vec!["recover", &format!("--field={USER}"), PASS],
            vec![
                "import-legacy",
                "f.pkl",
                "aB3$xY9!kL2@mN5#pQ8&rS1*t",
                "x",
                "y",
                "z",
            ],
        ] {
            let line = clap_line(&args);
            for secret in &args[1..] {
                if could_be_secret(secret) {
                    assert!(!line.contains(secret), "{line}");
                }
            }
            assert!(
                !line.contains("5a5a5a5a") && !line.contains("a5a5a5a5"),
                "{line}"
            );
            assert!(!line.contains('\n'), "{line}");
            assert!(line.contains("--help"), "{line}");
        }
        let line = clap_line(&["recover", USER, PASS, PASS]);
        assert!(
            line.starts_with("unexpected argument '[redacted]' found"),
            "{line}"
        );
        assert!(
            line.ends_with("run 'otp-link recover --help' for usage"),
            "{line}"
        );
    }

    #[test]
    fn clap_errors_keep_what_is_not_secret() {
        let line = clap_line(&["list", "--format", "yaml"]);
        assert!(line.contains("'yaml'"), "{line}");
        assert!(line.contains("text, json"), "{line}");
        let line = clap_line(&["secure-account", "db", "--width", "500"]);
        assert!(line.contains("500"), "{line}");
    }
}
