//! The system clock, and times as RFC 3339 text.
//!
//! Expiry is enforced by otp-link and the clock, not by the mathematics:
//! whoever holds the store and the keys can XOR them at any time. So the
//! clock is read in one place, and a clock that reads before 1970 — which
//! cannot say whether an expiry has passed — is an error wherever expiry
//! is decided, never taken for a time long ago (which would make every
//! expired account open again).
//!
//! Times are printed as RFC 3339 in UTC (`2027-03-01T00:00:00Z`) by a small
//! formatter (Howard Hinnant's days-to-civil), so that `otp_core` needs no
//! date library: children that only recover compile none. Parsing what an
//! operator types is the CLI's business.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::Error;

/// The time now, in seconds since the Unix epoch; [`Error::ClockBeforeEpoch`]
/// when the system clock reads before 1970.
pub(crate) fn now() -> Result<u64, Error> {
    now_precise().map(|(secs, _)| secs)
}

/// The time now as seconds since the Unix epoch and microseconds.
pub(crate) fn now_precise() -> Result<(u64, u32), Error> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| (d.as_secs(), d.subsec_micros()))
        .map_err(|_| Error::ClockBeforeEpoch)
}

/// The time to record as an account's creation or rotation time: now, or 0
/// when the clock reads before 1970 (as otp-link has always recorded it;
/// these times are informational and decide nothing).
pub(crate) fn now_or_epoch() -> u64 {
    now().unwrap_or(0)
}

/// Seconds since the Unix epoch as an RFC 3339 UTC time, e.g.
/// `2027-03-01T00:00:00Z`. Every `u64` has one (years past 9999 get more
/// digits).
pub fn rfc3339(secs: u64) -> String {
    let (date, time) = civil(secs);
    format!("{date}T{time}Z")
}

/// [`rfc3339`] with six digits of microseconds, e.g.
/// `2027-03-01T00:00:00.000042Z`, for the audit log's times.
pub(crate) fn rfc3339_micros(secs: u64, micros: u32) -> String {
    let (date, time) = civil(secs);
    format!("{date}T{time}.{micros:06}Z")
}

/// The date (`YYYY-MM-DD`) and time of day (`HH:MM:SS`) of `secs`.
fn civil(secs: u64) -> (String, String) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        format!("{year:04}-{month:02}-{day:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_633_662), "2026-11-25T19:07:42Z");
        assert_eq!(rfc3339(4_102_444_800), "2100-01-01T00:00:00Z");
        assert_eq!(rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339_micros(1, 42), "1970-01-01T00:00:01.000042Z");
        // Every u64 formats, without overflow.
        assert!(rfc3339(u64::MAX).ends_with("Z"));
    }

    #[test]
    fn the_clock_reads_after_1970() {
        let now = now().unwrap();
        assert!(now > 1_795_000_000, "{now}");
    }
}
