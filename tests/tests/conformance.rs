//! The spec's test vectors: committed files equal the seeded generator's
//! output, every vector is read as its `fails_at` layer says (through the
//! library and through the binary), and success vectors are re-derived by
//! code written from spec/README.md alone — its own frame, XOR, MAC message,
//! Poly1305, CRC-32 and a generic CBOR decoder (ciborium). Launch vectors
//! are re-derived from spec/launch.md the same way, and their records are
//! written where the spec puts them, beside the store.

use std::collections::BTreeSet;
use std::path::Path;

use assert_cmd::Command;
use ciborium::Value;
use otp_core::{Error, Expired, KeyKind, Keys, Store};
use otp_link_tests::{committed_vectors, generate, to_file_text, vectors_dir, Layer, Vector};
use poly1305::universal_hash::KeyInit;

/// The names of the files in the vector's launch directory, after a read.
fn launch_files(dir: &Path, v: &Vector) -> Vec<String> {
    assert!(v.launch.is_some(), "a launch vector");
    match std::fs::read_dir(dir.join("store.cbor.launch")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn committed_vectors_equal_the_generator_byte_for_byte() {
    let generated = generate();
    let names: BTreeSet<_> = generated.iter().map(|(n, _)| n.clone()).collect();
    let on_disk: BTreeSet<_> = committed_vectors().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names, on_disk,
        "regenerate with: cargo run -p otp-link-tests --bin gen-vectors"
    );
    for (name, vector) in generated {
        let text = std::fs::read_to_string(vectors_dir().join(format!("{name}.json"))).unwrap();
        assert_eq!(
            text,
            to_file_text(&vector),
            "spec/vectors/{name}.json differs from the generator"
        );
    }
}

#[test]
fn vectors_cover_every_layer() {
    let layers: BTreeSet<String> = committed_vectors()
        .iter()
        .map(|(_, v)| format!("{:?}", v.fails_at))
        .collect();
    for layer in [
        "None", "Key", "Pair", "Store", "Version", "Record", "Auth", "Frame", "Expired", "Spent",
        "Revoked", "Gone",
    ] {
        assert!(layers.contains(layer), "no vector fails at {layer}");
    }
}

/// One module of tests per vector file, named after it (`-` as `_`), so
/// that a failure names the vector: `vector::fail_store_name_twice::binary`.
/// `the_vector_list_is_every_file_on_disk` checks that the list is
/// complete.
macro_rules! vectors {
    ($($name:ident),* $(,)?) => {
        /// The vectors listed below, by module name.
        const LISTED: &[&str] = &[$(stringify!($name)),*];

        mod vector {
            $(
                mod $name {
                    #[test]
                    fn library() {
                        super::super::library_reads_as_its_layer_says(stringify!($name));
                    }

                    #[test]
                    fn binary() {
                        super::super::binary_exits_with_its_layers_code(stringify!($name));
                    }
                }
            )*
        }
    };
}

vectors!(
    ok_width_25,
    ok_width_64_utf8,
    ok_width_3_empty,
    ok_width_101_full,
    ok_three_accounts,
    fail_auth_ciphertext_bit,
    fail_auth_tag_bit,
    fail_auth_renamed,
    fail_auth_created_time,
    fail_auth_wrong_pad,
    fail_auth_fields_relabelled,
    fail_auth_other_account_pads,
    fail_auth_width_mismatch,
    fail_key_typo,
    fail_key_version,
    fail_key_uppercase,
    fail_pair_order,
    fail_pair_records,
    fail_record_unknown,
    fail_store_truncated,
    fail_store_format_tag,
    fail_version_3,
    fail_frame_length_digits,
    fail_frame_not_utf8,
    fail_store_integer_not_shortest,
    fail_store_length_not_shortest,
    fail_store_name_twice,
    fail_store_id_twice,
    ok_expiry_before_not_after,
    ok_expiry_at_the_last_second,
    ok_expiry_plain_account_in_version_2,
    fail_expired,
    fail_auth_not_after_edited,
    fail_auth_not_after_removed,
    fail_auth_not_after_added,
    fail_store_not_after_in_version_1,
    fail_store_version_2_without_expiry,
    ok_name_format_characters,
    fail_store_name_control,
    fail_store_record_trailing_byte,
    fail_version_text,
    fail_version_3_rest_unread,
    fail_key_vertical_tab,
    launch_ok,
    launch_ok_last_of_three_uses,
    launch_fail_spent,
    launch_fail_spent_three_of_three,
    launch_fail_expired,
    launch_fail_revoked_rotated,
    launch_fail_revoked_removed,
    launch_fail_auth_uses_edited,
    launch_fail_auth_not_after_edited,
    launch_fail_pair_mixed,
    launch_fail_gone,
);

#[test]
fn the_vector_list_is_every_file_on_disk() {
    let listed: BTreeSet<String> = LISTED.iter().map(|m| m.replace('_', "-")).collect();
    let on_disk: BTreeSet<String> = committed_vectors().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        listed, on_disk,
        "list every file of spec/vectors in vectors!"
    );
    let generated: BTreeSet<String> = otp_link_tests::vector_names()
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(listed, generated);
}

