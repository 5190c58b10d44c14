//! Reading what the operator types or pipes in: credentials and keys.
//!
//! Everything read here is secret, so it lands in wiped buffers.

use std::io::{self, BufRead, IsTerminal, Read};

use otp_core::Credentials;
use zeroize::Zeroizing;

use crate::CliError;

/// The most stdin may hold when keys are read from it.
const MAX_KEY_INPUT: u64 = 64 * 1024;
/// How often a mismatched password confirmation is asked again.
const PASSWORD_TRIES: usize = 3;

fn io_error(what: &str, e: io::Error) -> CliError {
    CliError::Io(format!("{what} failed: {e}"))
}

/// Strips one trailing `\n` or `\r\n`, nothing else.
fn strip_newline(line: &mut String) {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
}

/// Reads the username and password: without echo on a terminal (the
/// password twice), else one line each from stdin.
pub fn credentials() -> Result<Credentials, CliError> {
    if io::stdin().is_terminal() {
        let username = prompt("Username: ")?;
        for _ in 0..PASSWORD_TRIES {
            let password = prompt("Password: ")?;
            let again = prompt("Password again: ")?;
            if *password == *again {
                return Ok(Credentials::new(username.to_string(), password.to_string()));
            }
            eprintln!("otp-link: the passwords differ; type them again");
        }
        return Err(CliError::Usage(
            "the passwords differed three times; run secure-account again".into(),
        ));
    }
    let stdin = io::stdin();
    let mut lock = stdin.lock();
    let username = read_line(&mut lock, "username")?;
    let password = read_line(&mut lock, "password")?;
    Ok(Credentials::new(username.to_string(), password.to_string()))
}

fn prompt(text: &str) -> Result<Zeroizing<String>, CliError> {
    rpassword::prompt_password(text)
        .map(Zeroizing::new)
        .map_err(|e| io_error("reading from the terminal", e))
}

fn read_line(input: &mut impl BufRead, what: &str) -> Result<Zeroizing<String>, CliError> {
    let mut line = Zeroizing::new(String::new());
    let n = input
        .read_line(&mut line)
        .map_err(|e| io_error("reading stdin", e))?;
    if n == 0 {
        return Err(CliError::Usage(format!(
            "stdin ended before the {what} line; pipe the username and the password, one per line"
        )));
    }
    strip_newline(&mut line);
    Ok(line)
}

/// Resolves the two key texts: from the variable named by `--keys-env`, or
/// from the arguments, where `-` takes the next whitespace-separated word of
/// stdin.
pub fn key_texts(
    user: Option<&str>,
    pass: Option<&str>,
    keys_env: Option<&str>,
) -> Result<[Zeroizing<String>; 2], CliError> {
    if let Some(var) = keys_env {
        let value = Zeroizing::new(std::env::var(var).map_err(|_| {
            CliError::Usage(format!(
                "environment variable {var} (--keys-env) is not set or not UTF-8; set it to the user key and the password key, separated by a space"
            ))
        })?);
        let words: Vec<&str> = value.split_whitespace().collect();
        let [user, pass] = words[..] else {
            return Err(CliError::Usage(format!(
                "environment variable {var} (--keys-env) must hold exactly two keys separated by whitespace, but holds {} words",
                words.len()
            )));
        };
        return Ok([Zeroizing::new(user.into()), Zeroizing::new(pass.into())]);
    }
    let (Some(user), Some(pass)) = (user, pass) else {
        return Err(CliError::Usage(
            "pass the user key and the password key, or --keys-env VAR".into(),
        ));
    };
    let mut stdin_words: Option<Zeroizing<String>> = None;
    let mut taken = 0;
    let mut resolve = |arg: &str| -> Result<Zeroizing<String>, CliError> {
        if arg != "-" {
            return Ok(Zeroizing::new(arg.to_owned()));
        }
        if stdin_words.is_none() {
            let mut all = Zeroizing::new(String::new());
            io::stdin()
                .take(MAX_KEY_INPUT)
                .read_to_string(&mut all)
                .map_err(|e| io_error("reading keys from stdin", e))?;
            stdin_words = Some(all);
        }
        let words = stdin_words.as_ref().map(|w| w.as_str()).unwrap_or("");
        let word = words.split_whitespace().nth(taken).ok_or_else(|| {
            CliError::Usage("a key given as '-' was not found on stdin; pipe the key text".into())
        })?;
        taken += 1;
        Ok(Zeroizing::new(word.to_owned()))
    };
    let user = resolve(user)?;
    let pass = resolve(pass)?;
    Ok([user, pass])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_trailing_newline_is_stripped() {
        for (raw, want) in [
            ("pw\n", "pw"),
            ("pw\r\n", "pw"),
            ("pw", "pw"),
            ("pw \t\n", "pw \t"),
            ("pw\n\n", "pw\n"),
            ("\r\n", ""),
            ("pw\r", "pw\r"),
        ] {
            let mut s = raw.to_string();
            strip_newline(&mut s);
            assert_eq!(s, want, "{raw:?}");
        }
    }

    #[test]
    fn read_line_reports_missing_lines() {
        let mut input = io::Cursor::new(b"alice\n".to_vec());
        assert_eq!(read_line(&mut input, "username").unwrap().as_str(), "alice");
        assert!(matches!(
            read_line(&mut input, "password"),
            Err(CliError::Usage(_))
        ));
    }
}
