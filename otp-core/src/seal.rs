//! Sealing one value: framing, the one-time pad and the one-time authenticator.
//!
//! A value is framed into exactly `W` bytes (value, random padding, two ASCII
//! digits of its length, as Secure-Python-Link framed it) and XORed with a pad
//! of `W` uniform bytes from the operating system. The *frame* (not the
//! ciphertext), bound to the record id, field, width and the account's name
//! and times, is authenticated with Poly1305 under a fresh one-time key, so a
//! wrong pad fails as surely as an altered store. Pad and Poly1305 key travel
//! in the [`Key`](crate::Key); ciphertext and tag go to the store.
//! Both halves are needed, and each alone is uniformly random (spec/README.md,
//! "Sealing").

use poly1305::universal_hash::KeyInit;
use poly1305::Poly1305;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::primitives::{
    fill_random, Field, PadMaterial, RecordId, MAC_KEY_LEN, MAX_WIDTH, MIN_WIDTH,
};
use crate::Error;

/// Length of a Poly1305 tag.
pub(crate) const TAG_LEN: usize = 16;
/// Domain separation label at the start of the authenticated message of a
/// record without expiry, as format version 1 defined it (and every version
/// since keeps it for such records, which writers copy verbatim).
pub(crate) const MAC_LABEL: &[u8] = b"otp-link tag v1";
/// The label of a record that expires, introduced by format version 2,
/// whose message also holds the `not_after` time. A record whose
/// `not_after` is removed, added or changed is authenticated under the
/// other label or another message, so its keys fail.
pub(crate) const MAC_LABEL_EXPIRY: &[u8] = b"otp-link tag v2";

/// What a sealed value's tag binds besides the field and the frame: the
/// account ([`Binding`]) or the launch record ([`LaunchBinding`]) that holds
/// it. Each kind has its own label, so no tag of one verifies as the other.
pub(crate) trait Bound {
    /// The whole message Poly1305 authenticates for `field`'s `frame`.
    fn mac_message(&self, field: Field, frame: &[u8]) -> Zeroizing<Vec<u8>>;
}

/// The account a sealed value belongs to, as its store entry records it:
/// everything the tag binds besides the field and the frame, so that no bit
/// of the entry can change without the keys failing.
#[derive(Clone, Copy)]
pub(crate) struct Binding<'a> {
    pub(crate) record: &'a RecordId,
    pub(crate) name: &'a str,
    pub(crate) created: u64,
    pub(crate) rotated: Option<u64>,
    pub(crate) not_after: Option<u64>,
}

/// What the store keeps of one sealed value.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Sealed {
    pub(crate) ciphertext: Vec<u8>,
    pub(crate) tag: [u8; TAG_LEN],
}

impl Bound for Binding<'_> {
    fn mac_message(&self, field: Field, frame: &[u8]) -> Zeroizing<Vec<u8>> {
        mac_message(self, field, frame)
    }
}

/// Domain separation label of a launch record's tags (spec/launch.md).
pub(crate) const LAUNCH_MAC_LABEL: &[u8] = b"otp-link launch v1";

/// A launch record, as its file records it: everything its tags bind
/// besides the field and the frame, so that neither the use limit nor the
/// deadline nor the account it belongs to can change without its keys
/// failing.
#[derive(Clone, Copy)]
pub(crate) struct LaunchBinding<'a> {
    /// The launch record's id (its directory's name, and in its keys).
    pub(crate) launch: &'a RecordId,
    /// The account's record id.
    pub(crate) account: &'a RecordId,
    /// The account's username tag, then its password tag, when the launch
    /// record was issued: a rotated or replaced account has others.
    pub(crate) account_tags: &'a [u8; 2 * TAG_LEN],
    pub(crate) issued: u64,
    pub(crate) not_after: u64,
    pub(crate) uses: u32,
}

