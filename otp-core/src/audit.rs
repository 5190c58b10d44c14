//! The audit trail: one JSON object per line, appended to a file, for every
//! use of an account — who, when, from which parent program, with which
//! outcome — and never a secret.
//!
//! An administrator asks for it with `OTP_LINK_AUDIT=PATH` (or `otp-link
//! --audit PATH`), as Vault is given an audit device: from then on, an
//! account is not used unless its use is on record. So [`AuditLog::open`]
//! is called before anything is read or changed, and a command writes the
//! record of a use before it releases a credential (or, for a change, an
//! `attempt` record before the change takes effect); a log that cannot be
//! opened or written is [`Error::AuditLog`] (exit 10), and the command
//! stops there.
//!
//! A record holds names, ids, paths, process ids and times: never a key,
//! a pad, a value or a hash of one, and not argv, where keys travel. The
//! file is ours alone to write: created mode 0600, never through a symbolic
//! link, refused when it is not a regular file, belongs to another user or
//! may be written by group or others. Each record is one `write(2)` of a
//! whole line to an `O_APPEND` descriptor, so records of processes writing
//! at once never interleave.
//!
//! Here, in the library, rather than in the CLI: the file rules sit beside
//! the store's (one home for "never touch a file that is not ours"), the
//! bindings that open accounts can write the same records, and
//! [`recover`](crate::recover) — like `otp-link recover` — honours
//! `OTP_LINK_AUDIT`.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::{clock, Error, RecordId};

/// The environment variable that names the audit log, when it is set and
/// not empty.
pub const AUDIT_ENV: &str = "OTP_LINK_AUDIT";

/// The audit log configured for this process: `explicit` (a command line's
/// `--audit PATH`) if given, else `OTP_LINK_AUDIT` when set and not empty,
/// else none.
pub fn configured(explicit: Option<&Path>) -> Option<PathBuf> {
    match explicit {
        Some(path) => Some(path.to_owned()),
        None => std::env::var_os(AUDIT_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
    }
}

/// How far a use of an account got when its record was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A change is about to take effect (written before it does): the keys
    /// it issues are not yet handed out. Its outcome follows in a
    /// `success` or `failure` record.
    Attempt,
    /// The use succeeded: for a reader, written before the credentials are
    /// released; for a change, after it took effect.
    Success,
    /// The use failed, with the exit code it fails with.
    Failure,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Attempt => "attempt",
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

/// One record of the audit log: what a command did to which account.
/// Nothing in it is secret; the process it was written by is added by
/// [`AuditLog::append`].
#[derive(Clone, Debug)]
pub struct Event<'a> {
    /// The command, e.g. `"recover"`, `"exec"`, `"rotate"`.
    pub event: &'a str,
    /// How far it got.
    pub outcome: Outcome,
    /// The exit code it ends with, when it has ended (`None` for an
    /// attempt).
    pub exit_code: Option<u8>,
    /// The account's name, when known.
    pub account: Option<&'a str>,
    /// The account's record id, when known (keys carry it; not a secret).
    pub record_id: Option<RecordId>,
    /// The store, when known.
    pub store: Option<&'a Path>,
    /// The program `exec` runs: its path only, never its arguments.
    pub program: Option<&'a Path>,
    /// For a failure, its one-line message (which never holds a secret).
    pub error: Option<&'a str>,
}

/// Who writes the records: the same for every record of a process, so
/// looked up once.
#[derive(Clone, Debug)]
struct Process {
    uid: Option<u32>,
    euid: Option<u32>,
    pid: u32,
    ppid: Option<u32>,
    /// The parent's executable, when this user may read it
    /// (`/proc/PPID/exe`; a parent of another user's is `None`).
    parent_exe: Option<String>,
    host: Option<String>,
}

impl Process {
    fn current() -> Self {
        #[cfg(unix)]
        {
            use rustix::process;
            let ppid = process::getppid().map(|p| p.as_raw_nonzero().get() as u32);
            let parent_exe = ppid
                .and_then(|p| std::fs::read_link(format!("/proc/{p}/exe")).ok())
                .map(|p| p.to_string_lossy().into_owned());
            let uname = rustix::system::uname();
            Process {
                uid: Some(process::getuid().as_raw()),
                euid: Some(process::geteuid().as_raw()),
                pid: std::process::id(),
                ppid,
                parent_exe,
                host: Some(uname.nodename().to_string_lossy().into_owned()),
            }
        }
        #[cfg(not(unix))]
        Process {
            uid: None,
            euid: None,
            pid: std::process::id(),
            ppid: None,
            parent_exe: None,
            host: std::env::var("COMPUTERNAME").ok(),
        }
    }
}

