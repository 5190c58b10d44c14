//! One function per command: read input, make one library call, print.
//!
//! A command that issues keys gets them as a [`Pending`] change, delivers
//! them — written, flushed and, for a file, synced — and only then commits
//! it ([`deliver`]): lost output, a full disk or a kill before the commit
//! leave the old keys working, and after it the new ones are already out.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::{Command as Process, ExitCode};

use clap::CommandFactory;
use otp_core::{printable, rfc3339, Credentials, Keys, Pending, Store};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::cli::{self, Cli, Command, FieldArg, KeyArgs, KeysFormat, ListFormat, RecoverFormat};
use crate::trail::Trail;
use crate::{expiry, input, CliError};

/// Runs the parsed command line: opens the audit log first, when one is
/// configured, so that no account is used that it does not record.
pub fn run(cli: Cli) -> Result<ExitCode, CliError> {
    let explicit = cli.store.clone();
    let store = move || -> Result<PathBuf, CliError> {
        match &explicit {
            Some(path) => Ok(path.clone()),
            None => Ok(otp_core::default_store_path()?),
        }
    };
    let mut trail = Trail::open(cli.audit.as_deref(), event(&cli.command), store().ok())?;
    match dispatch(cli.command, &store, &mut trail) {
        Ok(code) => Ok(code),
        Err(error) => Err(trail.failed(error)),
    }
}

/// The name a command's audit records carry, or `None` for the commands
/// that use no account.
fn event(command: &Command) -> Option<&'static str> {
    Some(match command {
        Command::SecureAccount(args) if args.batch => "secure-batch",
        Command::SecureAccount(args) if args.replace => "replace",
        Command::SecureAccount(_) => "secure-account",
        Command::Recover(_) => "recover",
        Command::Exec(_) => "exec",
        Command::Rotate(_) => "rotate",
        Command::Remove(_) => "remove",
        Command::Prune(_) => "prune",
        Command::Verify(_) => "verify",
        Command::Export(_) => "export",
        Command::Issue(_) => "issue",
        Command::ImportLegacy(_) => "import-legacy",
        Command::List(_) | Command::Completions(_) | Command::Man => return None,
    })
}

