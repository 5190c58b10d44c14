//! A writer of the old format and the helpers the legacy tests share.
//! Tests only: otp-link never writes Secure-Python-Link files.

use std::path::PathBuf;

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use super::pickle::parse_account_file;
use super::{
    recover_legacy_bytes, LegacyKey, LEGACY_KEY_ALPHABET, LEGACY_KEY_LEN, LEGACY_MAX_VALUE_LEN,
};
use crate::{Credentials, Error};

pub(super) type Stored = [[u8; LEGACY_KEY_LEN]; 2];

pub(super) fn below(rng: &mut ChaCha20Rng, n: u32) -> u32 {
    rng.next_u32() % n
}

pub(super) fn alphabet_char(rng: &mut ChaCha20Rng) -> u8 {
    LEGACY_KEY_ALPHABET.as_bytes()[below(rng, 72) as usize]
}

pub(super) fn random_key_text(rng: &mut ChaCha20Rng) -> String {
    (0..LEGACY_KEY_LEN)
        .map(|_| char::from(alphabet_char(rng)))
        .collect()
}

/// A random string of exactly `len` UTF-8 bytes, mixing 1- to 4-byte
/// characters.
pub(super) fn random_value(rng: &mut ChaCha20Rng, len: usize) -> String {
    let mut s = String::new();
    while s.len() < len {
        let left = len - s.len();
        let width = 1 + below(rng, left.min(4) as u32) as usize;
        let c = loop {
            let cp = match width {
                1 => below(rng, 0x80),
                2 => 0x80 + below(rng, 0x800 - 0x80),
                3 => 0x800 + below(rng, 0x1_0000 - 0x800),
                _ => 0x1_0000 + below(rng, 0x11_0000 - 0x1_0000),
            };
            if let Some(c) = char::from_u32(cp) {
                break c;
            }
        };
        assert_eq!(c.len_utf8(), width);
        s.push(c);
    }
    s
}

/// Secure-Python-Link's encryption: frame, then XOR with the key.
pub(super) fn encrypt(value: &str, key: &str, rng: &mut ChaCha20Rng) -> [u8; LEGACY_KEY_LEN] {
    let v = value.as_bytes();
    assert!(v.len() <= LEGACY_MAX_VALUE_LEN);
    let mut frame = v.to_vec();
    while frame.len() < LEGACY_MAX_VALUE_LEN {
        frame.push(alphabet_char(rng));
    }
    frame.extend_from_slice(format!("{:02}", v.len()).as_bytes());
    let mut out = [0u8; LEGACY_KEY_LEN];
    for (o, (f, k)) in out.iter_mut().zip(frame.iter().zip(key.as_bytes())) {
        *o = f ^ k;
    }
    out
}

/// Python 2's `repr` of a byte string (also Python 3's `repr(bytes)`
/// without the `b`). `quote` forces a quote character.
pub(super) fn py2_repr(b: &[u8], quote: Option<u8>) -> Vec<u8> {
    let q = quote.unwrap_or(if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    });
    let mut out = vec![q];
    for &c in b {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            c if c == q => out.extend_from_slice(&[b'\\', q]),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            c if !(0x20..0x7f).contains(&c) => {
                out.extend_from_slice(format!("\\x{c:02x}").as_bytes())
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

/// Python 2 `pickle.dumps(d)` (protocol 0); `first_memo` is 0 for
/// `pickle`, 1 for `cPickle`.
pub(super) fn proto0_s(v: &Stored, quote: Option<u8>, first_memo: u32, eol: &[u8]) -> Vec<u8> {
    let m = first_memo;
    let mut out = Vec::new();
    let line = |out: &mut Vec<u8>, parts: &[&[u8]]| {
        for p in parts {
            out.extend_from_slice(p);
        }
        out.extend_from_slice(eol);
    };
    line(&mut out, &[format!("(dp{m}").as_bytes()]);
    line(&mut out, &[b"S", &py2_repr(b"list", quote)]);
    line(&mut out, &[format!("p{}", m + 1).as_bytes()]);
    line(&mut out, &[format!("(lp{}", m + 2).as_bytes()]);
    line(&mut out, &[b"S", &py2_repr(&v[0], quote)]);
    line(&mut out, &[format!("p{}", m + 3).as_bytes()]);
    line(&mut out, &[b"aS", &py2_repr(&v[1], quote)]);
    line(&mut out, &[format!("p{}", m + 4).as_bytes()]);
    out.extend_from_slice(b"as.");
    out
}

/// Python 3's protocol 0 `UNICODE` argument of latin-1 code points.
pub(super) fn raw_unicode_escape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &c in b {
        match c {
            b'\\' | 0 | b'\n' | b'\r' | 0x1a => {
                out.extend_from_slice(format!("\\u{c:04x}").as_bytes())
            }
            c => out.push(c),
        }
    }
    out
}

/// Python 3 `pickle.dumps(d, protocol=0)`.
pub(super) fn proto0_v(v: &Stored) -> Vec<u8> {
    let mut out = b"(dp0\nVlist\np1\n(lp2\nV".to_vec();
    out.extend(raw_unicode_escape(&v[0]));
    out.extend_from_slice(b"\np3\naV");
    out.extend(raw_unicode_escape(&v[1]));
    out.extend_from_slice(b"\np4\nas.");
    out
}

pub(super) fn latin1_to_utf8(b: &[u8]) -> Vec<u8> {
    b.iter()
        .map(|&c| char::from(c))
        .collect::<String>()
        .into_bytes()
}

pub(super) fn binunicode(s: &[u8]) -> Vec<u8> {
    let mut out = vec![b'X'];
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s);
    out
}

