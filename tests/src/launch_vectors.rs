//! The launch vectors (`spec/vectors/launch-*.json`): launch records of the
//! account `w25`, good and spent, expired, revoked, edited and gone.
//!
//! Their randomness comes from a seeded stream of its own, so that adding an
//! account vector (which draws from `SEED`) never moves these pads, nor the
//! other way round. Each vector is one row of [`ROWS`], as in `lib.rs`.

use otp_core::vectors::{self, VectorLaunch};
use otp_core::Field;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use serde::{Deserialize, Serialize};

use super::{
    replace_once, store_of, vector, Account, FieldVector, Fixtures, Layer, Rng, Sealed, Vector,
    IN_2100, NOW,
};

/// The seed of the launch vectors' randomness.
pub const LAUNCH_SEED: [u8; 32] = *b"otp-link launch vectors v1 seed.";

/// When the launch records were issued: 2026-11-25T00:01:40Z, after the
/// account's creation.
const ISSUED: u64 = 1_795_600_100;

/// A vector's launch record (spec/README.md section 12).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LaunchVector {
    /// The launch record's id, hex.
    pub id: String,
    /// The record file's name, the uses spent; `None`: no record is written.
    pub count: Option<u32>,
    /// The record file, hex.
    pub record: String,
    /// Its account's record id, hex.
    pub account: String,
    /// The account's username tag and password tag at issue, hex.
    pub account_tags: String,
    /// Its frame width.
    pub width: usize,
    /// When it was issued.
    pub issued: u64,
    /// The last second its keys open it.
    pub not_after: u64,
    /// How many times they open it.
    pub uses: u32,
    /// Every intermediate of its username field.
    pub user: FieldVector,
    /// Every intermediate of its password field.
    pub pass: FieldVector,
}

/// A launch record with the randomness that made it.
struct Launch {
    id: [u8; 16],
    not_after: u64,
    uses: u32,
    user: Sealed,
    pass: Sealed,
}

impl Launch {
    fn new(rng: &mut Rng, of: &Account, uses: u32, not_after: u64) -> Self {
        let value = |s: &Sealed| String::from_utf8(s.value.clone()).expect("UTF-8");
        Launch {
            id: rng.array(),
            not_after,
            uses,
            user: Sealed::new(rng, &value(&of.user), of.width),
            pass: Sealed::new(rng, &value(&of.pass), of.width),
        }
    }

    fn as_vector_launch(&self, of: &Account) -> VectorLaunch<'_> {
        VectorLaunch {
            launch_id: self.id,
            account: of.record_id,
            account_tags: account_tags(of),
            issued: ISSUED,
            not_after: self.not_after,
            uses: self.uses,
            username: self.user.as_vector_value(),
            password: self.pass.as_vector_value(),
        }
    }

    fn key(&self, field: Field) -> String {
        let sealed = match field {
            Field::Username => &self.user,
            Field::Password => &self.pass,
        };
        vectors::launch_key_text(self.id, field, &sealed.pad, sealed.mac_key)
    }

    fn keys(&self) -> (String, String) {
        (self.key(Field::Username), self.key(Field::Password))
    }

    fn record(&self, of: &Account) -> Vec<u8> {
        vectors::encode_launch_record(&self.as_vector_launch(of)).expect("fits")
    }

    fn describe(&self, of: &Account, field: Field) -> FieldVector {
        let launch = self.as_vector_launch(of);
        let sealed = match field {
            Field::Username => &self.user,
            Field::Password => &self.pass,
        };
        let frame = vectors::frame(&sealed.value, &sealed.padding);
        let (ciphertext, tag) = vectors::seal_launch(&launch, field).expect("fits");
        FieldVector {
            value: hex::encode(&sealed.value),
            padding: hex::encode(&sealed.padding),
            frame: hex::encode(&frame),
            pad: hex::encode(&sealed.pad),
            mac_key: hex::encode(sealed.mac_key),
            mac_message: hex::encode(vectors::launch_mac_message(&launch, field, &frame)),
            ciphertext: hex::encode(&ciphertext),
            tag: hex::encode(tag),
            key: self.key(field),
        }
    }
}

