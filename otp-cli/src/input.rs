//! Reading what the operator types or pipes in: credentials and keys.
//!
//! Everything read here is secret, so it lands in wiped buffers; and all of
//! it is untrusted, so every read is bounded: a line longer than anything it
//! could hold is refused after a few KiB without reading the rest (an
//! endless `/dev/zero` costs nothing), and a batch has a stated size.
//!
//! Keys given as `-` are read one line each, unbuffered, so that what
//! follows them on stdin is left to the program `exec` runs. On a terminal,
//! every secret is typed without echo at a prompt on `/dev/tty` whose
//! terminal settings are restored however the prompt ends, Ctrl-C included.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal};

use otp_core::Credentials;
use zeroize::Zeroizing;

use crate::CliError;

/// The longest line a value (username, password) or a key may take on
/// stdin, newline included. A value holds at most 99 bytes and a key text
/// about 300; anything longer is refused without reading the rest.
pub const MAX_LINE: usize = 4096;
/// The longest line of a `--batch`, newline included.
pub const MAX_BATCH_LINE: usize = 16 * 1024;
/// The most accounts one `--batch` may hold; larger batches are split.
pub const MAX_BATCH_ACCOUNTS: usize = 200_000;
/// The most bytes one `--batch` may hold: what the accounts of a store at
/// its 64 MiB limit take as JSON lines, with room to spare. Bounds the
/// memory a batch takes before the library checks its values.
pub const MAX_BATCH_BYTES: usize = 128 * 1024 * 1024;
/// How many times a terminal asks for the password and its confirmation
/// in all before it gives up.
const PASSWORD_ATTEMPTS: usize = 3;

/// A UTF-8 byte order mark, which some editors put at the start of a file.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// Why a bounded line could not be read.
enum LineError {
    /// The line has more than the limit, which is what it says.
    TooLong(usize),
    /// Reading failed.
    Io(io::Error),
}

