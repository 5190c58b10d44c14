//! Tests of the pickle reader, through [`parse_account_file`]: every writer
//! of the old format, code-running and other refused opcodes, truncations,
//! malformed shapes and random mutations.

use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use super::*;
use crate::legacy::recover_legacy_bytes;
use crate::legacy::writer::*;

#[test]
fn every_stored_byte_survives_every_writer() {
    // Stored values are arbitrary bytes: 0..=255 in 25-byte windows.
    let all: Vec<u8> = (0..=255u8).cycle().take(256 + 2 * LEGACY_KEY_LEN).collect();
    for start in (0..256).step_by(LEGACY_KEY_LEN) {
        let mut stored = [[0u8; LEGACY_KEY_LEN]; 2];
        stored[0].copy_from_slice(&all[start..start + LEGACY_KEY_LEN]);
        stored[1].copy_from_slice(&all[start + LEGACY_KEY_LEN..start + 2 * LEGACY_KEY_LEN]);
        stored[1].reverse();
        for (name, write) in writers() {
            assert_eq!(
                parse_account_file(&write(&stored)).as_ref().ok(),
                Some(&stored),
                "{name}, bytes from {start}"
            );
        }
    }
}

#[test]
fn brief_example_shape_parses() {
    let mut v = *b"(dp0\nS'list'\np1\n(lp2\nS'\\x07\\n\\\\\\'aaaaaaaaaaaaaaaaaaaaa'\np3\naS\"'bbbbbbbbbbbbbbbbbbbbbbbb\"\np4\nas.";
    let [u, p] = parse_account_file(&v).unwrap();
    assert_eq!(&u, b"\x07\n\\'aaaaaaaaaaaaaaaaaaaaa");
    assert_eq!(&p, b"'bbbbbbbbbbbbbbbbbbbbbbbb");
    v[v.len() - 1] = b'x';
    assert!(parse_err(&v).contains("not a pickle opcode"));
}

#[test]
fn code_running_pickles_are_rejected() {
    let cases: &[(&[u8], &str)] = &[
        (b"cos\nsystem\n(S'echo hi'\ntR.", "GLOBAL ('c')"),
        (
            b"\x80\x04\x95\x1e\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94\x8c\x07echo hi\x94\x85\x94R\x94.",
            "STACK_GLOBAL (0x93)",
        ),
        (b"(S'echo hi'\nios\nsystem\n.", "INST ('i')"),
        (b"(cos\nsystem\nS'echo hi'\no.", "GLOBAL ('c')"),
        (b"(dp0\nS'list'\np1\n(S'x'\ntR.", "TUPLE ('t')"),
        (b"}S'list'\nNb.", "NONE ('N')"),
        (b"}(S'list'\nS'x'\nub.", "BUILD ('b')"),
        (b"(S'x'\nS'y'\nR.", "REDUCE ('R')"),
        (b"\x80\x02c__builtin__\neval\n.", "GLOBAL ('c')"),
        (b"\x80\x02N\x81.", "NONE ('N')"),
        (b"P1\n.", "PERSID ('P')"),
        (b"\x80\x02\x82\x01.", "EXT1 (0x82)"),
    ];
    for (bytes, expected) in cases {
        let reason = parse_err(bytes);
        assert!(reason.contains(expected), "{reason}");
        assert!(
            reason.contains("not used by account files")
                || reason.contains("never runs pickle code"),
            "{reason}"
        );
    }
    assert!(parse_err(cases[0].0).contains("never runs pickle code"));
    assert!(parse_err(cases[1].0).contains("never runs pickle code"));
}