/// An account's username tag, then its password tag.
fn account_tags(of: &Account) -> [u8; 32] {
    let account = of.as_vector_account();
    let tag = |field| vectors::seal(&account, field).expect("fits").1;
    let mut tags = [0u8; 32];
    tags[..16].copy_from_slice(&tag(Field::Username));
    tags[16..].copy_from_slice(&tag(Field::Password));
    tags
}

/// The launch records the vectors are made of, drawn from
/// [`LAUNCH_SEED`] in this order; a new one goes at the end.
struct LaunchFixtures<'f> {
    f: &'f Fixtures,
    /// One use, until 2100.
    one: Launch,
    /// Three uses, until 2100.
    three: Launch,
    /// One use, expired on 2026-11-25T00:02:39Z.
    expired: Launch,
    /// `w25` rotated: its record id and name, new pads and tags.
    w25_rotated: Account,
}

impl<'f> LaunchFixtures<'f> {
    fn draw(f: &'f Fixtures) -> Self {
        let mut rng = Rng(ChaCha20Rng::from_seed(LAUNCH_SEED));
        let one = Launch::new(&mut rng, &f.w25, 1, IN_2100);
        let three = Launch::new(&mut rng, &f.w25, 3, IN_2100);
        let expired = Launch::new(&mut rng, &f.w25, 1, ISSUED + 59);
        let mut w25_rotated = Account::new(&mut rng, &f.w25.name, 25, "scott", "tiger");
        w25_rotated.record_id = f.w25.record_id;
        w25_rotated.rotated = Some(ISSUED + 100);
        LaunchFixtures {
            f,
            one,
            three,
            expired,
            w25_rotated,
        }
    }
}

/// What a launch vector gives a reader.
struct Case<'l> {
    store: Vec<u8>,
    launch: &'l Launch,
    /// The record file's bytes; `None`: the launch's own.
    record: Option<Vec<u8>>,
    count: Option<u32>,
    keys: Option<(String, String)>,
    now: Option<u64>,
}

impl<'l> Case<'l> {
    /// `launch`'s record with `count` uses spent, beside the store of
    /// `w25`, and its own keys.
    fn of(l: &LaunchFixtures<'_>, launch: &'l Launch, count: u32) -> Self {
        Case {
            store: l.f.one(),
            launch,
            record: None,
            count: Some(count),
            keys: None,
            now: None,
        }
    }
}

/// One launch vector file.
struct Row {
    name: &'static str,
    description: &'static str,
    fails_at: Layer,
    make: for<'l> fn(&'l LaunchFixtures<'_>) -> Case<'l>,
}

/// `bytes` of a launch record with the use limit 1 made `to`.
fn with_uses(bytes: &[u8], to: u8) -> Vec<u8> {
    replace_once(
        bytes,
        b"\x64uses\x01",
        &[b"\x64uses".as_slice(), &[to]].concat(),
    )
}

