//! Python's string escape codecs, as `pickle` applies them to the text-line
//! arguments of protocol 0: `escape_decode` for `STRING`,
//! `raw-unicode-escape` for `UNICODE`.

/// Python's `codecs.escape_decode`, which `pickle` applies to the quoted
/// argument of a protocol 0 `STRING`. Unknown escapes stay as they are.
pub(super) fn escape_decode(s: &[u8]) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = s.get(i) else {
            return Err("a backslash at its end");
        };
        i += 1;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b't' => out.push(b'\t'),
            b'n' => out.push(b'\n'),
            b'v' => out.push(0x0b),
            b'f' => out.push(0x0c),
            b'r' => out.push(b'\r'),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match s.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(u8::try_from(v).map_err(|_| "an octal escape above \\377")?);
            }
            b'x' => {
                let hi = s.get(i).and_then(|&d| char::from(d).to_digit(16));
                let lo = s.get(i + 1).and_then(|&d| char::from(d).to_digit(16));
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err("a \\x escape without two hex digits");
                };
                // Two hex digits: at most 0xff.
                out.push((hi * 16 + lo) as u8);
                i += 2;
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// Python's `raw-unicode-escape` decoding, which `pickle` applies to a
/// protocol 0 `UNICODE` line: bytes are latin-1 code points, except
/// `\uXXXX` and `\UXXXXXXXX`.
pub(super) fn raw_unicode_escape_decode(s: &[u8]) -> Result<String, &'static str> {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c != b'\\' || i == s.len() {
            out.push(char::from(c));
            continue;
        }
        let digits = match s[i] {
            b'u' => 4,
            b'U' => 8,
            other => {
                out.push('\\');
                out.push(char::from(other));
                i += 1;
                continue;
            }
        };
        i += 1;
        let hex = s.get(i..i + digits).ok_or("a truncated \\u escape")?;
        let mut v: u32 = 0;
        for &d in hex {
            let d = char::from(d)
                .to_digit(16)
                .ok_or("a \\u escape with a non-hex digit")?;
            v = (v << 4) | d;
        }
        i += digits;
        out.push(char::from_u32(v).ok_or("a \\u escape of a surrogate or beyond U+10FFFF")?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_decode_follows_python() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"plain", b"plain"),
            (b"\\\\", b"\\"),
            (b"\\'\\\"", b"'\""),
            (b"\\a\\b\\f\\n\\r\\t\\v", b"\x07\x08\x0c\n\r\t\x0b"),
            (b"\\x00\\x7f\\xFf\\xab", b"\x00\x7f\xff\xab"),
            (b"\\0\\07\\007\\0070", b"\x00\x07\x07\x070"),
            (b"\\377\\18", b"\xff\x018"),
            (b"\\q\\ \\u0041", b"\\q\\ \\u0041"),
            (b"a\\\nb", b"ab"),
            (b"\xe9\x00", b"\xe9\x00"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                escape_decode(input).as_deref(),
                Ok(*expected),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        for bad in [&b"\\"[..], b"ab\\", b"\\x", b"\\x4", b"\\xg0", b"\\400"] {
            assert!(escape_decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn raw_unicode_escape_decode_follows_python() {
        let cases: &[(&[u8], &str)] = &[
            (b"plain", "plain"),
            (b"\\u005c\\u0000\\u000a\\u000d\\u001a", "\\\0\n\r\x1a"),
            (b"\xe9\xff\x80", "\u{e9}\u{ff}\u{80}"),
            (b"\\u00e9\\U0001F600", "\u{e9}\u{1f600}"),
            (b"\\\\u0041", "\\\\u0041"),
            (b"\\\\\\u0041", "\\\\A"),
            (b"\\x41\\", "\\x41\\"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                raw_unicode_escape_decode(input).as_deref(),
                Ok(*expected),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        for bad in [
            &b"\\u004"[..],
            b"\\u00g1",
            b"\\ud800",
            b"\\U00110000",
            b"\\U",
        ] {
            assert!(raw_unicode_escape_decode(bad).is_err(), "{bad:?}");
        }
    }
}