/// The committed vector whose module name is `module`.
fn load(module: &str) -> (String, Vector) {
    let name = module.replace('_', "-");
    let path = vectors_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (name, serde_json::from_str(&text).unwrap())
}

fn layer_of<T>(result: &Result<T, Error>) -> Layer {
    match result {
        Ok(_) => Layer::None,
        Err(Error::MalformedKey { .. }) => Layer::Key,
        Err(Error::MismatchedKeys { .. }) => Layer::Pair,
        Err(Error::StoreCorrupt { .. }) => Layer::Store,
        Err(Error::UnsupportedVersion { .. }) => Layer::Version,
        Err(Error::UnknownRecord { .. }) => Layer::Record,
        // Auth and frame failures are one error by design.
        Err(Error::AuthenticationFailed) => Layer::Auth,
        Err(Error::KeysExpired { reason, .. }) => match reason {
            Expired::LaunchUsedUp { .. } => Layer::Spent,
            Expired::LaunchRevoked => Layer::Revoked,
            Expired::LaunchGone => Layer::Gone,
            _ => Layer::Expired,
        },
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

/// The same scan over the bytes in memory, with the clock at the vector's
/// `now` when it has one.
fn in_memory(v: &Vector, bytes: &[u8], window: usize, keys: &Keys) -> Result<(), Error> {
    match v.now {
        Some(now) => otp_core::vectors::recover_from_bytes_at(bytes, window, keys, now),
        None => otp_core::vectors::recover_from_bytes(bytes, window, keys),
    }
    .map(drop)
}

/// `recover` (through the file, so through the windowed reader, and on the
/// system clock) fails at the vector's layer, or gives its values; so does
/// the same scan over the bytes in memory, at the vector's `now`, at window
/// sizes that split the store anywhere; and the readers that take the store
/// whole (`list`, `parse_store`) refuse it exactly when its layer is the
/// store's. The vectors' times are chosen so that any clock between their
/// creation (2026-11-25) and 2100 agrees with their `now`.
fn library_reads_as_its_layer_says(module: &str) {
    let (name, v) = load(module);
    let dir = tempfile::tempdir().unwrap();
    let path = v.install(dir.path());
    let expected = match v.fails_at {
        Layer::Frame => Layer::Auth,
        layer => layer,
    };
    let result =
        Keys::parse(&v.user_key, &v.pass_key).and_then(|keys| Store::at(&path).recover(&keys));
    assert_eq!(layer_of(&result), expected, "{name}: {result:?}");
    if let Ok(c) = &result {
        assert_eq!(Some(c.username()), v.username.as_deref(), "{name}");
        assert_eq!(Some(c.password()), v.password.as_deref(), "{name}");
    }
    // A launch record's file is renamed to count + 1 when a use is spent,
    // and only then.
    if let Some(launch) = &v.launch {
        let spent = launch
            .count
            .map(|c| format!("{}.{}", launch.id, c + u32::from(result.is_ok())));
        assert_eq!(
            launch_files(dir.path(), &v),
            Vec::from_iter(spent),
            "{name}"
        );
    }
    let bytes = hex::decode(&v.store).unwrap();
    let launch_keys =
        Keys::parse(&v.user_key, &v.pass_key).is_ok_and(|keys| keys.kind() == KeyKind::Launch);
    if let Some(keys) = Keys::parse(&v.user_key, &v.pass_key)
        .ok()
        .filter(|_| !launch_keys)
    {
        for window in [1, 7, 64, 100, bytes.len() + 1] {
            let in_memory = in_memory(&v, &bytes, window, &keys);
            assert_eq!(layer_of(&in_memory), expected, "{name}, window {window}");
        }
    }
    let whole = matches!(v.fails_at, Layer::Store | Layer::Version);
    let listed = Store::at(&path).accounts();
    match (whole, &listed) {
        (false, Ok(_)) => {}
        (true, Err(_)) => assert_eq!(layer_of(&listed), v.fails_at, "{name}: list"),
        _ => panic!("{name}: list gave {listed:?}"),
    }
    assert_eq!(
        otp_core::vectors::parse_store(&bytes).is_err(),
        whole,
        "{name}: parse_store"
    );
}

/// `otp-link recover` exits with the code of the library's error for the
/// vector, prints the values on success and one line naming no key
/// otherwise.
fn binary_exits_with_its_layers_code(module: &str) {
    let (name, v) = load(module);
    let dir = tempfile::tempdir().unwrap();
    let path = v.install(dir.path());
    let out = Command::new(otp_link_tests::otp_link_bin())
        .arg("--store")
        .arg(&path)
        .args(["recover", "--format", "json", &v.user_key, &v.pass_key])
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    // The binary exits with the code the library gives the same failure
    // (`Error::exit_code`, the one mapping); the library's layer is checked
    // by `library_reads_as_its_layer_says`.
    // On a fresh copy: the binary may have spent a launch record's use.
    let fresh = tempfile::tempdir().unwrap();
    let fresh_path = v.install(fresh.path());
    let expected = Keys::parse(&v.user_key, &v.pass_key)
        .and_then(|keys| Store::at(&fresh_path).recover(&keys))
        .map_or_else(|e| i32::from(e.exit_code()), |_| 0);
    assert_eq!(expected == 0, v.fails_at == Layer::None, "{name}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code, expected, "{name}: {stderr}");
    if matches!(
        v.fails_at,
        Layer::Expired | Layer::Spent | Layer::Revoked | Layer::Gone
    ) {
        assert_eq!(code, 12, "{name}: keys used up or expired");
    }
    if code == 0 {
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(got["username"], v.username.clone().unwrap(), "{name}");
        assert_eq!(got["password"], v.password.clone().unwrap(), "{name}");
    } else {
        assert!(out.stdout.is_empty(), "{name}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.starts_with("otp-link: "), "{name}: {stderr}");
        assert!(
            !stderr.contains(&v.user_key[20..60]),
            "{name} leaks the key: {stderr}"
        );
    }
}

/// CRC-32 (IEEE), table-driven: a second implementation beside otp-core's.
fn crc32(bytes: &[u8]) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|n| {
            (0..8).fold(n, |c, _| {
                if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                }
            })
        })
        .collect();
    !bytes.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}

#[test]
fn success_vectors_rederive_from_the_spec() {
    for (name, v) in committed_vectors()
        .into_iter()
        .filter(|(_, v)| v.fails_at == Layer::None)
    {
        let rid = hex::decode(&v.record_id).unwrap();
        for (f, letter, value) in [
            (&v.user, b'u', v.username.as_ref().unwrap()),
            (&v.pass, b'p', v.password.as_ref().unwrap()),
        ] {
            let h = |s: &str| hex::decode(s).unwrap();
            assert_eq!(h(&f.value), value.as_bytes(), "{name}");
            // Frame: value, padding, two ASCII digits; W bytes in all.
            let mut frame = value.as_bytes().to_vec();
            frame.extend(h(&f.padding));
            frame.extend(format!("{:02}", value.len()).as_bytes());
            assert_eq!(frame.len(), v.width, "{name}");
            assert_eq!(frame, h(&f.frame), "{name}");
            // Ciphertext: frame XOR pad.
            let ct: Vec<u8> = frame.iter().zip(h(&f.pad)).map(|(a, b)| a ^ b).collect();
            assert_eq!(ct, h(&f.ciphertext), "{name}");
            // MAC message and Poly1305 tag: label v2 and the not_after
            // time for an account that expires.
            let mut msg = match v.not_after {
                None => b"otp-link tag v1".to_vec(),
                Some(_) => b"otp-link tag v2".to_vec(),
            };
            msg.extend(&rid);
            msg.push(letter);
            msg.push(v.width as u8);
            msg.extend((v.name.len() as u16).to_be_bytes());
            msg.extend(v.name.as_bytes());
            msg.extend(v.created.to_be_bytes());
            match v.rotated {
                None => msg.push(0),
                Some(t) => {
                    msg.push(1);
                    msg.extend(t.to_be_bytes());
                }
            }
            if let Some(t) = v.not_after {
                msg.extend(t.to_be_bytes());
            }
            msg.extend(&frame);
            assert_eq!(msg, h(&f.mac_message), "{name}");
            let key = h(&f.mac_key);
            let tag =
                poly1305::Poly1305::new(poly1305::Key::from_slice(&key)).compute_unpadded(&msg);
            assert_eq!(tag.as_slice(), h(&f.tag), "{name}");
            // Key text.
            let body = format!(
                "otp1-{}-{}-{}-{}",
                letter as char, v.record_id, f.pad, f.mac_key
            );
            assert_eq!(
                f.key,
                format!("{body}-{:08x}", crc32(body.as_bytes())),
                "{name}"
            );
        }
        match &v.launch {
            None => {
                assert_eq!(v.user_key, v.user.key);
                assert_eq!(v.pass_key, v.pass.key);
            }
            Some(launch) => {
                launch_rederives_from_the_spec(&name, &v, launch);
                assert_eq!(v.user_key, launch.user.key);
                assert_eq!(v.pass_key, launch.pass.key);
            }
        }
    }
}

/// A launch vector's record, re-derived from spec/launch.md sections 2, 4
/// and 5 alone: each field's frame, XOR, the launch MAC message, its
/// Poly1305 tag and the `otpl1-` key text; the account tags it binds are the
/// store's; and the record file decodes, with a generic CBOR decoder, to
/// exactly the entries the spec lists, in order.
fn launch_rederives_from_the_spec(name: &str, v: &Vector, launch: &otp_link_tests::LaunchVector) {
    let h = |s: &str| hex::decode(s).unwrap();
    let account_tags = [h(&v.user.tag), h(&v.pass.tag)].concat();
    assert_eq!(h(&launch.account_tags), account_tags, "{name}");
    let record: Value = ciborium::from_reader(&h(&launch.record)[..]).unwrap();
    let record = record.as_map().unwrap();
    let keys: Vec<_> = record.iter().map(|(k, _)| k.as_text().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "format",
            "version",
            "account",
            "account_tags",
            "width",
            "issued",
            "not_after",
            "uses",
            "username",
            "password"
        ],
        "{name}"
    );
    assert_eq!(map_get(record, "format").as_text(), Some("otp-link launch"));
    assert_eq!(map_get(record, "version").as_integer(), Some(1.into()));
    assert_eq!(
        map_get(record, "account").as_bytes(),
        Some(&h(&v.record_id))
    );
    assert_eq!(
        map_get(record, "account_tags").as_bytes(),
        Some(&account_tags)
    );
    for (key, value) in [
        ("width", launch.width as u64),
        ("issued", launch.issued),
        ("not_after", launch.not_after),
        ("uses", u64::from(launch.uses)),
    ] {
        assert_eq!(
            map_get(record, key).as_integer(),
            Some(value.into()),
            "{name}: {key}"
        );
    }
    for (f, letter, value, field) in [
        (&launch.user, b'u', v.username.as_ref().unwrap(), "username"),
        (&launch.pass, b'p', v.password.as_ref().unwrap(), "password"),
    ] {
        let mut frame = value.as_bytes().to_vec();
        frame.extend(h(&f.padding));
        frame.extend(format!("{:02}", value.len()).as_bytes());
        assert_eq!(frame, h(&f.frame), "{name}");
        let ct: Vec<u8> = frame.iter().zip(h(&f.pad)).map(|(a, b)| a ^ b).collect();
        assert_eq!(ct, h(&f.ciphertext), "{name}");
        let mut msg = b"otp-link launch v1".to_vec();
        msg.extend(h(&launch.id));
        msg.push(letter);
        msg.push(launch.width as u8);
        msg.extend(h(&v.record_id));
        msg.extend(&account_tags);
        msg.extend(launch.issued.to_be_bytes());
        msg.extend(launch.not_after.to_be_bytes());
        msg.extend(launch.uses.to_be_bytes());
        msg.extend(&frame);
        assert_eq!(msg, h(&f.mac_message), "{name}");
        let tag = poly1305::Poly1305::new(poly1305::Key::from_slice(&h(&f.mac_key)))
            .compute_unpadded(&msg);
        assert_eq!(tag.as_slice(), h(&f.tag), "{name}");
        let sealed = map_get(record, field).as_array().unwrap();
        assert_eq!(sealed[0].as_bytes(), Some(&ct), "{name}");
        assert_eq!(
            sealed[1].as_bytes().map(Vec::as_slice),
            Some(tag.as_slice())
        );
        let body = format!(
            "otpl1-{}-{}-{}-{}",
            letter as char, launch.id, f.pad, f.mac_key
        );
        assert_eq!(
            f.key,
            format!("{body}-{:08x}", crc32(body.as_bytes())),
            "{name}"
        );
    }
}