/// Python 3 `pickle.dumps(d, protocol=p)` for p in 1..=3 (protocol 1
/// has no PROTO opcode).
pub(super) fn proto_bin(v: &Stored, protocol: u8) -> Vec<u8> {
    let mut out = Vec::new();
    if protocol >= 2 {
        out.extend_from_slice(&[0x80, protocol]);
    }
    out.extend_from_slice(b"}q\x00");
    out.extend(binunicode(b"list"));
    out.extend_from_slice(b"q\x01]q\x02(");
    out.extend(binunicode(&latin1_to_utf8(&v[0])));
    out.extend_from_slice(b"q\x03");
    out.extend(binunicode(&latin1_to_utf8(&v[1])));
    out.extend_from_slice(b"q\x04es.");
    out
}

/// Python 3 `pickle.dumps(d, protocol=p)` for p in 4..=5.
pub(super) fn proto4(v: &Stored, protocol: u8) -> Vec<u8> {
    let mut body = b"}\x94\x8c\x04list\x94]\x94(".to_vec();
    for value in v {
        let utf8 = latin1_to_utf8(value);
        body.push(0x8c);
        body.push(utf8.len() as u8);
        body.extend(utf8);
        body.push(0x94);
    }
    body.extend_from_slice(b"es.");
    let mut out = vec![0x80, protocol, 0x95];
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend(body);
    out
}

/// Python 2 `pickle.dumps(d, 2)`: SHORT_BINSTRING byte strings.
pub(super) fn py2_proto2(v: &Stored) -> Vec<u8> {
    let mut out = b"\x80\x02}q\x00U\x04listq\x01]q\x02(U\x19".to_vec();
    out.extend_from_slice(&v[0]);
    out.extend_from_slice(b"q\x03U\x19");
    out.extend_from_slice(&v[1]);
    out.extend_from_slice(b"q\x04es.");
    out
}

pub(super) type WriteFn = fn(&Stored) -> Vec<u8>;

pub(super) fn writers() -> Vec<(&'static str, WriteFn)> {
    vec![
        ("py2 proto 0", |v| proto0_s(v, None, 0, b"\n")),
        ("py2 proto 0 single quotes", |v| {
            proto0_s(v, Some(b'\''), 0, b"\n")
        }),
        ("py2 proto 0 double quotes", |v| {
            proto0_s(v, Some(b'"'), 0, b"\n")
        }),
        ("py2 cPickle proto 0", |v| proto0_s(v, None, 1, b"\n")),
        ("py2 proto 0 crlf", |v| proto0_s(v, None, 0, b"\r\n")),
        ("py2 proto 2", py2_proto2),
        ("py3 proto 0", proto0_v),
        ("py3 proto 1", |v| proto_bin(v, 1)),
        ("py3 proto 2", |v| proto_bin(v, 2)),
        ("py3 proto 3", |v| proto_bin(v, 3)),
        ("py3 proto 4", |v| proto4(v, 4)),
        ("py3 proto 5", |v| proto4(v, 5)),
    ]
}

pub(super) fn key(text: &str) -> LegacyKey {
    text.parse().expect("valid legacy key")
}

pub(super) fn path() -> PathBuf {
    PathBuf::from("old/account.pkl")
}

pub(super) fn parse_err(bytes: &[u8]) -> String {
    match parse_account_file(bytes) {
        Ok(_) => panic!("parsed {:?}", String::from_utf8_lossy(bytes)),
        Err(reason) => reason,
    }
}

pub(super) fn recover(bytes: &[u8], user_key: &str, pass_key: &str) -> Result<Credentials, Error> {
    recover_legacy_bytes(bytes, &path(), &key(user_key), &key(pass_key))
}

pub(super) const SPECIAL_KEY: &str = "a$b!c&d*e?f#g@h%i+j=kLm9Z";

pub(super) fn sample() -> Stored {
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    [
        encrypt("user", SPECIAL_KEY, &mut rng),
        encrypt("password", SPECIAL_KEY, &mut rng),
    ]
}