/// Reads one line of at most `limit` bytes (newline included) from `input`,
/// consuming nothing after its newline. `None` at the end of the input; the
/// last line need not end with a newline. The trailing `\n` or `\r\n` is
/// stripped.
fn bounded_line(
    input: &mut impl BufRead,
    limit: usize,
) -> Result<Option<Zeroizing<Vec<u8>>>, LineError> {
    // Room for the longest line at once: a growing buffer would leave
    // copies of the secret behind in the memory it frees, unwiped.
    let mut line = Zeroizing::new(Vec::with_capacity(limit));
    loop {
        let available = match input.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(LineError::Io(e)),
        };
        if available.is_empty() {
            if line.is_empty() {
                return Ok(None);
            }
            break;
        }
        let (taken, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if line.len() + taken > limit {
            return Err(LineError::TooLong(limit));
        }
        line.extend_from_slice(&available[..taken]);
        input.consume(taken);
        if done {
            break;
        }
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    Ok(Some(line))
}

/// Stdin read without a buffer of its own: a duplicate of file descriptor 0,
/// so a [`BufReader`] of capacity 1 over it takes exactly the bytes a line
/// needs and leaves the rest to whoever reads stdin next.
fn raw_stdin() -> Result<File, CliError> {
    file_of(&io::stdin()).map_err(|e| CliError::Io(format!("reading stdin failed: {e}")))
}

/// A standard stream (stdin, stdout) as a file of its own: a duplicate of
/// its file descriptor (Unix) or handle (Windows).
#[cfg(unix)]
pub(crate) fn file_of(stream: &impl std::os::fd::AsFd) -> io::Result<File> {
    stream.as_fd().try_clone_to_owned().map(File::from)
}

/// A standard stream (stdin, stdout) as a file of its own: a duplicate of
/// its file descriptor (Unix) or handle (Windows).
#[cfg(windows)]
pub(crate) fn file_of(stream: &impl std::os::windows::io::AsHandle) -> io::Result<File> {
    stream.as_handle().try_clone_to_owned().map(File::from)
}

/// Refuses a byte order mark at the start of stdin: stripping it could
/// silently change a value that really starts with U+FEFF.
fn refuse_bom(line: &[u8]) -> Result<(), CliError> {
    if line.starts_with(BOM) {
        return Err(CliError::Usage(
            "stdin starts with a UTF-8 byte order mark; save the input without it (e.g. 'sed -i \"1s/^\\xEF\\xBB\\xBF//\" FILE')".into(),
        ));
    }
    Ok(())
}

/// Reads the username and password: without echo on a terminal (the
/// password twice), else one line each from stdin.
pub fn credentials() -> Result<Credentials, CliError> {
    if io::stdin().is_terminal() {
        let username = prompt("Username: ")?;
        for attempt in 1..=PASSWORD_ATTEMPTS {
            let password = prompt("Password: ")?;
            let again = prompt("Password again: ")?;
            if *password == *again {
                return Ok(Credentials::new(username.to_string(), password.to_string()));
            }
            if attempt < PASSWORD_ATTEMPTS {
                crate::note("the passwords differ; type them again");
            }
        }
        return Err(CliError::Usage(format!(
            "the passwords differed {PASSWORD_ATTEMPTS} times; run secure-account again"
        )));
    }
    let mut stdin = BufReader::with_capacity(1, raw_stdin()?);
    let username = value_line(&mut stdin, "username", true)?;
    let password = value_line(&mut stdin, "password", false)?;
    Ok(Credentials::new(username.to_string(), password.to_string()))
}

fn value_line(
    input: &mut impl BufRead,
    what: &str,
    first: bool,
) -> Result<Zeroizing<String>, CliError> {
    let line = match bounded_line(input, MAX_LINE) {
        Ok(Some(line)) => line,
        Ok(None) => {
            return Err(CliError::Usage(format!(
                "stdin ended before the {what} line; pipe the username and the password, one per line"
            )))
        }
        Err(LineError::TooLong(limit)) => {
            return Err(CliError::Rejected(format!(
                "the {what} line on stdin is longer than {limit} bytes, and a value holds at most 99; pipe the username and the password, one per line"
            )))
        }
        Err(LineError::Io(e)) => return Err(CliError::Io(format!("reading stdin failed: {e}"))),
    };
    if first {
        refuse_bom(&line)?;
    }
    utf8(line).map_err(|()| {
        CliError::Rejected(format!(
            "the {what} line on stdin is not UTF-8; values are text: convert the input to UTF-8"
        ))
    })
}

/// Moves bytes into a wiped `String` if they are UTF-8; wipes them if not.
fn utf8(bytes: Zeroizing<Vec<u8>>) -> Result<Zeroizing<String>, ()> {
    let mut bytes = bytes;
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(e) => {
            drop(Zeroizing::new(e.into_bytes()));
            Err(())
        }
    }
}

/// Asks for a secret on the terminal without echo.
fn prompt(text: &str) -> Result<Zeroizing<String>, CliError> {
    terminal::prompt(text)
}

/// The lines of a `--batch` on stdin, each bounded, numbered from 1; blank
/// lines are skipped. At most [`MAX_BATCH_ACCOUNTS`] non-blank lines.
pub struct BatchLines {
    input: BufReader<File>,
    number: usize,
    accounts: usize,
    bytes: usize,
}

impl BatchLines {
    /// Starts reading stdin as a batch.
    pub fn stdin() -> Result<Self, CliError> {
        Ok(BatchLines {
            input: BufReader::with_capacity(64 * 1024, raw_stdin()?),
            number: 0,
            accounts: 0,
            bytes: 0,
        })
    }