impl Bound for LaunchBinding<'_> {
    /// `"otp-link launch v1" || launch id || letter || byte(W) || account id
    /// || account tags || be64(issued) || be64(not_after) || be32(uses) ||
    /// frame`: every part before the frame has a fixed length.
    fn mac_message(&self, field: Field, frame: &[u8]) -> Zeroizing<Vec<u8>> {
        let mut msg = Zeroizing::new(Vec::with_capacity(
            LAUNCH_MAC_LABEL.len() + 16 + 2 + 16 + 2 * TAG_LEN + 20 + frame.len(),
        ));
        msg.extend_from_slice(LAUNCH_MAC_LABEL);
        msg.extend_from_slice(self.launch.as_bytes());
        msg.push(field.tag_byte());
        msg.push(frame.len() as u8);
        msg.extend_from_slice(self.account.as_bytes());
        msg.extend_from_slice(self.account_tags);
        msg.extend_from_slice(&self.issued.to_be_bytes());
        msg.extend_from_slice(&self.not_after.to_be_bytes());
        msg.extend_from_slice(&self.uses.to_be_bytes());
        msg.extend_from_slice(frame);
        msg
    }
}

/// Checks that `width` is a valid frame width.
pub(crate) fn check_width(width: usize) -> Result<(), Error> {
    if (MIN_WIDTH..=MAX_WIDTH).contains(&width) {
        Ok(())
    } else {
        Err(Error::InvalidWidth { width })
    }
}

fn check_fits(field: Field, value: &[u8], width: usize) -> Result<(), Error> {
    check_width(width)?;
    if value.len() > width - 2 {
        return Err(Error::ValueTooLong {
            field: field.name(),
            len: value.len(),
            width,
        });
    }
    Ok(())
}

/// Seals `value` with fresh randomness: padding, pad and MAC key all come
/// straight from the operating system, never from a seeded generator.
pub(crate) fn seal(
    account: &impl Bound,
    field: Field,
    width: usize,
    value: &[u8],
) -> Result<(Sealed, PadMaterial), Error> {
    check_fits(field, value, width)?;
    let mut padding = Zeroizing::new(vec![0u8; width - 2 - value.len()]);
    let mut pad = Zeroizing::new(vec![0u8; width]);
    let mut mac_key = Zeroizing::new([0u8; MAC_KEY_LEN]);
    fill_random(&mut padding)?;
    fill_random(&mut pad)?;
    fill_random(&mut mac_key[..])?;
    let sealed = seal_with(account, field, value, &padding, &pad, &mac_key)?;
    Ok((sealed, PadMaterial { pad, mac_key }))
}

/// Seals `value` with caller-supplied randomness. The frame width is the pad's
/// length; `padding` must be exactly `W - 2 - value.len()` bytes.
pub(crate) fn seal_with(
    account: &impl Bound,
    field: Field,
    value: &[u8],
    padding: &[u8],
    pad: &[u8],
    mac_key: &[u8; MAC_KEY_LEN],
) -> Result<Sealed, Error> {
    let width = pad.len();
    check_fits(field, value, width)?;
    assert_eq!(
        padding.len(),
        width - 2 - value.len(),
        "padding must fill the frame exactly"
    );
    let frame = frame(value, padding);
    let ciphertext: Vec<u8> = frame.iter().zip(pad).map(|(f, p)| f ^ p).collect();
    let tag = compute_tag(account, field, &frame, mac_key);
    Ok(Sealed { ciphertext, tag })
}

/// The frame: value, padding, and the value's length as two ASCII digits.
pub(crate) fn frame(value: &[u8], padding: &[u8]) -> Zeroizing<Vec<u8>> {
    let len = value.len();
    debug_assert!(len <= 99);
    let mut frame = Zeroizing::new(Vec::with_capacity(len + padding.len() + 2));
    frame.extend_from_slice(value);
    frame.extend_from_slice(padding);
    frame.push(b'0' + (len / 10) as u8);
    frame.push(b'0' + (len % 10) as u8);
    frame
}

