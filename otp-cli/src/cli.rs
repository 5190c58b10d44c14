//! The command line, declared once with clap's derive API.
//!
//! Parsing, `--help`, the man page (`otp-link man`) and shell completions
//! (`otp-link completions SHELL`) all come from these types.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit codes, listed in `--help` and README.
pub const EXIT_CODES: &str = "\
Exit codes:
  0    success
  2    usage: bad arguments, flags or input lines; no store location; an
       export over the store it reads
  3    key malformed, or the two keys do not belong together
  4    authentication failed: wrong or rotated-away key, or altered store
  5    account unknown
  6    account already exists (use --replace), or export's output exists
       (use --force)
  7    store missing
  8    store (or legacy file) corrupt, of an unsupported version, or not a
       regular file
  9    permission: store readable by others (a store of root's may be
       readable by its group) or owned by another user, a planted lock,
       temporary file or export output link, or access denied
  10   other input/output error (disk full, stdout lost), the store lock was
       busy too long, a change could not be put (durably) into effect, the
       store is read-only (a systemd credential, a Secret volume), the
       audit log cannot be written, or the clock reads before 1970
  11   value rejected: too long for the width, a NUL byte, not UTF-8, an
       invalid account name, a store that would pass 64 MiB, or an expiry
       that is not in the future
  12   keys used up or expired: the account's not-after time has passed
       (extend it with rotate --expires-in, or secure-account --replace);
       launch keys used up, expired or revoked (issue new ones)
  1    any other failure
  126  exec: the program could not be run; 127: it was not found
  130  interrupted with Ctrl-C at a prompt";

/// Hand database and service credentials to non-interactive programs without
/// ever writing them down in the clear.
///
/// An administrator secures an account once; otp-link seals the username and
/// the password each with its own one-time pad into the store and prints two
/// keys. A host starts child programs with only the keys; the child recovers
/// the credentials with `otp-link recover`, `otp-link exec` or the Rust
/// library.
#[derive(Parser, Debug)]
#[command(name = "otp-link", version, after_help = EXIT_CODES, max_term_width = 100)]
pub struct Cli {
    /// The store file [default: $OTP_LINK_STORE, else the systemd credential
    /// $CREDENTIALS_DIRECTORY/otp-link-store if it exists, else the per-user
    /// data directory, e.g. ~/.local/share/otp-link/store.cbor]
    #[arg(long, global = true, value_name = "PATH")]
    pub store: Option<PathBuf>,

    /// Append a record of every use of an account to this audit log (one
    /// JSON line each, never a secret); the command fails (exit 10) before
    /// it releases or changes anything when the log cannot be written
    /// [default: $OTP_LINK_AUDIT, else none]
    #[arg(long, global = true, value_name = "PATH")]
    pub audit: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Seal an account's username and password and print its two keys.
    ///
    /// On a terminal, asks for the username and the password (twice) without
    /// echo; otherwise reads one line each from stdin. With --batch, reads
    /// JSON lines {"account", "username", "password"} and secures them all in
    /// one write, all or nothing.
    SecureAccount(SecureAccount),
    /// Print the credentials two keys open.
    Recover(Recover),
    /// Run a program with the credentials in its environment.
    ///
    /// On Unix otp-link replaces itself with PROGRAM; elsewhere it waits and
    /// passes PROGRAM's exit status through.
    Exec(Exec),
    /// List the accounts: names, widths, creation, rotation and expiry times.
    List(List),
    /// Re-seal an account under new pads and print its new keys; the old keys
    /// stop working.
    Rotate(Rotate),
    /// Remove an account; its keys stop working.
    Remove(Remove),
    /// Remove every account that has expired, and say which; and every dead
    /// launch record (used up, expired or revoked), and say how many.
    ///
    /// Expiry is enforced by otp-link and the clock, not by the mathematics:
    /// whoever holds both halves could still XOR them. Removing an expired
    /// account's ciphertexts is what makes it unrecoverable for good.
    Prune(Prune),
    /// Check that two keys open an account of the store and print its name
    /// (launch keys spend no use).
    Verify(Verify),
    /// Write a new store holding only the named accounts, for one host.
    ///
    /// Their entries are copied byte for byte, so the keys already issued
    /// for them open them in the new store, and no other key does. Nothing
    /// is decrypted and no key is printed. The new file is mode 0600; ship it
    /// with the owner, group and mode the host needs (README: "Many hosts").
    Export(Export),
    /// Issue launch keys: a pair that opens the account's credentials at
    /// most --uses times and only within --ttl, then never again.
    ///
    /// Takes the account's own keys and prints two launch keys like
    /// secure-account. A host issues a pair just before it starts each
    /// child, so a key read from ps is worth nothing once the child has used
    /// it. Rotate, secure-account --replace and remove revoke them.
    Issue(Issue),
    /// Import an account from a Secure-Python-Link account file.
    ImportLegacy(ImportLegacy),
    /// Print a shell completion script.
    Completions(Completions),
    /// Print the man page (roff) to stdout.
    Man,
}

