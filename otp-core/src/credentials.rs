//! The pair of secrets an account holds.
//!
//! Both values live in [`secrecy::SecretString`], so they are wiped when
//! the [`Credentials`] are dropped and `Debug` never shows them.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize;

/// A username and a password, wiped from memory on drop.
///
/// `Debug` prints `[redacted]`; there is no `Display`, `Clone` or
/// `Serialize`. Read the values with [`Credentials::username`] and
/// [`Credentials::password`].
pub struct Credentials {
    username: SecretString,
    password: SecretString,
}

impl Credentials {
    /// Wraps a username and a password. The `String`s are moved into wiped
    /// storage; pass owned values so no unwiped copy is left behind.
    pub fn new(username: String, password: String) -> Self {
        Credentials {
            username: wipe_into_secret(username),
            password: wipe_into_secret(password),
        }
    }

    /// The username.
    pub fn username(&self) -> &str {
        self.username.expose_secret()
    }

    /// The password.
    pub fn password(&self) -> &str {
        self.password.expose_secret()
    }
}

/// Moves a `String` into a [`SecretString`]. `SecretString` holds a
/// `Box<str>`, and turning a `String` with spare capacity into one
/// reallocates and frees the old buffer unwiped; so copy into an exact-size
/// buffer first and wipe the original.
fn wipe_into_secret(mut value: String) -> SecretString {
    if value.capacity() == value.len() {
        return SecretString::from(value);
    }
    let exact = SecretString::from(value.as_str());
    value.zeroize();
    exact
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials { username: [redacted], password: [redacted] }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_neither_value() {
        let c = Credentials::new("alice-db".into(), "hunter2-pw".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("alice-db"), "{shown}");
        assert!(!shown.contains("hunter2-pw"), "{shown}");
        assert!(shown.contains("[redacted]"));
        assert_eq!(c.username(), "alice-db");
        assert_eq!(c.password(), "hunter2-pw");
    }
}