#[test]
fn every_other_opcode_is_rejected() {
    let accepted = b"\x80\x95(}]ldaesuX\x8c\x8dVSUCTB\x8epqr\x94ghj.";
    for op in 0..=255u8 {
        if accepted.contains(&op) {
            continue;
        }
        // The opcode where a value of the list would be.
        let bytes = [b"\x80\x03}X\x04\x00\x00\x00list]".as_slice(), &[op], b"as."].concat();
        let reason = parse_err(&bytes);
        assert!(reason.starts_with("byte 13: "), "{op:#x}: {reason}");
        if opcode_name(op).is_some() {
            assert!(reason.contains(opcode_name(op).unwrap()), "{reason}");
        } else {
            assert!(reason.contains("is not a pickle opcode"), "{reason}");
        }
    }
}

#[test]
fn every_truncation_is_rejected() {
    let stored = sample();
    for (name, write) in writers() {
        let bytes = write(&stored);
        for end in 0..bytes.len() {
            let reason = parse_err(&bytes[..end]);
            assert!(
                reason.contains("truncated") || (end == 0 && reason.contains("empty")),
                "{name} cut at {end}: {reason}"
            );
        }
    }
}

#[test]
fn extra_data_after_stop_is_rejected() {
    let stored = sample();
    for (name, write) in writers() {
        for extra in [&b"."[..], b"\n", b"\x00", b"cos\nsystem\n."] {
            let mut bytes = write(&stored);
            bytes.extend_from_slice(extra);
            let reason = parse_err(&bytes);
            assert!(
                reason.contains("extra data follow the STOP"),
                "{name}: {reason}"
            );
        }
    }
}

