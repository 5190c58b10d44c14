//! Reading the expiry an operator types: `--expires-in DURATION`,
//! `--not-after TIMESTAMP`, `--no-expiry`, a batch line's `"not_after"`,
//! and `list --expiring-within DURATION`.
//!
//! Parsing is jiff's: RFC 3339 times with any offset (`2027-03-01T00:00:00Z`,
//! `2027-03-01T01:00:00+01:00`, fractions of a second truncated), and its
//! "friendly" durations (`90d`, `12h`, `30m`, `45s`, `1d12h`, `2w`), days
//! taken as 24 hours. What it is hard to get right by hand — calendars,
//! offsets, overflow — is its job; a time must name its offset, so no time
//! zone database is needed. The library gets seconds since the epoch.

use jiff::{SignedDuration, Span, SpanRelativeTo, Timestamp};
use otp_core::Expiry;

use crate::cli::ExpiryArgs;
use crate::CliError;

/// A `--expires-in` or `--expiring-within` value: a positive number of
/// seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let refused = || {
        format!(
            "'{text}' is not a duration: write a number and a unit, d, h, m or s (90d, 12h, 30m, 45s), or several (1d12h)"
        )
    };
    let span: Span = text.trim().parse().map_err(|_| refused())?;
    let duration: SignedDuration = span
        .to_duration(SpanRelativeTo::days_are_24_hours())
        .map_err(|_| refused())?;
    match u64::try_from(duration.as_secs()) {
        Ok(secs) if secs > 0 => Ok(secs),
        _ => Err(format!("'{text}' is not a positive duration")),
    }
}

/// An `issue --ttl` value: a duration as [`parse_duration`] reads one,
/// from one second to seven days ([`otp_core::MAX_TTL`]).
pub fn parse_ttl(text: &str) -> Result<std::time::Duration, String> {
    let secs = parse_duration(text)?;
    if secs > otp_core::MAX_TTL.as_secs() {
        return Err(format!(
            "'{text}' is longer than launch keys live: at most 7d"
        ));
    }
    Ok(std::time::Duration::from_secs(secs))
}

/// A `--not-after` value: an RFC 3339 time, as seconds since the epoch.
pub fn parse_timestamp(text: &str) -> Result<u64, String> {
    let time: Timestamp = text.trim().parse().map_err(|_| {
        format!(
            "'{text}' is not an RFC 3339 time: write e.g. 2027-03-01T00:00:00Z or 2027-03-01T00:00:00+01:00 (an offset is required)"
        )
    })?;
    u64::try_from(time.as_second()).map_err(|_| format!("'{text}' is before 1970"))
}

/// The time now, in seconds since the epoch; the library's error when the
/// clock reads before 1970, which no duration can be added to.
pub fn now() -> Result<u64, CliError> {
    u64::try_from(Timestamp::now().as_second())
        .map_err(|_| CliError::Core(otp_core::Error::ClockBeforeEpoch))
}

/// The not-after time `secs` from now, refused when it overflows.
pub fn from_now(secs: u64) -> Result<u64, CliError> {
    now()?.checked_add(secs).ok_or_else(|| {
        CliError::Usage("the duration is too long: it ends after the year 584 billion".into())
    })
}

impl ExpiryArgs {
    /// What the options ask of a writer that re-seals an account: keep its
    /// expiry when none is given.
    pub fn expiry(&self) -> Result<Expiry, CliError> {
        Ok(match (self.expires_in, self.not_after, self.no_expiry) {
            (Some(secs), _, _) => Expiry::NotAfter(from_now(secs)?),
            (_, Some(t), _) => Expiry::NotAfter(t),
            (_, _, true) => Expiry::Never,
            _ => Expiry::Keep,
        })
    }

    /// The not-after time of a new account: none unless one is given.
    pub fn not_after(&self) -> Result<Option<u64>, CliError> {
        Ok(match self.expiry()? {
            Expiry::NotAfter(t) => Some(t),
            Expiry::Keep | Expiry::Never => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_days_hours_minutes_and_seconds() {
        for (text, secs) in [
            ("90d", 90 * 86_400),
            ("12h", 12 * 3600),
            ("30m", 1800),
            ("45s", 45),
            ("1d12h", 86_400 + 12 * 3600),
            ("2w", 14 * 86_400),
            (" 7d ", 7 * 86_400),
        ] {
            assert_eq!(parse_duration(text), Ok(secs), "{text}");
        }
        for bad in [
            "",
            "90",
            "d",
            "-1d",
            "0s",
            "1y",
            "1mo",
            "90x",
            "ninety days",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc3339_times_with_any_offset() {
        assert_eq!(parse_timestamp("2027-03-01T00:00:00Z"), Ok(1_803_859_200));
        assert_eq!(
            parse_timestamp("2027-03-01T01:00:00+01:00"),
            Ok(1_803_859_200)
        );
        assert_eq!(
            parse_timestamp("2027-03-01T00:00:00.999Z"),
            Ok(1_803_859_200)
        );
        for bad in [
            "2027-03-01",
            "2027-03-01T00:00:00",
            "2027-02-30T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "tomorrow",
        ] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    /// The library's formatter and jiff agree, so that a time typed in is
    /// the time printed back.
    #[test]
    fn the_library_prints_the_times_jiff_reads() {
        for secs in [
            0,
            951_782_400,
            1_803_859_200,
            4_102_444_800,
            253_402_000_000,
        ] {
            let text = otp_core::rfc3339(secs);
            assert_eq!(parse_timestamp(&text), Ok(secs), "{text}");
            let jiff = Timestamp::from_second(secs as i64).unwrap().to_string();
            assert_eq!(text, jiff);
        }
    }
}