    /// The next non-blank line and its number, or `None` at the end.
    pub fn next_line(&mut self) -> Result<Option<(usize, Zeroizing<String>)>, CliError> {
        loop {
            let line = match bounded_line(&mut self.input, MAX_BATCH_LINE) {
                Ok(Some(line)) => line,
                Ok(None) => return Ok(None),
                Err(LineError::TooLong(limit)) => {
                    return Err(CliError::Usage(format!(
                        "line {} of the batch is longer than {limit} bytes; nothing was secured",
                        self.number + 1
                    )))
                }
                Err(LineError::Io(e)) => {
                    return Err(CliError::Io(format!(
                        "reading stdin failed at line {}: {e}",
                        self.number + 1
                    )))
                }
            };
            self.number += 1;
            self.bytes += line.len() + 1;
            if self.bytes > MAX_BATCH_BYTES {
                return Err(CliError::Usage(format!(
                    "the batch holds more than {} MiB; split it into several batches; nothing was secured",
                    MAX_BATCH_BYTES / (1024 * 1024)
                )));
            }
            if self.number == 1 {
                refuse_bom(&line)?;
            }
            let number = self.number;
            let line = utf8(line).map_err(|()| {
                CliError::Usage(format!(
                    "line {number} of the batch is not UTF-8; nothing was secured"
                ))
            })?;
            if line.trim().is_empty() {
                continue;
            }
            self.accounts += 1;
            if self.accounts > MAX_BATCH_ACCOUNTS {
                return Err(CliError::Usage(format!(
                    "the batch holds more than {MAX_BATCH_ACCOUNTS} accounts; split it into several batches; nothing was secured"
                )));
            }
            return Ok(Some((number, line)));
        }
    }
}

/// Resolves the two key texts: from the variable named by `--keys-env`, or
/// from the arguments, where each `-` takes one line of stdin (a prompt
/// without echo on a terminal) holding one key.
pub fn key_texts(
    user: Option<&str>,
    pass: Option<&str>,
    keys_env: Option<&str>,
) -> Result<[Zeroizing<String>; 2], CliError> {
    if let Some(var) = keys_env {
        check_var_name(var, "--keys-env")?;
        let value = Zeroizing::new(std::env::var(var).map_err(|_| {
            CliError::Usage(format!(
                "environment variable {var} (--keys-env) is not set or not UTF-8; set it to the user key and the password key, separated by a space"
            ))
        })?);
        let words: Vec<&str> = value.split_whitespace().collect();
        let [user, pass] = words[..] else {
            let held = match words.len() {
                0 => "nothing".to_owned(),
                1 => "one word".to_owned(),
                n => format!("{n} words"),
            };
            return Err(CliError::Usage(format!(
                "environment variable {var} (--keys-env) must hold exactly two keys separated by whitespace, but holds {held}"
            )));
        };
        return Ok([Zeroizing::new(user.into()), Zeroizing::new(pass.into())]);
    }
    let (Some(user), Some(pass)) = (user, pass) else {
        return Err(CliError::Usage(
            "pass the user key and the password key, or --keys-env VAR".into(),
        ));
    };
    let mut stdin: Option<BufReader<File>> = None;
    let mut first = true;
    let mut resolve = |arg: &str, what: &str| -> Result<Zeroizing<String>, CliError> {
        if arg != "-" {
            return Ok(Zeroizing::new(arg.to_owned()));
        }
        if io::stdin().is_terminal() {
            return prompt(&format!("{what}: "));
        }
        let input = match &mut stdin {
            Some(input) => input,
            slot @ None => slot.insert(BufReader::with_capacity(1, raw_stdin()?)),
        };
        let key = key_line(input, what, first)?;
        first = false;
        Ok(key)
    };
    let user = resolve(user, "User key")?;
    let pass = resolve(pass, "Password key")?;
    Ok([user, pass])
}

/// A portable environment variable name: a letter or `_`, then letters,
/// digits or `_`. A name that is not one is not repeated in the message: it
/// may be a key given where its variable's name belongs.
pub fn check_var_name(name: &str, option: &str) -> Result<(), CliError> {
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "the {option} value is not a variable name; name the variable (letters, digits and '_', not starting with a digit), not its value"
        )))
    }
}