/// Output formats for commands that print keys.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeysFormat {
    /// The user key, then the password key, one per line.
    Text,
    /// One JSON object {"account", "user_key", "pass_key"}.
    Json,
}

/// Output formats for recover.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoverFormat {
    /// The username, then the password, one per line.
    Text,
    /// One JSON object {"username", "password"}.
    Json,
    /// `export` lines, quoted so any value is safe to `eval`.
    Shell,
}

/// Which value `recover --field` prints.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldArg {
    /// The username.
    Username,
    /// The password.
    Password,
}

/// Output formats for list.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    /// A table.
    Text,
    /// A JSON array.
    Json,
}

/// Where the two keys come from.
#[derive(Args, Debug)]
pub struct KeyArgs {
    /// The user key; `-` reads it from stdin.
    #[arg(value_name = "USER_KEY", required_unless_present = "keys_env")]
    pub user_key: Option<String>,
    /// The password key; `-` reads it from stdin.
    #[arg(value_name = "PASS_KEY", required_unless_present = "keys_env")]
    pub pass_key: Option<String>,
    /// Read both keys, separated by whitespace, from this environment variable
    /// instead of the command line.
    #[arg(long, value_name = "VAR", conflicts_with_all = ["user_key", "pass_key"])]
    pub keys_env: Option<String>,
}

/// When an account stops opening: options of the commands that seal.
#[derive(Args, Debug)]
pub struct ExpiryArgs {
    /// Make the account expire DURATION from now: 90d, 12h, 30m, 45s, or
    /// several (1d12h); afterwards its keys fail with exit 12.
    #[arg(long, value_name = "DURATION", value_parser = crate::expiry::parse_duration,
          conflicts_with_all = ["not_after", "no_expiry"])]
    pub expires_in: Option<u64>,
    /// Make the account expire at TIMESTAMP (RFC 3339 with an offset, e.g.
    /// 2027-03-01T00:00:00Z); it opens up to and including that second.
    #[arg(long, value_name = "TIMESTAMP", value_parser = crate::expiry::parse_timestamp,
          conflicts_with = "no_expiry")]
    pub not_after: Option<u64>,
    /// Remove the account's expiry (rotate and --replace keep it otherwise).
    #[arg(long)]
    pub no_expiry: bool,
}

/// Options shared by commands that seal.
#[derive(Args, Debug)]
pub struct WidthArg {
    /// Frame width W: values of up to W-2 bytes fit (3..=101).
    #[arg(long, value_name = "W", default_value_t = otp_core::DEFAULT_WIDTH as u8,
          value_parser = clap::value_parser!(u8).range(otp_core::MIN_WIDTH as i64..=otp_core::MAX_WIDTH as i64))]
    pub width: u8,
}

/// `secure-account`.
#[derive(Args, Debug)]
pub struct SecureAccount {
    /// The account's name, a label for list and remove (not a secret).
    #[arg(required_unless_present = "batch", conflicts_with = "batch")]
    pub account: Option<String>,
    #[command(flatten)]
    pub width: WidthArg,
    #[command(flatten)]
    pub expiry: ExpiryArgs,
    /// Replace an existing account's credentials and issue new keys; the old
    /// keys stop working.
    #[arg(long, conflicts_with = "batch")]
    pub replace: bool,
    /// Read JSON lines {"account", "username", "password"} (and optionally
    /// "not_after", an RFC 3339 time, over the expiry options) from stdin
    /// and print one JSON line {"account", "user_key", "pass_key"} for each.
    #[arg(long)]
    pub batch: bool,
    /// How to print the keys.
    #[arg(long, value_enum, default_value_t = KeysFormat::Text, conflicts_with = "batch")]
    pub format: KeysFormat,
}