/// The message Poly1305 authenticates: label, record id, field, width, the
/// account's name and times, and the frame (spec/README.md, "Authenticator"). The frame, not the
/// ciphertext: a tag over the ciphertext would prove the store unaltered but
/// not the pad right, and a wrong pad must never yield a value.
pub(crate) fn mac_message(account: &Binding<'_>, field: Field, frame: &[u8]) -> Zeroizing<Vec<u8>> {
    let name = account.name.as_bytes();
    let mut msg = Zeroizing::new(Vec::with_capacity(
        MAC_LABEL.len() + 46 + name.len() + frame.len(),
    ));
    msg.extend_from_slice(match account.not_after {
        None => MAC_LABEL,
        Some(_) => MAC_LABEL_EXPIRY,
    });
    msg.extend_from_slice(account.record.as_bytes());
    msg.push(field.tag_byte());
    msg.push(frame.len() as u8);
    // Names are at most 256 bytes (checked by the store), so two bytes hold
    // the length.
    msg.extend_from_slice(&(name.len() as u16).to_be_bytes());
    msg.extend_from_slice(name);
    msg.extend_from_slice(&account.created.to_be_bytes());
    match account.rotated {
        None => msg.push(0),
        Some(t) => {
            msg.push(1);
            msg.extend_from_slice(&t.to_be_bytes());
        }
    }
    // Its presence is the label's; a fixed eight bytes, so the message
    // stays unambiguous.
    if let Some(t) = account.not_after {
        msg.extend_from_slice(&t.to_be_bytes());
    }
    msg.extend_from_slice(frame);
    msg
}

/// Poly1305 of [`mac_message`] under the one-time key. The tag reveals
/// nothing of the frame: its `s` half is a fresh uniform 128-bit mask.
pub(crate) fn compute_tag(
    account: &impl Bound,
    field: Field,
    frame: &[u8],
    mac_key: &[u8; MAC_KEY_LEN],
) -> [u8; TAG_LEN] {
    let mac = Poly1305::new(poly1305::Key::from_slice(mac_key));
    mac.compute_unpadded(&account.mac_message(field, frame))
        .into()
}

/// Opens a sealed value: removes the pad, authenticates the frame, then
/// reads the value out of it; nothing is returned unless the tag verifies. Every failure — wrong width, wrong tag, a frame that does not
/// parse, a value that is not UTF-8 — is [`Error::AuthenticationFailed`].
pub(crate) fn open(
    account: &impl Bound,
    field: Field,
    sealed: &Sealed,
    pad: &[u8],
    mac_key: &[u8; MAC_KEY_LEN],
) -> Result<Zeroizing<String>, Error> {
    let width = sealed.ciphertext.len();
    if pad.len() != width {
        return Err(Error::AuthenticationFailed);
    }
    let frame: Zeroizing<Vec<u8>> = Zeroizing::new(
        sealed
            .ciphertext
            .iter()
            .zip(pad)
            .map(|(c, p)| c ^ p)
            .collect(),
    );
    let expected = compute_tag(account, field, &frame, mac_key);
    if !bool::from(expected.ct_eq(&sealed.tag)) {
        return Err(Error::AuthenticationFailed);
    }
    let len = parse_length(&frame).ok_or(Error::AuthenticationFailed)?;
    let value = std::str::from_utf8(&frame[..len]).map_err(|_| Error::AuthenticationFailed)?;
    Ok(Zeroizing::new(value.to_owned()))
}