/// One key from one line of stdin: surrounding whitespace is ignored, and
/// the line must hold exactly one word.
fn key_line(
    input: &mut impl BufRead,
    what: &str,
    first: bool,
) -> Result<Zeroizing<String>, CliError> {
    let what = what.to_lowercase();
    let line = match bounded_line(input, MAX_LINE) {
        Ok(Some(line)) => line,
        Ok(None) => {
            return Err(CliError::Usage(format!(
                "stdin ended before the {what} given as '-'; pipe one key per line"
            )))
        }
        Err(LineError::TooLong(limit)) => {
            return Err(CliError::Usage(format!(
                "the {what} line on stdin is longer than {limit} bytes, far more than any key; pipe one key per line"
            )))
        }
        Err(LineError::Io(e)) => return Err(CliError::Io(format!("reading stdin failed: {e}"))),
    };
    if first {
        refuse_bom(&line)?;
    }
    let line = utf8(line).map_err(|()| {
        CliError::Usage(format!(
            "the {what} line on stdin is not UTF-8, so it is no key; pipe one key per line"
        ))
    })?;
    let mut words = line.split_whitespace();
    match (words.next(), words.next()) {
        (Some(key), None) => Ok(Zeroizing::new(key.to_owned())),
        (None, _) => Err(CliError::Usage(format!(
            "the {what} line on stdin is empty; pipe one key per line"
        ))),
        (Some(_), Some(_)) => Err(CliError::Usage(format!(
            "the {what} line on stdin holds more than one word; each '-' reads one line with one key"
        ))),
    }
}

/// Prompts on the controlling terminal.
#[cfg(unix)]
mod terminal {
    use std::fs::{File, OpenOptions};
    use std::io::{self, Read, Write};

    use rustix::termios::{self, LocalModes, OptionalActions, SpecialCodeIndex, Termios};
    use zeroize::Zeroizing;

    use super::MAX_LINE;
    use crate::CliError;

    /// The terminal's settings before the prompt, put back when dropped: on
    /// return, on error and on unwinding alike.
    struct Restore<'t> {
        tty: &'t File,
        saved: Termios,
    }

    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            let _ = termios::tcsetattr(self.tty, OptionalActions::Now, &self.saved);
        }
    }

    fn failed(e: impl std::fmt::Display) -> CliError {
        CliError::Io(format!("reading from the terminal failed: {e}"))
    }

    /// Reads one line without echo. Signals from the keyboard are turned off
    /// while it reads, so Ctrl-C arrives as a byte and ends the prompt
    /// through the same path that restores echo, whatever the shell; the line
    /// is edited here (Backspace, Ctrl-U) since the terminal's own editing
    /// is off with them.
    pub(super) fn prompt(text: &str) -> Result<Zeroizing<String>, CliError> {
        let mut tty = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .map_err(failed)?;
        let saved = termios::tcgetattr(&tty).map_err(failed)?;
        let mut quiet = saved.clone();
        quiet.local_modes -=
            LocalModes::ECHO | LocalModes::ICANON | LocalModes::ISIG | LocalModes::IEXTEN;
        quiet.special_codes[SpecialCodeIndex::VMIN] = 1;
        quiet.special_codes[SpecialCodeIndex::VTIME] = 0;
        let restore = Restore { tty: &tty, saved };
        termios::tcsetattr(restore.tty, OptionalActions::Now, &quiet).map_err(failed)?;
        let mut out = restore.tty;
        out.write_all(text.as_bytes()).map_err(failed)?;
        // Room for the longest line at once, so it never moves unwiped.
        let mut line = Zeroizing::new(Vec::with_capacity(MAX_LINE));
        let result = read_line(restore.tty, &mut line);
        drop(restore);
        let _ = tty.write_all(b"\n");
        result?;
        super::utf8(line).map_err(|()| {
            CliError::Rejected("what was typed is not UTF-8; set the terminal to UTF-8".into())
        })
    }

    fn read_line(mut tty: &File, line: &mut Vec<u8>) -> Result<(), CliError> {
        let mut byte = [0u8; 1];
        loop {
            match tty.read(&mut byte) {
                Ok(0) => return Err(CliError::Usage("the terminal closed at the prompt".into())),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(failed(e)),
            }
            match byte[0] {
                b'\r' | b'\n' => return Ok(()),
                // Ctrl-C and Ctrl-\: the user gives up.
                0x03 | 0x1c => return Err(CliError::Interrupted),
                // Ctrl-D on an empty line: end of input.
                0x04 if line.is_empty() => {
                    return Err(CliError::Usage("nothing was typed at the prompt".into()))
                }
                // Backspace and Delete remove the last character.
                0x08 | 0x7f => {
                    while let Some(b) = line.pop() {
                        if b & 0xc0 != 0x80 {
                            break;
                        }
                    }
                }
                // Ctrl-U clears the line.
                0x15 => line.clear(),
                b => {
                    if line.len() >= MAX_LINE {
                        return Err(CliError::Rejected(format!(
                            "more than {MAX_LINE} bytes were typed at the prompt; a value holds at most 99"
                        )));
                    }
                    line.push(b);
                }
            }
        }
    }
}

