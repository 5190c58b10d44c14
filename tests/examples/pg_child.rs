//! `pg_child`: a child program that logs in to PostgreSQL with credentials
//! it recovers from two otp-link keys, and nothing else.
//!
//! ```text
//! pg_child USER_KEY PASS_KEY
//! ```
//!
//! The host starts it with the two keys `otp-link secure-account` printed as
//! its only arguments. It recovers the username and the password from the
//! store, connects over TCP with password authentication (the server's
//! `pg_hba.conf` should demand `scram-sha-256`), runs one query and prints its
//! rows, columns separated by `|`, NULL as an empty field (like `psql -tA`).
//! It never prints the credentials.
//!
//! The environment says where to go, never who to be:
//!
//! | variable          | meaning                                   | default                     |
//! |-------------------|-------------------------------------------|-----------------------------|
//! | `OTP_LINK_STORE`  | the store file                            | the per-user data directory |
//! | `PGHOST`          | the server's host name or address         | `127.0.0.1`                 |
//! | `PGPORT`          | the server's TCP port                     | `5432`                      |
//! | `PGDATABASE`      | the database                              | the recovered username      |
//! | `PG_CHILD_QUERY`  | the query to run                          | `SELECT current_database()` |
//!
//! `PGUSER` and `PGPASSWORD` are ignored: the credentials come from the keys.
//!
//! Exit codes: 0 success; 1 the connection or the query failed; 2 usage; and
//! for a failure to recover the credentials, which happens before any
//! connection attempt, otp-link's own codes: 3 a key malformed or the two
//! keys not belonging together, 4 authentication failed (a wrong or
//! rotated-away key), 5 no account has the keys' record, 7 store missing,
//! 8 store corrupt, 9 permission, 10 other input/output error. The error goes
//! to stderr as one line `pg_child: MESSAGE`.
//!
//! Run it with `cargo run -p otp-link-tests --example pg_child -- USER_KEY PASS_KEY`.

use std::env;
use std::process::ExitCode;
use std::time::Duration;

use otp_core::{Credentials, Error, Keys, Store};
use postgres::{Config, NoTls, SimpleQueryMessage};

const DEFAULT_HOST: &str = "127.0.0.1";
const DEFAULT_PORT: u16 = 5432;
const DEFAULT_QUERY: &str = "SELECT current_database()";

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("pg_child: {}", otp_core::one_line(message));
    ExitCode::from(code)
}

/// Recovers the credentials; no connection is attempted before this succeeds.
fn recover(user_key: &str, pass_key: &str) -> Result<Credentials, Error> {
    let keys = Keys::parse(user_key, pass_key)?;
    Store::at(otp_core::default_store_path()?).recover(&keys)
}

/// A PostgreSQL error message without the recovered values in it (the
/// server names the user in e.g. "password authentication failed for user").
fn redacted(message: String, credentials: &Credentials) -> String {
    let mut message = message;
    for (secret, label) in [
        (credentials.password(), "[password]"),
        (credentials.username(), "[username]"),
    ] {
        if !secret.is_empty() {
            message = message.replace(secret, label);
        }
    }
    message
}

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let [user_key, pass_key] = args.as_slice() else {
        return fail(
            2,
            "usage: pg_child USER_KEY PASS_KEY (the two keys otp-link secure-account printed)",
        );
    };
    let credentials = match recover(user_key, pass_key) {
        Ok(credentials) => credentials,
        Err(e) => return fail(e.exit_code(), &e.to_string()),
    };

    let var = |name: &str| env::var(name).ok().filter(|v| !v.is_empty());
    let host = var("PGHOST").unwrap_or_else(|| DEFAULT_HOST.to_owned());
    let port = match var("PGPORT").map(|p| p.parse::<u16>()) {
        None => DEFAULT_PORT,
        Some(Ok(port)) => port,
        Some(Err(_)) => return fail(2, "PGPORT is not a port number"),
    };
    let query = var("PG_CHILD_QUERY").unwrap_or_else(|| DEFAULT_QUERY.to_owned());

    let mut config = Config::new();
    config
        .host(&host)
        .port(port)
        .user(credentials.username())
        .password(credentials.password())
        .application_name("pg_child")
        .connect_timeout(Duration::from_secs(10));
    if let Some(dbname) = var("PGDATABASE") {
        config.dbname(&dbname);
    }
    let connected = config.connect(NoTls);
    drop(config);
    let mut client = match connected {
        Ok(client) => client,
        Err(e) => {
            let message = redacted(e.to_string(), &credentials);
            return fail(
                1,
                &format!("cannot log in to PostgreSQL at {host}:{port}: {message}"),
            );
        }
    };
    let messages = match client.simple_query(&query) {
        Ok(messages) => messages,
        Err(e) => {
            let message = redacted(e.to_string(), &credentials);
            return fail(1, &format!("the query failed: {message}"));
        }
    };
    drop(credentials);
    for message in messages {
        if let SimpleQueryMessage::Row(row) = message {
            let fields: Vec<&str> = (0..row.len()).map(|i| row.get(i).unwrap_or("")).collect();
            println!("{}", fields.join("|"));
        }
    }
    if let Err(e) = client.close() {
        return fail(1, &format!("closing the connection failed: {e}"));
    }
    ExitCode::SUCCESS
}