/// Reads the two trailing digits of a frame; `None` when they are not digits
/// or claim more bytes than the frame holds.
fn parse_length(frame: &[u8]) -> Option<usize> {
    let [.., tens, ones] = frame else {
        return None;
    };
    if !tens.is_ascii_digit() || !ones.is_ascii_digit() {
        return None;
    }
    let len = usize::from(tens - b'0') * 10 + usize::from(ones - b'0');
    (len <= frame.len() - 2).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RID: RecordId = RecordId::from_bytes([7; 16]);

    fn rid() -> Binding<'static> {
        Binding {
            record: &RID,
            name: "db",
            created: 1,
            rotated: None,
            not_after: None,
        }
    }

    #[test]
    fn frame_is_value_padding_then_two_digits() {
        let f = frame(b"abc", b"XY");
        assert_eq!(&f[..], b"abcXY03");
    }

    #[test]
    fn open_reverses_seal_at_every_length_and_width() {
        for width in [3, 25, 64, 101] {
            for len in 0..=width - 2 {
                let value: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                let (sealed, secret) = seal(&rid(), Field::Password, width, &value).unwrap();
                assert_eq!(sealed.ciphertext.len(), width);
                let opened = open(
                    &rid(),
                    Field::Password,
                    &sealed,
                    &secret.pad,
                    &secret.mac_key,
                )
                .unwrap();
                assert_eq!(opened.as_bytes(), &value[..]);
            }
        }
    }

    #[test]
    fn value_one_byte_over_the_width_is_refused_with_the_limit() {
        let Err(err) = seal(&rid(), Field::Username, 25, &[b'x'; 24]) else {
            panic!("a 24-byte value was sealed into a 25-byte frame");
        };
        assert!(matches!(
            err,
            Error::ValueTooLong {
                len: 24,
                width: 25,
                ..
            }
        ));
        assert!(err.to_string().contains("--width"), "{err}");
        assert!(err.to_string().contains("at most 23 bytes"), "{err}");
    }

    #[test]
    fn widths_outside_3_to_101_are_refused() {
        for width in [0, 1, 2, 102, 1000] {
            assert!(matches!(
                seal(&rid(), Field::Username, width, b""),
                Err(Error::InvalidWidth { .. })
            ));
        }
    }

    #[test]
    fn tag_binds_record_name_times_and_field() {
        let (sealed, s) = seal(&rid(), Field::Username, 64, b"alice").unwrap();
        let other_id = RecordId::from_bytes([8; 16]);
        for other in [
            Binding {
                record: &other_id,
                ..rid()
            },
            Binding {
                name: "db2",
                ..rid()
            },
            Binding {
                created: 2,
                ..rid()
            },
            Binding {
                rotated: Some(1),
                ..rid()
            },
            Binding {
                not_after: Some(u64::MAX),
                ..rid()
            },
        ] {
            assert!(matches!(
                open(&other, Field::Username, &sealed, &s.pad, &s.mac_key),
                Err(Error::AuthenticationFailed)
            ));
        }
        assert!(matches!(
            open(&rid(), Field::Password, &sealed, &s.pad, &s.mac_key),
            Err(Error::AuthenticationFailed)
        ));
    }

    fn launch<'a>(
        launch: &'a RecordId,
        account: &'a RecordId,
        tags: &'a [u8; 32],
    ) -> LaunchBinding<'a> {
        LaunchBinding {
            launch,
            account,
            account_tags: tags,
            issued: 10,
            not_after: 70,
            uses: 1,
        }
    }

    /// The launch record's tag binds its id, the account and its tags, the
    /// times and the use limit, so that editing a limit fails; and no
    /// account tag verifies as a launch tag of the same frame.
    #[test]
    fn launch_tag_binds_the_limits_the_account_and_its_label() {
        let (l, a, tags) = (RecordId::from_bytes([1; 16]), RID, [3u8; 32]);
        let good = launch(&l, &a, &tags);
        let (sealed, s) = seal(&good, Field::Username, 25, b"scott").unwrap();
        let opened = open(&good, Field::Username, &sealed, &s.pad, &s.mac_key).unwrap();
        assert_eq!(opened.as_str(), "scott");
        let other_id = RecordId::from_bytes([9; 16]);
        let other_tags = [4u8; 32];
        for other in [
            LaunchBinding {
                launch: &other_id,
                ..good
            },
            LaunchBinding {
                account: &other_id,
                ..good
            },
            LaunchBinding {
                account_tags: &other_tags,
                ..good
            },
            LaunchBinding { issued: 11, ..good },
            LaunchBinding {
                not_after: 71,
                ..good
            },
            LaunchBinding { uses: 2, ..good },
        ] {
            assert!(matches!(
                open(&other, Field::Username, &sealed, &s.pad, &s.mac_key),
                Err(Error::AuthenticationFailed)
            ));
        }
        let (account_sealed, s) = seal(&rid(), Field::Username, 25, b"scott").unwrap();
        let message = good.mac_message(Field::Username, b"x");
        assert!(message.starts_with(LAUNCH_MAC_LABEL));
        assert_eq!(message.len(), 18 + 16 + 2 + 16 + 32 + 8 + 8 + 4 + 1);
        assert!(matches!(
            open(&good, Field::Username, &account_sealed, &s.pad, &s.mac_key),
            Err(Error::AuthenticationFailed)
        ));
    }

    /// A not_after time is bound: the tag of an expiring record fails when
    /// the time changes by one second or goes, and so does a record
    /// without one that gains one; each label opens only its own schema.
    #[test]
    fn tag_binds_the_not_after_time_and_its_presence() {
        let expiring = Binding {
            not_after: Some(1_000),
            ..rid()
        };
        let (sealed, s) = seal(&expiring, Field::Password, 25, b"pw").unwrap();
        let opened = open(&expiring, Field::Password, &sealed, &s.pad, &s.mac_key).unwrap();
        assert_eq!(opened.as_str(), "pw");
        for other in [
            Binding {
                not_after: Some(1_001),
                ..rid()
            },
            Binding {
                not_after: Some(999),
                ..rid()
            },
            rid(),
        ] {
            assert!(matches!(
                open(&other, Field::Password, &sealed, &s.pad, &s.mac_key),
                Err(Error::AuthenticationFailed)
            ));
        }
        let message = mac_message(&expiring, Field::Password, b"frame");
        assert!(message.starts_with(b"otp-link tag v2"));
        assert!(message.ends_with(&[&1_000u64.to_be_bytes()[..], b"frame"].concat()));
        assert!(mac_message(&rid(), Field::Password, b"frame").starts_with(b"otp-link tag v1"));
    }

    #[test]
    fn wrong_pad_with_the_right_mac_key_fails() {
        let (sealed, s) = seal(&rid(), Field::Username, 25, b"scott").unwrap();
        for i in 0..25 * 8 {
            let mut pad = s.pad.to_vec();
            pad[i / 8] ^= 1 << (i % 8);
            assert!(matches!(
                open(&rid(), Field::Username, &sealed, &pad, &s.mac_key),
                Err(Error::AuthenticationFailed)
            ));
        }
    }

    #[test]
    fn every_flipped_bit_of_ciphertext_or_tag_fails() {
        let (sealed, s) = seal(&rid(), Field::Username, 25, b"bob").unwrap();
        for i in 0..(sealed.ciphertext.len() + TAG_LEN) * 8 {
            let mut bad = sealed.clone();
            let byte = i / 8;
            if byte < bad.ciphertext.len() {
                bad.ciphertext[byte] ^= 1 << (i % 8);
            } else {
                bad.tag[byte - bad.ciphertext.len()] ^= 1 << (i % 8);
            }
            assert!(matches!(
                open(&rid(), Field::Username, &bad, &s.pad, &s.mac_key),
                Err(Error::AuthenticationFailed)
            ));
        }
    }

    #[test]
    fn frame_length_digits_out_of_range_are_rejected() {
        assert_eq!(parse_length(b"ab02"), Some(2));
        assert_eq!(parse_length(b"ab03"), None);
        assert_eq!(parse_length(b"ab0x"), None);
        assert_eq!(parse_length(b"0"), None);
    }
}