fn dispatch(
    command: Command,
    store: &dyn Fn() -> Result<PathBuf, CliError>,
    trail: &mut Trail,
) -> Result<ExitCode, CliError> {
    match command {
        Command::SecureAccount(args) if args.batch => {
            let not_after = args.expiry.not_after()?;
            secure_batch(store()?, args.width.width, not_after, trail)
        }
        Command::SecureAccount(args) => {
            let store = Store::at(store()?);
            let account = args.account.unwrap_or_default();
            trail.account(&account);
            refuse_discarded_stdout()?;
            let credentials = input::credentials()?;
            let width = usize::from(args.width.width);
            let pending = if args.replace {
                store.replace_expiring(&account, &credentials, width, args.expiry.expiry()?)?
            } else {
                store.secure_account_expiring(
                    &account,
                    &credentials,
                    width,
                    args.expiry.not_after()?,
                )?
            };
            trail.record_id(pending.value().record_id());
            let out = keys_text(&account, pending.value(), args.format)?;
            deliver(pending, &out, trail)?;
            crate::note(
                "a host starts each child with the two keys as its arguments: PROGRAM USER_KEY PASS_KEY, or otp-link exec USER_KEY PASS_KEY -- PROGRAM"
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Recover(args) => {
            let keys = read_keys(&args.keys)?;
            trail.record_id(keys.record_id());
            let (name, credentials) = Store::at(store()?).open(&keys)?;
            trail.account(&name);
            let out = credentials_text(&credentials, &args)?;
            trail.released()?;
            write_out(&out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Exec(args) => exec(store()?, args, trail),
        Command::List(args) => {
            let listing = Store::at(store()?).list()?;
            print_accounts(&listing, &args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rotate(args) => {
            refuse_discarded_stdout()?;
            let keys = read_keys(&args.keys)?;
            trail.record_id(keys.record_id());
            let pending = Store::at(store()?).rotate_expiring(&keys, args.expiry.expiry()?)?;
            let (name, new_keys) = pending.value();
            trail.account(name);
            let out = keys_text(name, new_keys, args.format)?;
            deliver(pending, &out, trail)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Remove(args) => {
            trail.account(&args.account);
            let pending = Store::at(store()?).stage_remove(&args.account)?;
            trail.record_id(*pending.value());
            trail.attempt()?;
            pending.commit()?;
            trail.committed();
            crate::note(&format!(
                "removed account '{}'; its keys no longer work",
                printable(&args.account)
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::Prune(_) => prune(store()?, trail),
        Command::Verify(args) => {
            let keys = read_keys(&args.keys)?;
            trail.record_id(keys.record_id());
            let name = Store::at(store()?).verify(&keys)?;
            trail.account(&name);
            trail.released()?;
            write_out(format!("{}\n", printable(&name)).as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Export(args) => {
            let exported = Store::at(store()?).export(
                args.accounts.iter().map(String::as_str),
                &args.output,
                args.force,
            );
            let exported = match exported {
                Ok(exported) => exported,
                // Written and renamed into place; only the directory sync
                // failed.
                Err(e @ otp_core::Error::CommittedUnsynced { .. }) => {
                    crate::note(&format!("warning: {}", printable(&e.to_string())));
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => return Err(e.into()),
            };
            crate::note(&format!(
                "exported {} account{} to {} (sha256 {}); install it on the host with the owner, group and mode its children need",
                exported.accounts,
                if exported.accounts == 1 { "" } else { "s" },
                printable(&args.output.to_string_lossy()),
                hex::encode(exported.sha256)
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::Issue(args) => {
            refuse_discarded_stdout()?;
            let keys = read_keys(&args.keys)?;
            trail.record_id(keys.record_id());
            let limits = otp_core::LaunchLimits {
                uses: args.uses,
                ttl: args.ttl,
            };
            let pending = Store::at(store()?).issue(&keys, limits)?;
            trail.account(&pending.value().account);
            let out = launch_keys_text(pending.value(), args.format)?;
            deliver(pending, &out, trail)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::ImportLegacy(args) => {
            trail.account(&args.account);
            refuse_discarded_stdout()?;
            let user = args.legacy_user_key.parse()?;
            let pass = args.legacy_pass_key.parse()?;
            let pending = Store::at(store()?).import_legacy_expiring(
                &args.file,
                &user,
                &pass,
                &args.account,
                usize::from(args.width.width),
                args.expiry.not_after()?,
            )?;
            trail.record_id(pending.value().record_id());
            let out = keys_text(&args.account, pending.value(), args.format)?;
            deliver(pending, &out, trail)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions(args) => {
            let mut out = Vec::new();
            clap_complete::generate(args.shell, &mut Cli::command(), "otp-link", &mut out);
            write_out(&out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .map_err(|e| CliError::Io(format!("rendering the man page failed: {e}")))?;
            write_out(&out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `prune`: removes the expired accounts, in one write, and prints one line
/// for each on stdout, then one for the dead launch records when it removed
/// any; says so on stderr when nothing had expired.
fn prune(path: PathBuf, trail: &mut Trail) -> Result<ExitCode, CliError> {
    let pending = Store::at(path).prune()?;
    let pruned = pending.value().clone();
    let launch_line = match pruned.launch_records {
        0 => String::new(),
        1 => "removed 1 dead launch record\n".to_owned(),
        n => format!("removed {n} dead launch records\n"),
    };
    if pruned.accounts.is_empty() {
        drop(pending);
        trail.unchanged()?;
        if pruned.launch_records == 0 {
            crate::note(
                "no account has expired; nothing was removed (no launch record is dead either)",
            );
        }
        write_out(launch_line.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    trail.accounts(
        pruned
            .accounts
            .iter()
            .map(|a| (a.name.clone(), a.record_id)),
    );
    // Printed before the accounts go, as keys are: a report that cannot be
    // written removes nothing.
    let mut out = String::new();
    for account in &pruned.accounts {
        out.push_str(&format!(
            "removed account '{}', expired {}\n",
            printable(&account.name),
            otp_core::rfc3339(account.not_after)
        ));
    }
    out.push_str(&launch_line);
    deliver_then_commit(pending, out.as_bytes(), Delivered::PruneReport, trail)?;
    Ok(ExitCode::SUCCESS)
}

fn read_keys(args: &KeyArgs) -> Result<Keys, CliError> {
    let [user, pass] = input::key_texts(
        args.user_key.as_deref(),
        args.pass_key.as_deref(),
        args.keys_env.as_deref(),
    )?;
    Ok(Keys::parse(&user, &pass)?)
}

/// Writes to stdout, all at once; a closed pipe is an I/O error, not a panic.
fn write_out(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| CliError::Io(format!("writing to stdout failed: {e}")))
}

/// Stdout as a file of its own (a duplicate of descriptor 1), to look at
/// and sync.
fn stdout_file() -> io::Result<File> {
    input::file_of(&io::stdout())
}

/// Refuses to issue keys into `/dev/null`, before anything is read or
/// changed: they would be lost, and the account with them. This is also
/// what a closed stdout looks like, since the Rust runtime reopens a closed
/// descriptor 1 on `/dev/null`.
fn refuse_discarded_stdout() -> Result<(), CliError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let (Ok(out), Ok(null)) = (
            stdout_file().and_then(|f| f.metadata()),
            std::fs::metadata("/dev/null"),
        ) else {
            return Ok(());
        };
        if out.file_type().is_char_device() && out.rdev() == null.rdev() {
            return Err(CliError::Usage(
                "stdout is /dev/null (or was closed), so the new keys would be lost; send stdout to a file or a pipe; nothing was changed".into(),
            ));
        }
    }
    Ok(())
}

/// Delivers the keys of a pending change, then commits it. The keys are
/// written and flushed, and synced when stdout is a file, so that once the
/// store names the new keys they are on their way or on disk. A failed
/// write discards the change: the store stays as it was. The change's
/// attempt record goes to the audit log before the keys are written, its
/// success record after the commit (see [`Trail`]).
fn deliver<T>(pending: Pending<T>, keys: &[u8], trail: &mut Trail) -> Result<(), CliError> {
    deliver_then_commit(pending, keys, Delivered::Keys, trail)
}

/// What a change prints before it takes effect.
enum Delivered {
    /// The new keys: without them the change would lock the account out.
    Keys,
    /// `prune`'s list of what it removes: a report that would be lost.
    PruneReport,
}

/// [`deliver`] for any output that must reach stdout before the change it
/// reports takes effect: a failed write discards the change.
fn deliver_then_commit<T>(
    pending: Pending<T>,
    output: &[u8],
    delivered: Delivered,
    trail: &mut Trail,
) -> Result<(), CliError> {
    trail.attempt()?;
    let written = (|| {
        let mut out = io::stdout().lock();
        out.write_all(output)?;
        out.flush()?;
        let file = stdout_file()?;
        if file.metadata()?.is_file() {
            file.sync_data()?;
        }
        Ok::<(), io::Error>(())
    })();
    if let Err(e) = written {
        drop(pending);
        return Err(CliError::Io(match delivered {
            Delivered::Keys => format!(
                "writing the new keys to stdout failed: {e}; nothing was changed: the store is as it was and the previous keys still work"
            ),
            Delivered::PruneReport => format!(
                "writing what prune removes to stdout failed: {e}; no account was removed: the store is as it was"
            ),
        }));
    }
    match pending.commit() {
        Ok(_) => {}
        // The change is in effect and the keys just printed are the
        // account's: a failure exit here would invite a script to throw
        // away the only keys that work. Say so, and succeed.
        Err(e @ otp_core::Error::CommittedUnsynced { .. }) => {
            crate::note(&format!("warning: {}", printable(&e.to_string())));
        }
        Err(e) => return Err(e.into()),
    }
    trail.committed();
    Ok(())
}

fn json_line(value: &impl Serialize) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let mut out = Zeroizing::new(Vec::new());
    serde_json::to_writer(&mut *out, value)
        .map_err(|e| CliError::Io(format!("encoding JSON failed: {e}")))?;
    out.push(b'\n');
    Ok(out)
}

#[derive(Serialize)]
struct KeysJson<'a> {
    account: &'a str,
    user_key: &'a str,
    pass_key: &'a str,
}

fn keys_json(account: &str, keys: &Keys) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let user = keys.user().to_secret_text();
    let pass = keys.pass().to_secret_text();
    json_line(&KeysJson {
        account,
        user_key: user.expose_secret(),
        pass_key: pass.expose_secret(),
    })
}

#[derive(Serialize)]
struct LaunchKeysJson<'a> {
    account: &'a str,
    user_key: &'a str,
    pass_key: &'a str,
    uses: u32,
    not_after: String,
}

/// Launch keys as they are printed: as keys are, and in JSON with what
/// they are good for.
fn launch_keys_text(
    launch: &otp_core::LaunchKeys,
    format: KeysFormat,
) -> Result<Zeroizing<Vec<u8>>, CliError> {
    match format {
        KeysFormat::Text => keys_text(&launch.account, &launch.keys, format),
        KeysFormat::Json => {
            let user = launch.keys.user().to_secret_text();
            let pass = launch.keys.pass().to_secret_text();
            json_line(&LaunchKeysJson {
                account: &launch.account,
                user_key: user.expose_secret(),
                pass_key: pass.expose_secret(),
                uses: launch.uses,
                not_after: rfc3339(launch.not_after),
            })
        }
    }
}

/// The keys as they are printed.
fn keys_text(
    account: &str,
    keys: &Keys,
    format: KeysFormat,
) -> Result<Zeroizing<Vec<u8>>, CliError> {
    Ok(match format {
        KeysFormat::Json => keys_json(account, keys)?,
        KeysFormat::Text => {
            let user = keys.user().to_secret_text();
            let pass = keys.pass().to_secret_text();
            Zeroizing::new(
                format!("{}\n{}\n", user.expose_secret(), pass.expose_secret()).into_bytes(),
            )
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchLine {
    account: String,
    username: String,
    password: String,
    /// When the account expires, RFC 3339; the expiry options otherwise.
    #[serde(default)]
    not_after: Option<String>,
}

fn secure_batch(
    path: PathBuf,
    width: u8,
    default_not_after: Option<u64>,
    trail: &mut Trail,
) -> Result<ExitCode, CliError> {
    refuse_discarded_stdout()?;
    let width = usize::from(width);
    let mut accounts: Vec<(String, Credentials, Option<u64>)> = Vec::new();
    // The line each account came from, to name it when the library refuses
    // one.
    let mut line_numbers = Vec::new();
    let mut names = std::collections::HashSet::new();
    let mut lines = input::BatchLines::stdin()?;
    while let Some((number, line)) = lines.next_line()? {
        let parsed: BatchLine = serde_json::from_str(&line).map_err(|e| {
            CliError::Usage(format!(
                "line {number} of the batch is not {{\"account\", \"username\", \"password\"}} with an optional \"not_after\" ({}); nothing was secured",
                e.classify_message()
            ))
        })?;
        // A batch names each account once: a repeated line is a mistake in
        // the input, like bad JSON, not a clash with the store.
        if !names.insert(parsed.account.clone()) {
            return Err(CliError::Usage(format!(
                "line {number}: account '{}' appears twice in the batch; nothing was secured",
                printable(&parsed.account)
            )));
        }
        let BatchLine {
            account,
            username,
            password,
            not_after,
        } = parsed;
        let not_after = match not_after {
            Some(text) => Some(expiry::parse_timestamp(&text).map_err(|reason| {
                CliError::Usage(format!(
                    "line {number} of the batch: its not_after {reason}; nothing was secured"
                ))
            })?),
            None => default_not_after,
        };
        accounts.push((account, Credentials::new(username, password), not_after));
        line_numbers.push(number);
    }
    let pending = Store::at(path)
        .secure_batch_expiring(accounts.iter().map(|(n, c, t)| (n.as_str(), c, *t)), width)
        .map_err(|e| match e {
            otp_core::Error::BatchItem { index, source } => CliError::BatchLine {
                line: line_numbers[index],
                error: *source,
            },
            e => CliError::Core(e),
        })?;
    let mut out = Zeroizing::new(Vec::new());
    for ((name, _, _), keys) in accounts.iter().zip(pending.value()) {
        out.extend_from_slice(&keys_json(name, keys)?);
    }
    trail.accounts(
        accounts
            .iter()
            .zip(pending.value())
            .map(|((name, _, _), keys)| (name.clone(), keys.record_id())),
    );
    deliver(pending, &out, trail)?;
    Ok(ExitCode::SUCCESS)
}

trait ClassifyMessage {
    fn classify_message(&self) -> String;
}

impl ClassifyMessage for serde_json::Error {
    /// serde_json's message without the offending input (which may be a secret).
    fn classify_message(&self) -> String {
        match self.classify() {
            serde_json::error::Category::Io => "read error".into(),
            serde_json::error::Category::Syntax => {
                format!("invalid JSON at column {}", self.column())
            }
            serde_json::error::Category::Eof => "the line ends early".into(),
            serde_json::error::Category::Data => {
                "a field is missing, unknown, or not a string".into()
            }
        }
    }
}

/// Quotes a value for POSIX sh: single quotes, with `'` written as `'\''`.
fn shell_quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        if c == '\'' {
            quoted.push_str("'\\''");
        } else {
            quoted.push(c);
        }
    }
    quoted.push('\'');
    quoted
}

#[derive(Serialize)]
struct CredentialsJson<'a> {
    username: &'a str,
    password: &'a str,
}

/// Refuses one name for two variables: one of the values would be lost.
fn check_distinct_vars(names: &[(&str, &str)]) -> Result<(), CliError> {
    for (i, (a, a_option)) in names.iter().enumerate() {
        for (b, b_option) in &names[i + 1..] {
            if a == b {
                return Err(CliError::Usage(format!(
                    "{a_option} and {b_option} both name {a}, so one value would be lost; choose different names"
                )));
            }
        }
    }
    Ok(())
}

/// Refuses a value with a NUL byte where it would be handed to a program
/// (an environment variable, a shell variable): no such value can be, and
/// otp-link never secures new ones.
fn check_no_nul(c: &Credentials) -> Result<(), CliError> {
    for (field, value) in [("username", c.username()), ("password", c.password())] {
        if value.contains('\0') {
            return Err(CliError::Rejected(format!(
                "the {field} holds a NUL byte, which no environment or shell variable can carry; seal it again without one (secure-account --replace)"
            )));
        }
    }
    Ok(())
}

/// What `recover` prints, built (and its options checked) before anything
/// is released.
fn credentials_text(c: &Credentials, args: &cli::Recover) -> Result<Zeroizing<Vec<u8>>, CliError> {
    Ok(match (args.field, args.format) {
        (Some(FieldArg::Username), _) => Zeroizing::new(format!("{}\n", c.username()).into_bytes()),
        (Some(FieldArg::Password), _) => Zeroizing::new(format!("{}\n", c.password()).into_bytes()),
        (None, RecoverFormat::Text) => {
            Zeroizing::new(format!("{}\n{}\n", c.username(), c.password()).into_bytes())
        }
        (None, RecoverFormat::Json) => json_line(&CredentialsJson {
            username: c.username(),
            password: c.password(),
        })?,
        (None, RecoverFormat::Shell) => {
            input::check_var_name(&args.user_var, "--user-var")?;
            input::check_var_name(&args.pass_var, "--pass-var")?;
            check_distinct_vars(&[
                (&args.user_var, "--user-var"),
                (&args.pass_var, "--pass-var"),
            ])?;
            check_no_nul(c)?;
            let user = Zeroizing::new(shell_quote(c.username()));
            let pass = Zeroizing::new(shell_quote(c.password()));
            Zeroizing::new(
                format!(
                    "export {}={}\nexport {}={}\n",
                    args.user_var, *user, args.pass_var, *pass
                )
                .into_bytes(),
            )
        }
    })
}

fn exec(path: PathBuf, args: cli::Exec, trail: &mut Trail) -> Result<ExitCode, CliError> {
    input::check_var_name(&args.user_var, "--user-var")?;
    input::check_var_name(&args.pass_var, "--pass-var")?;
    let mut vars = vec![
        (args.user_var.as_str(), "--user-var"),
        (args.pass_var.as_str(), "--pass-var"),
    ];
    if let Some(var) = &args.keys.keys_env {
        vars.push((var, "--keys-env"));
    }
    check_distinct_vars(&vars)?;
    let keys = read_keys(&args.keys)?;
    trail.record_id(keys.record_id());
    let (name, credentials) = Store::at(path).open(&keys)?;
    trail.account(&name);
    check_no_nul(&credentials)?;
    let (program, program_args): (&OsString, &[OsString]) = match args.program.split_first() {
        Some(split) => split,
        None => return Err(CliError::Usage("name the program to run after '--'".into())),
    };
    trail.program(program_path(program));
    let mut child = Process::new(program);
    child
        .args(program_args)
        .env(&args.user_var, credentials.username())
        .env(&args.pass_var, credentials.password());
    if let Some(var) = &args.keys.keys_env {
        child.env_remove(var);
    }
    let failed = |e: io::Error| CliError::Exec {
        message: format!(
            "cannot run {}: {e}; check the program name and PATH",
            program.to_string_lossy()
        ),
        code: if e.kind() == io::ErrorKind::NotFound {
            127
        } else {
            126
        },
    };
    // Recorded before the program starts: once it does, otp-link is gone.
    trail.released()?;
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // exec only returns on failure.
        Err(failed(child.exec()))
    }
    #[cfg(not(unix))]
    {
        let status = child.status().map_err(failed)?;
        drop(credentials);
        Ok(ExitCode::from(status.code().unwrap_or(1) as u8))
    }
}

/// The path `exec` runs `program` from, for its audit record: a name
/// without `/` looked up in `PATH` as `execvp` does (the first executable
/// regular file), else the name as given.
fn program_path(program: &OsString) -> PathBuf {
    let given = PathBuf::from(program);
    if program.to_string_lossy().contains('/') {
        return given;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let found = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(program))
                .find(|candidate| {
                    std::fs::metadata(candidate)
                        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                })
        });
        if let Some(found) = found {
            return found;
        }
    }
    given
}

#[derive(Serialize)]
struct AccountJson<'a> {
    account: &'a str,
    record_id: String,
    width: usize,
    created: String,
    rotated: Option<String>,
    not_after: Option<String>,
    expired: bool,
    launch_records: usize,
}

/// `list --format json`: the store's digest beside its accounts, so that a
/// store with no account still has one.
#[derive(Serialize)]
struct ListingJson<'a> {
    sha256: String,
    accounts: Vec<AccountJson<'a>>,
}

fn print_accounts(listing: &otp_core::Listing, args: &cli::List) -> Result<(), CliError> {
    let accounts = &listing.accounts;
    // The clock only where an expiry is to be judged: a clock before 1970
    // fails a listing of expiring accounts, not one of accounts that never
    // expire.
    let now = if args.expiring_within.is_some() || accounts.iter().any(|a| a.not_after.is_some()) {
        expiry::now()?
    } else {
        0
    };
    let horizon = args.expiring_within.map(|secs| now.saturating_add(secs));
    let shown: Vec<&otp_core::AccountInfo> = accounts
        .iter()
        .filter(|a| match horizon {
            Some(horizon) => a.not_after.is_some_and(|t| t <= horizon),
            None => true,
        })
        .collect();
    let out = match args.format {
        ListFormat::Json => {
            let rows: Vec<AccountJson<'_>> = shown
                .iter()
                .map(|a| AccountJson {
                    account: &a.name,
                    record_id: a.record_id.to_string(),
                    width: a.width,
                    created: otp_core::rfc3339(a.created),
                    rotated: a.rotated.map(otp_core::rfc3339),
                    not_after: a.not_after.map(otp_core::rfc3339),
                    expired: a.expired_at(now),
                    launch_records: a.launch_records,
                })
                .collect();
            json_line(&ListingJson {
                sha256: hex::encode(listing.sha256),
                accounts: rows,
            })?
            .to_vec()
        }
        ListFormat::Text => {
            let name_width = shown
                .iter()
                .map(|a| printable(&a.name).chars().count())
                .max()
                .unwrap_or(0)
                .max(7);
            let mut out = format!(
                "{:<name_width$}  WIDTH  CREATED               ROTATED               LAUNCH  EXPIRES\n",
                "ACCOUNT"
            );
            for a in shown {
                let expires = match a.not_after {
                    None => "-".to_owned(),
                    Some(t) if a.expired_at(now) => format!("{} (expired)", otp_core::rfc3339(t)),
                    Some(t) => otp_core::rfc3339(t),
                };
                out.push_str(&format!(
                    "{:<name_width$}  {:>5}  {}  {:<20}  {:>6}  {}\n",
                    printable(&a.name),
                    a.width,
                    otp_core::rfc3339(a.created),
                    a.rotated
                        .map(otp_core::rfc3339)
                        .unwrap_or_else(|| "-".into()),
                    a.launch_records,
                    expires
                ));
            }
            out.into_bytes()
        }
    };
    write_out(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_escapes_single_quotes() {
        assert_eq!(shell_quote("a'b"), "'a'\\''b'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn variable_names_are_checked() {
        assert!(input::check_var_name("PGPASSWORD", "--pass-var").is_ok());
        assert!(input::check_var_name("_x1", "--pass-var").is_ok());
        for bad in ["", "1A", "A-B", "A B", "A=B", "$(x)"] {
            assert!(input::check_var_name(bad, "--pass-var").is_err(), "{bad}");
        }
    }
}
