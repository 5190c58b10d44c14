//! A child program, as a host application starts it: with the two keys as
//! its only arguments.
//!
//! ```text
//! OTP_LINK_STORE=/srv/app/store.cbor child USER_KEY PASS_KEY
//! ```
//!
//! It recovers the credentials from the store at the default location
//! (`$OTP_LINK_STORE`, else the per-user data directory) and uses them
//! without printing them: here it only reports their lengths and a
//! fingerprint that tests can compare. A real child would hand them to a
//! database driver and drop them as soon as the connection is made; the
//! `Credentials` wipe themselves on drop.
//!
//! Exit codes are otp-link's, from [`Error::exit_code`]: 3 malformed keys,
//! 4 authentication failed, 5 unknown account, 7 store missing, 8 store
//! corrupt, 9 permission, and so on (README, "Exit codes").

use std::process::ExitCode;

use otp_core::Keys;

/// A non-secret digest of a value (FNV-1a), so a test can check that the
/// child got the right credentials without the child printing them.
fn fingerprint(value: &str) -> u64 {
    value.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [user_key, pass_key] = &args[..] else {
        eprintln!("usage: child USER_KEY PASS_KEY");
        return ExitCode::from(2);
    };
    let credentials =
        match Keys::parse(user_key, pass_key).and_then(|keys| otp_core::recover(&keys)) {
            Ok(credentials) => credentials,
            Err(error) => {
                eprintln!("child: {error}");
                return ExitCode::from(error.exit_code());
            }
        };
    // Here a real child connects: Client::connect(..., credentials.username(),
    // credentials.password()). Never print or log the values themselves.
    println!(
        "recovered a {}-byte username and a {}-byte password; fingerprint {:016x}",
        credentials.username().len(),
        credentials.password().len(),
        fingerprint(credentials.username()) ^ fingerprint(credentials.password()).rotate_left(1),
    );
    ExitCode::SUCCESS
}
