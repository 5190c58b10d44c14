//! Durations on the command line: a whole number and one unit, `30s`,
//! `5m`, `2h` or `1d`, so that a bare number is never taken for the wrong
//! unit.

use std::time::Duration;

/// Parses `N` followed by `s`, `m`, `h` or `d` into whole seconds.
pub fn parse(text: &str) -> Result<Duration, String> {
    let unit_at = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(unit_at);
    let seconds_per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "" => return Err("give a unit: 30s, 5m, 2h or 1d".into()),
        _ => return Err("write a whole number and one unit: 30s, 5m, 2h or 1d".into()),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| "write a whole number and one unit: 30s, 5m, 2h or 1d".to_string())?;
    n.checked_mul(seconds_per)
        .map(Duration::from_secs)
        .ok_or_else(|| "that is longer than any time otp-link keeps".into())
}

/// A launch record's time to live: [`parse`], from one second to seven days.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let ttl = parse(text)?;
    if ttl < Duration::from_secs(1) || ttl > otp_core::MAX_TTL {
        return Err("launch keys live from 1s to 7d".into());
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_and_the_bounds() {
        for (text, secs) in [("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86_400)] {
            assert_eq!(parse(text), Ok(Duration::from_secs(secs)), "{text}");
        }
        assert_eq!(parse_ttl("7d"), Ok(otp_core::MAX_TTL));
        assert_eq!(parse_ttl("1s"), Ok(Duration::from_secs(1)));
        for bad in ["0s", "8d", "604801s"] {
            assert!(parse_ttl(bad).unwrap_err().contains("1s to 7d"), "{bad}");
        }
    }

    #[test]
    fn numbers_without_a_unit_or_with_two_are_refused() {
        assert!(parse("60").unwrap_err().contains("give a unit"));
        for bad in [
            "",
            "s",
            "1.5h",
            "-1s",
            "+1s",
            "1 s",
            "1ms",
            "1sm",
            "1w",
            "99999999999999999999d",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