#[test]
fn other_shapes_are_rejected() {
    let s = |b: &[u8]| py2_repr(b, None);
    let v25 = [b'v'; 25];
    let sv = String::from_utf8(s(&v25)).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        // Not a dict.
        (
            format!("(lp0\nS{sv}\naS{sv}\na.").into_bytes(),
            "holds a list",
        ),
        (format!("S{sv}\n.").into_bytes(), "holds a string"),
        (b"\x80\x03].".to_vec(), "holds a list"),
        // No 'list' key, extra keys, duplicate keys.
        (b"(dp0\n.".to_vec(), "no 'list' key"),
        (
            format!("(dp0\nS'lists'\n(lS{sv}\naS{sv}\nas.").into_bytes(),
            "no 'list' key",
        ),
        (
            format!("(dp0\nVLIST\n(lS{sv}\naS{sv}\nas.").into_bytes(),
            "no 'list' key",
        ),
        (
            format!("(dp0\nS'list'\n(lS{sv}\naS{sv}\nasS'x'\nS'y'\ns.").into_bytes(),
            "holds 2 entries",
        ),
        (
            format!("(dp0\nS'list'\n(lS{sv}\naS{sv}\nasS'list'\n(ls.").into_bytes(),
            "holds 2 entries",
        ),
        // Wrong value shapes.
        (
            format!("(dp0\nS'list'\nS{sv}\ns.").into_bytes(),
            "is a string",
        ),
        (b"(dp0\nS'list'\n(ls.".to_vec(), "holds 0 strings"),
        (
            format!("(dp0\nS'list'\n(lS{sv}\nas.").into_bytes(),
            "holds 1 strings",
        ),
        (
            format!("(dp0\nS'list'\n(lS{sv}\naS{sv}\naS{sv}\nas.").into_bytes(),
            "holds 3 strings",
        ),
        (
            format!("(dp0\nS'list'\n(S{sv}\nS{sv}\nS{sv}\nls.").into_bytes(),
            "holds 3 strings",
        ),
        // Non-string values.
        (b"(dp0\nS'list'\n(lI1\naI2\nas.".to_vec(), "INT ('I')"),
        (
            b"\x80\x03}X\x04\x00\x00\x00list](K\x01K\x02es.".to_vec(),
            "BININT1 ('K')",
        ),
        (
            b"\x80\x03}X\x04\x00\x00\x00list](NNes.".to_vec(),
            "NONE ('N')",
        ),
        (
            b"\x80\x03}X\x04\x00\x00\x00list](G".to_vec(),
            "BINFLOAT ('G')",
        ),
        (
            b"(dp0\nS'list'\n(l(lass.".to_vec(),
            "puts a list into a list",
        ),
        (
            b"(dp0\nS'list'\n(l(das.".to_vec(),
            "puts a dict into a list",
        ),
        (b"(dp0\nS'list'\n(ds.".to_vec(), "puts a dict into a dict"),
        (b"\x80\x03}]]s.".to_vec(), "uses a list as a dict key"),
        // Stored values of the wrong length or range.
        (
            format!("(dp0\nS'list'\n(lS{sv}\naS'{}'\nas.", "v".repeat(24)).into_bytes(),
            "stored password is 24 bytes long",
        ),
        (
            format!("(dp0\nS'list'\n(lV{}\naS{sv}\nas.", "v".repeat(26)).into_bytes(),
            "stored username is 26 characters long",
        ),
        (
            format!("(dp0\nS'list'\n(lV\\u0100{}\naS{sv}\nas.", "v".repeat(24)).into_bytes(),
            "above U+00FF",
        ),
        (
            [
                b"\x80\x03}X\x04\x00\x00\x00list](X\x1a\x00\x00\x00\xc4\x80".as_slice(),
                &[b'v'; 24],
                b"X\x19\x00\x00\x00",
                &v25,
                b"es.",
            ]
            .concat(),
            "above U+00FF",
        ),
        (
            b"\x80\x03X\x02\x00\x00\x00\xc3(.".to_vec(),
            "not valid UTF-8",
        ),
        // Stack misuse.
        (b"(dp0\nS'list'\ns.".to_vec(), "uses a dict as a dict key"),
        (b"}s.".to_vec(), "finds no object"),
        (b"a.".to_vec(), "finds no object"),
        (b"S'x'\na.".to_vec(), "finds no list"),
        (b"}S'x'\na.".to_vec(), "adds to a dict"),
        (b"]S'x'\nS'y'\ns.".to_vec(), "not of a dict"),
        (b"}(S'x'\nu.".to_vec(), "key without a value"),
        (b"}e.".to_vec(), "no MARK"),
        (b"}(.".to_vec(), "MARK that was never closed"),
        (b"}}.".to_vec(), "leaves 2 objects"),
        (b".".to_vec(), "nothing on the stack"),
        (b"\x80\x03\x80\x03}.".to_vec(), "PROTO is not at the start"),
        (b"\x80\x06}.".to_vec(), "protocol 6"),
        // Strings and memo.
        (b"Slist\n.".to_vec(), "not quoted"),
        (b"S'list\"\n.".to_vec(), "not quoted"),
        (b"S'\n.".to_vec(), "not quoted"),
        (b"S'\\x4'\n.".to_vec(), "\\x escape"),
        (b"V\\u12\n.".to_vec(), "truncated \\u"),
        (b"T\xff\xff\xff\xff.".to_vec(), "negative length"),
        (b"}p\n.".to_vec(), "no decimal memo index"),
        (b"}p-1\n.".to_vec(), "no decimal memo index"),
        (b"}g7\n.".to_vec(), "never stored"),
        (b"}h\x07.".to_vec(), "never stored"),
        (b"}q\x00h\x00.".to_vec(), "list or dict again"),
        (b"(p0\n.".to_vec(), "no object to memoize"),
        (b"\x94.".to_vec(), "no object to memoize"),
        // Frames.
        (
            b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00}.".to_vec(),
            "truncated",
        ),
        (
            b"\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00}\x95\x01\x00\x00\x00\x00\x00\x00\x00."
                .to_vec(),
            "before the previous frame ends",
        ),
        (
            b"\x80\x04\x95\x04\x00\x00\x00\x00\x00\x00\x00}\x8c\x02xy.".to_vec(),
            "past the end of its FRAME",
        ),
        // Not a pickle at all.
        (
            b"{\"list\": [\"a\", \"b\"]}".to_vec(),
            "0x7b is not a pickle opcode",
        ),
        (b"\x00".to_vec(), "0x00 is not a pickle opcode"),
        (Vec::new(), "the file is empty"),
    ];
    for (bytes, expected) in cases {
        let reason = parse_err(&bytes);
        assert!(
            reason.contains(expected),
            "{:?}: expected {expected:?}, got {reason:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn huge_length_prefixes_do_not_allocate() {
    for bytes in [
        &b"X\xff\xff\xff\xff"[..],
        b"\x8d\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\x8e\xff\xff\xff\xff\xff\xff\xff\x7f",
        b"B\xff\xff\xff\xff",
        b"T\xff\xff\xff\x7f",
        b"\x95\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xff.",
    ] {
        assert!(parse_err(bytes).contains("truncated"), "{bytes:?}");
    }
}

#[test]
fn memo_gets_and_other_legal_forms_are_accepted() {
    let sv = String::from_utf8(py2_repr(&[b'q'; 25], None)).unwrap();
    let forms: Vec<Vec<u8>> = vec![
        // The same string twice, through the memo.
        format!("(dp0\nS'list'\np1\n(lp2\nS{sv}\np3\nag3\nas.").into_bytes(),
        // DICT and LIST from marks; SETITEMS.
        format!("(S'list'\n(S{sv}\nS{sv}\nld.").into_bytes(),
        format!("}}(S'list'\n(S{sv}\nS{sv}\nlu.").into_bytes(),
        // Bytes opcodes and BINUNICODE8, LONG_BINPUT/LONG_BINGET.
        [
            b"\x80\x03}X\x04\x00\x00\x00listr\x00\x01\x00\x00](C\x19".as_slice(),
            &[b'q'; 25],
            b"r\x05\x00\x00\x00j\x05\x00\x00\x00es.",
        ]
        .concat(),
        [
            b"\x80\x04}B\x04\x00\x00\x00list](\x8e\x19\x00\x00\x00\x00\x00\x00\x00".as_slice(),
            &[b'q'; 25],
            b"\x8d\x19\x00\x00\x00\x00\x00\x00\x00",
            &[b'q'; 25],
            b"es.",
        ]
        .concat(),
        [
            b"}S\"list\"\r\n]T\x19\x00\x00\x00".as_slice(),
            &[b'q'; 25],
            b"q\x09ah\x09as.",
        ]
        .concat(),
    ];
    for bytes in forms {
        assert_eq!(
            parse_account_file(&bytes)
                .map_err(|e| format!("{e} in {:?}", String::from_utf8_lossy(&bytes))),
            Ok([[b'q'; 25]; 2])
        );
    }
}

#[test]
fn random_mutations_never_panic() {
    let mut rng = ChaCha20Rng::seed_from_u64(31);
    let stored = sample();
    let originals: Vec<Vec<u8>> = writers().iter().map(|(_, w)| w(&stored)).collect();
    let k = key(SPECIAL_KEY);
    let mut parsed = 0;
    for round in 0..30_000 {
        let mut bytes = originals[round % originals.len()].clone();
        for _ in 0..1 + below(&mut rng, 4) {
            let i = below(&mut rng, bytes.len() as u32) as usize;
            match below(&mut rng, 3) {
                0 => bytes[i] = rng.next_u32() as u8,
                1 => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, rng.next_u32() as u8),
            }
            if bytes.is_empty() {
                break;
            }
        }
        if parse_account_file(&bytes).is_ok() {
            parsed += 1;
        }
        let _ = recover_legacy_bytes(&bytes, &path(), &k, &k);
    }
    // Mutations inside the stored values still parse.
    assert!(parsed > 0);
}

#[test]
fn oversized_input_is_rejected() {
    let mut bytes = proto_bin(&sample(), 3);
    bytes.resize(LEGACY_MAX_FILE_BYTES + 1, b'.');
    assert!(parse_err(&bytes).contains("65536 bytes read at most"));
}