/// Prompts on the console where there is no termios.
#[cfg(not(unix))]
mod terminal {
    use zeroize::Zeroizing;

    use crate::CliError;

    pub(super) fn prompt(text: &str) -> Result<Zeroizing<String>, CliError> {
        rpassword::prompt_password(text)
            .map(Zeroizing::new)
            .map_err(|e| CliError::Io(format!("reading from the terminal failed: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn lines(input: &[u8], limit: usize) -> Vec<Result<Vec<u8>, String>> {
        let mut reader = io::Cursor::new(input.to_vec());
        let mut out = Vec::new();
        loop {
            match bounded_line(&mut reader, limit) {
                Ok(Some(line)) => out.push(Ok(line.to_vec())),
                Ok(None) => return out,
                Err(LineError::TooLong(n)) => {
                    out.push(Err(format!("too long {n}")));
                    return out;
                }
                Err(LineError::Io(e)) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn only_one_trailing_newline_is_stripped() {
        for (raw, want) in [
            (&b"pw\n"[..], &b"pw"[..]),
            (b"pw\r\n", b"pw"),
            (b"pw", b"pw"),
            (b"pw \t\n", b"pw \t"),
            (b"\r\n", b""),
            (b"pw\r", b"pw\r"),
        ] {
            assert_eq!(lines(raw, 64), vec![Ok(want.to_vec())], "{raw:?}");
        }
        assert_eq!(
            lines(b"pw\n\nx", 64),
            vec![Ok(b"pw".to_vec()), Ok(vec![]), Ok(b"x".to_vec())]
        );
    }

    #[test]
    fn a_line_longer_than_the_limit_is_refused_without_reading_on() {
        let mut input = io::Cursor::new([b'a'; 100].repeat(100));
        assert!(matches!(
            bounded_line(&mut input, 64),
            Err(LineError::TooLong(64))
        ));
        assert!(input.position() <= 10_000, "read everything");
        assert_eq!(lines(&[b'x'; 64], 64), vec![Ok(vec![b'x'; 64])]);
        assert_eq!(lines(&[b'x'; 65], 64), vec![Err("too long 64".into())]);
    }

    #[test]
    fn a_capacity_one_reader_leaves_what_follows_the_line() {
        let mut reader =
            BufReader::with_capacity(1, io::Cursor::new(b"key one\nrest\x00\xff".to_vec()));
        let line = bounded_line(&mut reader, 64).ok().flatten().unwrap();
        assert_eq!(&line[..], b"key one");
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"rest\x00\xff");
    }

    #[test]
    fn key_lines_hold_one_key_each() {
        let mut input = io::Cursor::new(b"  k1 \nk2 k3\n\n".to_vec());
        assert_eq!(
            key_line(&mut input, "User key", true)
                .ok()
                .unwrap()
                .as_str(),
            "k1"
        );
        assert!(
            matches!(key_line(&mut input, "Password key", false), Err(CliError::Usage(m)) if m.contains("more than one word"))
        );
        assert!(
            matches!(key_line(&mut input, "Password key", false), Err(CliError::Usage(m)) if m.contains("empty"))
        );
        assert!(
            matches!(key_line(&mut input, "Password key", false), Err(CliError::Usage(m)) if m.contains("ended"))
        );
    }
}
