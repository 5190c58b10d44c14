//! The audit records of one command: which accounts it touched, and when
//! each record is written; `otp_core::audit` writes them.
//!
//! - A reader (`recover`, `exec`, `verify`) writes one record once its
//!   outcome is known and before it releases anything ([`Trail::released`]):
//!   a log that cannot take it stops the command (exit 10) with nothing
//!   printed and nothing exec'd.
//! - A writer writes an `attempt` record, synced, once its change is staged
//!   and before it hands out keys or puts the change in effect
//!   ([`Trail::attempt`]): if that fails, nothing changes and no key is
//!   printed. After the change took effect it writes a `success` record
//!   ([`Trail::committed`]); if that fails, otp-link warns and still exits
//!   0, because the change is in effect, its keys are delivered, and a
//!   failure exit would invite a script to throw away the only keys that
//!   work. The log then holds the attempt without its outcome, never a
//!   change it did not announce.
//! - A command that fails writes a `failure` record with its exit code
//!   ([`Trail::failed`]).
//!
//! `list`, `completions` and `man` use no account and are not recorded.

use std::path::{Path, PathBuf};

use otp_core::audit::{self, AuditLog, Event, Outcome};
use otp_core::RecordId;

use crate::CliError;

/// One command's audit records, or nothing when no log is configured.
pub struct Trail {
    log: Option<AuditLog>,
    event: &'static str,
    store: Option<PathBuf>,
    /// The accounts the command is about, each with what is known of it; a
    /// record is written for each (one without an account when empty).
    accounts: Vec<(Option<String>, Option<RecordId>)>,
    program: Option<PathBuf>,
}

impl Trail {
    /// Opens the log configured by `--audit` or `OTP_LINK_AUDIT` for a
    /// command named `event` (`None`: a command that is not recorded),
    /// before the command reads or changes anything.
    pub fn open(
        explicit: Option<&Path>,
        event: Option<&'static str>,
        store: Option<PathBuf>,
    ) -> Result<Trail, CliError> {
        let log = match event {
            Some(_) => audit::configured(explicit)
                .map(AuditLog::open)
                .transpose()?,
            None => None,
        };
        Ok(Trail {
            log,
            event: event.unwrap_or(""),
            // Absolute, as an auditor reads it elsewhere (no link resolved).
            store: store.map(|p| std::path::absolute(&p).unwrap_or(p)),
            accounts: Vec::new(),
            program: None,
        })
    }

    fn only(&mut self) -> &mut (Option<String>, Option<RecordId>) {
        if self.accounts.is_empty() {
            self.accounts.push((None, None));
        }
        &mut self.accounts[0]
    }

    /// The command is about the account of this name.
    pub fn account(&mut self, name: &str) {
        self.only().0 = Some(name.to_owned());
    }

    /// The command is about the account of this record id.
    pub fn record_id(&mut self, id: RecordId) {
        self.only().1 = Some(id);
    }

    /// The command is about these accounts, one record each (a batch, a
    /// prune).
    pub fn accounts(&mut self, accounts: impl IntoIterator<Item = (String, RecordId)>) {
        self.accounts = accounts
            .into_iter()
            .map(|(name, id)| (Some(name), Some(id)))
            .collect();
    }

    /// `exec` runs this program.
    pub fn program(&mut self, path: PathBuf) {
        self.program = Some(path);
    }

    fn write(
        &self,
        outcome: Outcome,
        exit_code: Option<u8>,
        error: Option<&str>,
    ) -> Result<(), otp_core::Error> {
        let Some(log) = &self.log else {
            return Ok(());
        };
        let none = [(None, None)];
        let accounts = if self.accounts.is_empty() {
            &none[..]
        } else {
            &self.accounts[..]
        };
        for (account, record_id) in accounts {
            log.append(&Event {
                event: self.event,
                outcome,
                exit_code,
                account: account.as_deref(),
                record_id: *record_id,
                store: self.store.as_deref(),
                program: self.program.as_deref(),
                error,
            })?;
        }
        Ok(())
    }

    /// A reader's success record, before it releases the credentials (or
    /// the name `verify` prints).
    pub fn released(&mut self) -> Result<(), CliError> {
        Ok(self.write(Outcome::Success, Some(0), None)?)
    }

    /// A writer's attempt record, synced, before its keys are handed out
    /// and its change put in effect.
    pub fn attempt(&mut self) -> Result<(), CliError> {
        self.write(Outcome::Attempt, None, None)?;
        if let Some(log) = &self.log {
            log.sync()?;
        }
        Ok(())
    }

    /// A writer's success record, after its change took effect: a failure
    /// to write it is a warning.
    pub fn committed(&mut self) {
        if let Err(e) = self.write(Outcome::Success, Some(0), None) {
            crate::note(&format!(
                "warning: the change is in effect and its keys are the account's, but its success record could not be written ({}); the log holds its attempt",
                problem(&e)
            ));
        }
    }

    /// A writer that had nothing to change (a prune of a store where
    /// nothing expired) records that it ran.
    pub fn unchanged(&mut self) -> Result<(), CliError> {
        Ok(self.write(Outcome::Success, Some(0), None)?)
    }

    /// The failure record of the command's error, and the error to report:
    /// the same, with a note when even its record could not be written.
    pub fn failed(&mut self, error: CliError) -> CliError {
        if self.log.is_none() {
            return error;
        }
        let unnamed =
            self.accounts.len() <= 1 && self.accounts.first().is_none_or(|a| a.0.is_none());
        if let (true, CliError::Core(e) | CliError::BatchLine { error: e, .. }) = (unnamed, &error)
        {
            if let Some(name) = e.account_name() {
                self.account(name);
            }
        }
        let message = crate::message(&error);
        match self.write(
            Outcome::Failure,
            Some(crate::exit_code(&error)),
            Some(&message),
        ) {
            Ok(()) => error,
            Err(e) => CliError::Unrecorded {
                error: Box::new(error),
                problem: problem(&e),
            },
        }
    }
}

/// What is wrong with the log, without the advice of [`otp_core::Error`]'s
/// message (that nothing was released), which is not so once a change is
/// in effect.
fn problem(e: &otp_core::Error) -> String {
    match e {
        otp_core::Error::AuditLog { path, problem } => format!(
            "audit log {} {problem}",
            otp_core::printable(&path.to_string_lossy())
        ),
        e => e.to_string(),
    }
}