/// An audit log opened for appending.
#[derive(Debug)]
pub struct AuditLog {
    file: File,
    path: PathBuf,
    process: Process,
}

impl AuditLog {
    /// The log [`configured`] by `OTP_LINK_AUDIT`, opened; `None` when none
    /// is.
    pub fn from_env() -> Result<Option<AuditLog>, Error> {
        configured(None).map(AuditLog::open).transpose()
    }

    /// Opens (creating it mode 0600 when missing) the audit log at `path`
    /// for appending. Refuses, as [`Error::AuditLog`], a path that is a
    /// symbolic link (never followed), not a regular file, in a directory
    /// that does not exist, owned by neither this user nor root, or that
    /// group or others may write: they could forge or erase records. A log
    /// that others may read (an administrator's `chmod 640` for a log
    /// shipper) is accepted: it holds no secret. A file with more than one
    /// name (a hard link) is refused too: it may be another file of ours.
    pub fn open(path: impl Into<PathBuf>) -> Result<AuditLog, Error> {
        let path = path.into();
        let file = open_append(&path).map_err(|e| refusal(&path, &e))?;
        check_file(&path, &file)?;
        Ok(AuditLog {
            file,
            path,
            process: Process::current(),
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record: a whole line, in one `write(2)`. A write that
    /// fails or is cut short (a full disk) is [`Error::AuditLog`]; a cut
    /// line is ended with a newline, so the next record starts on its own.
    pub fn append(&self, event: &Event<'_>) -> Result<(), Error> {
        let line = self.line(event);
        let mut file = &self.file;
        let written = loop {
            match file.write(line.as_bytes()) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match written {
            Ok(n) if n == line.len() => Ok(()),
            Ok(n) => {
                let _ = file.write(b"\n");
                Err(Error::AuditLog {
                    path: self.path.clone(),
                    problem: format!(
                        "took only {n} of a record's {} bytes (is the disk full?)",
                        line.len()
                    ),
                })
            }
            Err(e) => Err(Error::AuditLog {
                path: self.path.clone(),
                problem: format!("cannot be written: {e}"),
            }),
        }
    }

    /// Syncs what was appended to disk (for the `attempt` record of a
    /// change, which must survive a crash right after the change).
    pub fn sync(&self) -> Result<(), Error> {
        self.file.sync_data().map_err(|e| Error::AuditLog {
            path: self.path.clone(),
            problem: format!("cannot be synced to disk: {e}"),
        })
    }

    /// The record as one JSON line, fields in a fixed order.
    fn line(&self, event: &Event<'_>) -> String {
        let p = &self.process;
        let time = clock::now_precise()
            .ok()
            .map(|(secs, micros)| clock::rfc3339_micros(secs, micros));
        let path = |p: Option<&Path>| p.map(|p| p.to_string_lossy().into_owned());
        let mut out = Json::default();
        out.text("time", time.as_deref());
        out.text("event", Some(event.event));
        out.text("outcome", Some(event.outcome.as_str()));
        out.number("exit_code", event.exit_code.map(u64::from));
        out.text("account", event.account);
        out.text(
            "record_id",
            event.record_id.map(|id| id.to_string()).as_deref(),
        );
        out.text("store", path(event.store).as_deref());
        out.text("program", path(event.program).as_deref());
        out.number("uid", p.uid.map(u64::from));
        out.number("euid", p.euid.map(u64::from));
        out.number("pid", Some(u64::from(p.pid)));
        out.number("ppid", p.ppid.map(u64::from));
        out.text("parent_exe", p.parent_exe.as_deref());
        out.text("host", p.host.as_deref());
        out.text("error", event.error);
        out.finish()
    }
}

/// A flat JSON object written field by field: strings escaped as RFC 8259
/// requires (quote, backslash and every control character), numbers and
/// nulls as they are. A dozen lines instead of a JSON library in a crate
/// that every child program compiles.
#[derive(Default)]
struct Json {
    out: String,
}

impl Json {
    fn key(&mut self, key: &str) {
        self.out.push(if self.out.is_empty() { '{' } else { ',' });
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
    }

    fn text(&mut self, key: &str, value: Option<&str>) {
        self.key(key);
        let Some(value) = value else {
            self.out.push_str("null");
            return;
        };
        self.out.push('"');
        for c in value.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                c if c.is_control() || crate::error::is_format_char(c) => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        self.out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }

    fn number(&mut self, key: &str, value: Option<u64>) {
        self.key(key);
        match value {
            Some(n) => self.out.push_str(&n.to_string()),
            None => self.out.push_str("null"),
        }
    }

    fn finish(mut self) -> String {
        self.out.push_str("}\n");
        self.out
    }
}

/// Opens `path` to append, creating it mode 0600, never through a symbolic
/// link, never blocking on a FIFO, closed on exec (the program `exec` runs
/// gets no descriptor of the log).
fn open_append(path: &Path) -> io::Result<File> {
    #[cfg(unix)]
    {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::WRONLY
            | OFlags::APPEND
            | OFlags::CREATE
            | OFlags::NOFOLLOW
            | OFlags::NONBLOCK
            | OFlags::CLOEXEC;
        let fd = rustix::fs::open(path, flags, Mode::from_raw_mode(0o600))?;
        Ok(File::from(fd))
    }
    #[cfg(not(unix))]
    {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
    }
}

/// What an operating-system refusal to open the log means.
fn refusal(path: &Path, e: &io::Error) -> Error {
    let problem = match e.raw_os_error() {
        #[cfg(unix)]
        Some(code) if code == rustix::io::Errno::LOOP.raw_os_error() => {
            "is a symbolic link, which otp-link never follows; name the log file itself".to_owned()
        }
        #[cfg(unix)]
        Some(code) if code == rustix::io::Errno::NXIO.raw_os_error() => {
            "is not a regular file (a FIFO or a socket)".to_owned()
        }
        _ => match e.kind() {
            io::ErrorKind::NotFound => {
                "cannot be created: its directory does not exist; create the directory first"
                    .to_owned()
            }
            io::ErrorKind::PermissionDenied => {
                "cannot be opened for appending: permission denied".to_owned()
            }
            io::ErrorKind::IsADirectory => "is a directory, not a file".to_owned(),
            _ => format!("cannot be opened for appending: {e}"),
        },
    };
    Error::AuditLog {
        path: path.to_owned(),
        problem,
    }
}

/// Refuses an opened log that is not a regular file, belongs to neither
/// this user nor root, or may be written by group or others.
fn check_file(path: &Path, file: &File) -> Result<(), Error> {
    let refused = |problem: String| Error::AuditLog {
        path: path.to_owned(),
        problem,
    };
    let metadata = file
        .metadata()
        .map_err(|e| refused(format!("cannot be examined: {e}")))?;
    if !metadata.is_file() {
        return Err(refused("is not a regular file".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = rustix::process::geteuid().as_raw();
        let owner = metadata.uid();
        if owner != me && owner != 0 {
            return Err(refused(format!(
                "is owned by user id {owner}, neither you (user id {me}) nor root, so its owner could alter the records; use a log of your own"
            )));
        }
        // A second name for one of our files (the store, say) that someone
        // made where the log should be: appending would corrupt it. The
        // kernel's protected_hardlinks stops most such links; this stops
        // the rest.
        if metadata.nlink() > 1 {
            return Err(refused(format!(
                "has {} names (hard links), so it may be another file of yours; use a log file of its own",
                metadata.nlink()
            )));
        }
        let mode = metadata.mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(refused(format!(
                "may be written by group or others (mode {mode:04o}), who could forge or erase records; run 'chmod 600 {}' (or 640 for a log shipper's group)",
                crate::printable(&path.to_string_lossy())
            )));
        }
    }
    Ok(())
}

/// [`crate::recover`] with its record in `log` (the one `OTP_LINK_AUDIT`
/// names): a success record before the credentials are returned, a failure
/// record with the error's exit code otherwise. A record that cannot be
/// written fails the call (and the credentials are dropped, wiped).
pub(crate) fn recover_logged(
    log: &AuditLog,
    store: &crate::Store,
    keys: &crate::Keys,
) -> Result<crate::Credentials, Error> {
    let result = store.open(keys);
    let message = result.as_ref().err().map(ToString::to_string);
    let event = Event {
        event: "recover",
        outcome: if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        },
        exit_code: Some(result.as_ref().map_or_else(Error::exit_code, |_| 0)),
        account: match &result {
            Ok((name, _)) => Some(name),
            Err(e) => e.account_name(),
        },
        record_id: Some(keys.record_id()),
        store: Some(store.path()),
        program: None,
        error: message.as_deref(),
    };
    log.append(&event)?;
    result.map(|(_, credentials)| credentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_quotes_backslashes_and_controls() {
        let mut json = Json::default();
        json.text("a", Some("x\"y\\z\n\u{1b}\u{202e}é"));
        json.text("b", None);
        json.number("c", Some(7));
        assert_eq!(
            json.finish(),
            "{\"a\":\"x\\\"y\\\\z\\u000a\\u001b\\u202eé\",\"b\":null,\"c\":7}\n"
        );
    }
}