fn map_get<'a>(map: &'a [(Value, Value)], key: &str) -> &'a Value {
    map.iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {key}"))
}

#[test]
fn success_vector_stores_decode_with_a_generic_cbor_decoder() {
    for (name, v) in committed_vectors()
        .into_iter()
        .filter(|(_, v)| v.fails_at == Layer::None)
    {
        let bytes = hex::decode(&v.store).unwrap();
        let top: Value = ciborium::from_reader(&bytes[..]).unwrap();
        let top = top.as_map().unwrap();
        let keys: Vec<_> = top.iter().map(|(k, _)| k.as_text().unwrap()).collect();
        assert_eq!(keys, ["format", "version", "accounts"], "{name}");
        assert_eq!(map_get(top, "format").as_text(), Some("otp-link store"));
        let version = map_get(top, "version").as_integer().unwrap();
        let accounts = map_get(top, "accounts").as_array().unwrap();
        let mut found = false;
        let mut any_expires = false;
        for entry in accounts {
            let entry = entry.as_array().unwrap();
            assert_eq!(entry.len(), 3);
            let id = entry[0].as_bytes().unwrap();
            assert_eq!(id.len(), 16);
            assert!(entry[1].as_text().is_some());
            let record: Value = ciborium::from_reader(&entry[2].as_bytes().unwrap()[..]).unwrap();
            let record = record.as_map().unwrap();
            let keys: Vec<_> = record.iter().map(|(k, _)| k.as_text().unwrap()).collect();
            let expires = keys.contains(&"not_after");
            any_expires |= expires;
            let expected: &[&str] = if expires {
                &[
                    "width",
                    "created",
                    "rotated",
                    "not_after",
                    "username",
                    "password",
                ]
            } else {
                &["width", "created", "rotated", "username", "password"]
            };
            assert_eq!(keys, expected, "{name}");
            if hex::encode(id) == v.record_id {
                found = true;
                let not_after = expires.then(|| map_get(record, "not_after").as_integer().unwrap());
                assert_eq!(not_after, v.not_after.map(Into::into), "{name}");
                assert_eq!(
                    map_get(record, "width").as_integer(),
                    Some((v.width as u64).into())
                );
                for (field, fv) in [("username", &v.user), ("password", &v.pass)] {
                    let sealed = map_get(record, field).as_array().unwrap();
                    assert_eq!(
                        hex::encode(sealed[0].as_bytes().unwrap()),
                        fv.ciphertext,
                        "{name}"
                    );
                    assert_eq!(hex::encode(sealed[1].as_bytes().unwrap()), fv.tag, "{name}");
                }
            }
        }
        assert!(found, "{name}: the vector's record is not in its store");
        // Version 2 exactly when an account of the store expires.
        assert_eq!(version, if any_expires { 2 } else { 1 }.into(), "{name}");
        // Neither value appears in the store bytes.
        for value in [v.username.unwrap(), v.password.unwrap()] {
            if value.len() >= 4 {
                assert!(
                    !bytes.windows(value.len()).any(|w| w == value.as_bytes()),
                    "{name}"
                );
            }
        }
    }
}