/// `recover`.
#[derive(Args, Debug)]
pub struct Recover {
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RecoverFormat::Text)]
    pub format: RecoverFormat,
    /// Print only this value, alone.
    #[arg(long, value_enum, conflicts_with = "format")]
    pub field: Option<FieldArg>,
    /// Variable name for the username in --format shell.
    #[arg(long, value_name = "NAME", default_value = "OTP_LINK_USERNAME")]
    pub user_var: String,
    /// Variable name for the password in --format shell.
    #[arg(long, value_name = "NAME", default_value = "OTP_LINK_PASSWORD")]
    pub pass_var: String,
}

/// `exec`.
#[derive(Args, Debug)]
pub struct Exec {
    /// The environment variable that receives the username.
    #[arg(long, value_name = "NAME", default_value = "OTP_LINK_USERNAME")]
    pub user_var: String,
    /// The environment variable that receives the password.
    #[arg(long, value_name = "NAME", default_value = "OTP_LINK_PASSWORD")]
    pub pass_var: String,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// The program to run, and its arguments.
    #[arg(last = true, required = true, value_name = "PROGRAM")]
    pub program: Vec<std::ffi::OsString>,
}

/// `list`.
#[derive(Args, Debug)]
pub struct List {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Text)]
    pub format: ListFormat,
    /// List only the accounts that expire within DURATION from now (90d,
    /// 12h, 30m, 45s), and those that have expired: for a monitoring job.
    #[arg(long, value_name = "DURATION", value_parser = crate::expiry::parse_duration)]
    pub expiring_within: Option<u64>,
}

/// `prune`.
#[derive(Args, Debug)]
pub struct Prune {}

/// `rotate`.
#[derive(Args, Debug)]
pub struct Rotate {
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub expiry: ExpiryArgs,
    /// How to print the new keys.
    #[arg(long, value_enum, default_value_t = KeysFormat::Text)]
    pub format: KeysFormat,
}

/// `remove`.
#[derive(Args, Debug)]
pub struct Remove {
    /// The account to remove.
    pub account: String,
}

/// `verify`.
#[derive(Args, Debug)]
pub struct Verify {
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// `export`.
#[derive(Args, Debug)]
pub struct Export {
    /// The accounts to copy.
    #[arg(required = true, value_name = "ACCOUNT")]
    pub accounts: Vec<String>,
    /// The new store file; refused if it exists, unless --force.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    /// Replace FILE when it is an existing otp-link store.
    #[arg(long)]
    pub force: bool,
}

/// `issue`.
#[derive(Args, Debug)]
pub struct Issue {
    #[command(flatten)]
    pub keys: KeyArgs,
    /// How many times the launch keys open the credentials (1 to 1000000).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(otp_core::MAX_USES)))]
    pub uses: u32,
    /// How long they do: a number and a unit, d, h, m or s (30s, 5m, 2h,
    /// 1d); at most 7d.
    #[arg(long, value_name = "DURATION", default_value = "60s",
          value_parser = crate::expiry::parse_ttl)]
    pub ttl: Duration,
    /// How to print the launch keys (json adds "uses" and "not_after").
    #[arg(long, value_enum, default_value_t = KeysFormat::Text)]
    pub format: KeysFormat,
}

/// `import-legacy`.
#[derive(Args, Debug)]
pub struct ImportLegacy {
    /// The Secure-Python-Link account file (a pickle; never executed, never
    /// modified).
    pub file: PathBuf,
    /// The old user key (quote it: it may hold $ ! & * ? #).
    pub legacy_user_key: String,
    /// The old password key.
    pub legacy_pass_key: String,
    /// The name of the new account.
    #[arg(long, value_name = "NAME")]
    pub account: String,
    #[command(flatten)]
    pub width: WidthArg,
    #[command(flatten)]
    pub expiry: ExpiryArgs,
    /// How to print the new keys.
    #[arg(long, value_enum, default_value_t = KeysFormat::Text)]
    pub format: KeysFormat,
}

/// `completions`.
#[derive(Args, Debug)]
pub struct Completions {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