/// Every launch vector, in the order `generate` gives them.
const ROWS: &[Row] = &[
    Row {
        name: "launch-ok",
        description: "a fresh single-use launch record of account 'legacy-width' (file ID.0): the keys open it, and the file becomes ID.1",
        fails_at: Layer::None,
        make: |l| Case::of(l, &l.one, 0),
    },
    Row {
        name: "launch-ok-last-of-three-uses",
        description: "a launch record of three uses, two spent (file ID.2): the keys open it a last time",
        fails_at: Layer::None,
        make: |l| Case::of(l, &l.three, 2),
    },
    Row {
        name: "launch-fail-spent",
        description: "the single-use record with its use spent (file ID.1)",
        fails_at: Layer::Spent,
        make: |l| Case::of(l, &l.one, 1),
    },
    Row {
        name: "launch-fail-spent-three-of-three",
        description: "the record of three uses with all three spent (file ID.3)",
        fails_at: Layer::Spent,
        make: |l| Case::of(l, &l.three, 3),
    },
    Row {
        name: "launch-fail-expired",
        description: "a single-use record whose not_after (2026-11-25T00:02:39Z) is before `now`: its tags verify, and it is refused as expired",
        fails_at: Layer::Expired,
        make: |l| Case {
            now: Some(NOW),
            ..Case::of(l, &l.expired, 0)
        },
    },
    Row {
        name: "launch-fail-revoked-rotated",
        description: "the account was rotated after the record was issued: the store's entry has other tags than the record's account_tags",
        fails_at: Layer::Revoked,
        make: |l| Case {
            store: store_of(&[&l.w25_rotated]),
            ..Case::of(l, &l.one, 0)
        },
    },
    Row {
        name: "launch-fail-revoked-removed",
        description: "the account was removed after the record was issued: no entry of the store has the record's account id",
        fails_at: Layer::Revoked,
        make: |l| Case {
            store: store_of(&[&l.f.a]),
            ..Case::of(l, &l.one, 0)
        },
    },
    Row {
        name: "launch-fail-auth-uses-edited",
        description: "the spent single-use record (file ID.1) with its use limit edited to 2, to gain a use: the tags bind it",
        fails_at: Layer::Auth,
        make: |l| Case {
            record: Some(with_uses(&l.one.record(&l.f.w25), 2)),
            ..Case::of(l, &l.one, 1)
        },
    },
    Row {
        name: "launch-fail-auth-not-after-edited",
        description: "the expired record with its not_after edited to 2100-01-01T00:00:00Z: the tags bind it",
        fails_at: Layer::Auth,
        make: |l| {
            let record = l.expired.record(&l.f.w25);
            let from = [b"\x69not_after\x1a".as_slice(), &((ISSUED + 59) as u32).to_be_bytes()];
            let to = [b"\x69not_after\x1a".as_slice(), &(IN_2100 as u32).to_be_bytes()];
            Case {
                record: Some(replace_once(&record, &from.concat(), &to.concat())),
                now: Some(NOW),
                ..Case::of(l, &l.expired, 0)
            }
        },
    },
    Row {
        name: "launch-fail-pair-mixed",
        description: "the launch user key with the account's own password key",
        fails_at: Layer::Pair,
        make: |l| Case {
            keys: Some((l.one.key(Field::Username), l.f.w25.pass_key())),
            ..Case::of(l, &l.one, 0)
        },
    },
    Row {
        name: "launch-fail-gone",
        description: "launch keys whose record is not there (no launch directory): removed once dead, or of another store",
        fails_at: Layer::Gone,
        make: |l| Case {
            count: None,
            ..Case::of(l, &l.one, 0)
        },
    },
];

/// The names of the launch vectors.
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    ROWS.iter().map(|row| row.name)
}

/// Every launch vector, by file name.
pub(crate) fn generate(f: &Fixtures) -> Vec<(String, Vector)> {
    let l = LaunchFixtures::draw(f);
    let of = &f.w25;
    ROWS.iter()
        .map(|row| {
            let case = (row.make)(&l);
            let record = case.record.unwrap_or_else(|| case.launch.record(of));
            let keys = case.keys.unwrap_or_else(|| case.launch.keys());
            let mut v = vector(
                row.description,
                row.fails_at,
                &case.store,
                of,
                keys,
                case.now,
            );
            v.launch = Some(LaunchVector {
                id: hex::encode(case.launch.id),
                count: case.count,
                record: hex::encode(record),
                account: hex::encode(of.record_id),
                account_tags: hex::encode(account_tags(of)),
                width: of.width,
                issued: ISSUED,
                not_after: case.launch.not_after,
                uses: case.launch.uses,
                user: case.launch.describe(of, Field::Username),
                pass: case.launch.describe(of, Field::Password),
            });
            (row.name.to_owned(), v)
        })
        .collect()
}
