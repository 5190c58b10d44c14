//! Many hosts: a store cut down per host (`export`), checked for drift
//! (`list --format json` and its SHA-256), and shipped the way operators
//! ship files — Ansible, a Kubernetes Secret volume, a systemd credential —
//! under PostgreSQL's permission rule for key files. The examples README
//! shows live in `deploy/`, and these tests run them as far as this machine
//! can: Ansible for real, the Kubernetes manifests by laying out a volume
//! as the kubelet does, the systemd unit through `systemd-analyze verify`
//! and by starting its command as systemd would.
//!
//! Tests that act as other users need root and create their users and
//! groups (`otp-link-svc`, `otp-link-other`) when missing; tests that need a
//! tool (ansible-playbook, systemd-analyze, setfacl, Python with PyYAML) say
//! so and pass where it is missing, except under `CI=true`, where they fail.

#![cfg(unix)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use otp_link_tests::harness::*;
use sha2::Digest;

// ------------------------------------------------------------------ helpers

/// The group a host's service runs in, and its two users: one in that
/// group, one outside it.
const SERVICE_GROUP: &str = "otp-link-svc";

struct Users {
    service: SystemUser,
    other: SystemUser,
    group: u32,
}

fn users() -> Users {
    Users {
        service: system_user("otp-link-svc", &[SERVICE_GROUP]),
        other: system_user("otp-link-other", &[]),
        group: system_group(SERVICE_GROUP),
    }
}

/// For the tests that act as the service's user: root, the tool they need
/// (a program that answers `--version`, and how to install it), the users,
/// a temporary directory, and the binary runnable as the service from it;
/// `None` (the test skipped, or failed under CI) where one is missing.
fn as_service(why: &str, tool: Option<(&str, &str)>) -> Option<(Users, tempfile::TempDir, AsUser)> {
    if !root_or_skip(why) {
        return None;
    }
    if let Some((program, install)) = tool {
        if !tool_or_skip(runs(program, &["--version"]), program, install) {
            return None;
        }
    }
    let users = users();
    let dir = tempdir();
    let service = AsUser::new(dir.path(), &users.service);
    Some((users, dir, service))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn export(store: &Path, names: &[&str], output: &Path, force: bool) -> Output {
    let mut command = otp(store);
    command
        .arg("export")
        .args(names)
        .arg("--output")
        .arg(output);
    if force {
        command.arg("--force");
    }
    run(command, "")
}

/// `otp-link list --format json`, parsed.
fn listing(store: &Path) -> serde_json::Value {
    let mut command = otp(store);
    command.args(["list", "--format", "json"]);
    let out = run(command, "");
    assert_ok(&out, "list --format json");
    serde_json::from_slice(&out.stdout).expect("list JSON")
}

/// The names of a directory's entries, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A store of accounts `a`, `b` and `c`, made through the binary.
fn three_accounts(dir: &Path) -> (PathBuf, [Issued; 3]) {
    let store = dir.join("store.cbor");
    let accounts = [
        secure(&store, "a"),
        secure(&store, "b"),
        secure(&store, "c"),
    ];
    (store, accounts)
}

fn recover_as(runner: Command, account: &Issued) -> Output {
    let mut command = runner;
    command.args(["recover", &account.user_key, &account.pass_key]);
    run(command, "")
}

fn assert_recovers_as(runner: Command, account: &Issued, what: &str) {
    let out = recover_as(runner, account);
    assert_ok(&out, what);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n{}\n", account.username, account.password),
        "{what}"
    );
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
}

fn owner_group_mode(path: &Path) -> (u32, u32, u32) {
    let meta = fs::metadata(path).unwrap();
    (meta.uid(), meta.gid(), meta.mode() & 0o7777)
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// For a test that needs a tool: true when `found`; else says on stderr
/// that the test did not run, and fails under CI.
fn tool_or_skip(found: bool, tool: &str, install: &str) -> bool {
    if !found {
        eprintln!("skipped: {tool} is not installed ({install})");
        assert!(!in_ci(), "CI must have {tool}: {install}");
    }
    found
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The repository's root, where README.md and deploy/ are.
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_owned()
}

fn deploy_file(path: &str) -> String {
    fs::read_to_string(repository().join("deploy").join(path)).expect("a deploy/ example")
}

/// A bind mount of a directory over itself, read-only, as long as it lives.
struct ReadOnly(PathBuf);

impl ReadOnly {
    fn mount(dir: &Path) -> ReadOnly {
        let status = Command::new("mount")
            .arg("--bind")
            .arg(dir)
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount --bind");
        let guard = ReadOnly(dir.to_owned());
        let status = Command::new("mount")
            .args(["-o", "remount,bind,ro"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount -o remount,bind,ro");
        guard
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

// ------------------------------------------------------------------- export

/// `export` copies entries byte for byte: exporting every account gives the
/// store itself, and a subset opens with the keys already issued and with
/// no other.
#[test]
fn export_copies_the_named_accounts_byte_for_byte() {
    let dir = tempdir();
    let (store, [a, b, c]) = three_accounts(dir.path());
    let before = fs::read(&store).unwrap();

    let all = dir.path().join("all.cbor");
    let out = export(&store, &["c", "a", "b"], &all, false);
    assert_ok(&out, "export of every account");
    assert_eq!(fs::read(&all).unwrap(), before, "not a byte-for-byte copy");

    // A subset, named out of order and twice: store order, each once.
    let host = dir.path().join("hosts").join("h1.cbor");
    let out = export(&store, &["c", "a", "c"], &host, false);
    assert_ok(&out, "export of a and c");
    assert!(out.stdout.is_empty(), "export printed to stdout");
    let stderr = stderr_of(&out);
    let digest = sha256_hex(&fs::read(&host).unwrap());
    assert!(
        stderr.contains("exported 2 accounts") && stderr.contains(&digest),
        "{stderr}"
    );
    for key in [&a, &b, &c].iter().flat_map(|x| [&x.user_key, &x.pass_key]) {
        assert!(!stderr.contains(key.as_str()), "a key on stderr: {stderr}");
    }
    assert_eq!(mode(&host), 0o600);
    assert_eq!(mode(host.parent().unwrap()), 0o700);
    assert_eq!(list_names(&host), ["a", "c"]);
    assert_recovers(&host, &a);
    assert_recovers(&host, &c);
    let line = assert_fails_naming(&recover(&host, &b), 5, &host, "b's keys in h1");
    assert!(line.contains("record id"), "{line}");
    // The times are copied too, and the source is untouched.
    let (source, copy) = (listing(&store), listing(&host));
    assert_eq!(source["accounts"][0], copy["accounts"][0]);
    assert_eq!(source["accounts"][2], copy["accounts"][1]);
    assert_eq!(fs::read(&store).unwrap(), before);
}

/// Regression guard for drift checks: `list --format json` gives the
/// SHA-256 of exactly the bytes it read, also for a store with no account.
#[test]
fn list_json_carries_the_sha256_of_the_bytes_read() {
    let dir = tempdir();
    let (store, _) = three_accounts(dir.path());
    let json = listing(&store);
    assert_eq!(json["sha256"], sha256_hex(&fs::read(&store).unwrap()));
    assert_eq!(json["accounts"].as_array().unwrap().len(), 3);
    for name in ["a", "b", "c"] {
        let mut command = otp(&store);
        command.args(["remove", name]);
        assert_ok(&run(command, ""), "remove");
    }
    let json = listing(&store);
    assert_eq!(json["accounts"], serde_json::json!([]));
    assert_eq!(json["sha256"], sha256_hex(&fs::read(&store).unwrap()));
}

/// An unknown name fails the export (exit 5) before anything is created:
/// no output, no directory for it, no lock, no temporary file.
#[test]
fn export_of_an_unknown_account_writes_nothing() {
    let dir = tempdir();
    let (store, _) = three_accounts(dir.path());
    let before = entries(dir.path());
    let output = dir.path().join("new-dir").join("h1.cbor");
    let out = export(&store, &["a", "nope", "b"], &output, false);
    let line = assert_fails_naming(&out, 5, &store, "export of an unknown account");
    assert!(line.contains("'nope'"), "{line}");
    assert_eq!(entries(dir.path()), before, "export created something");
}

/// An existing file is never replaced without `--force`, `--force` replaces
/// only an otp-link store, and the store being read is never the output,
/// whatever path names it.
#[test]
fn export_never_writes_over_a_file_unless_forced() {
    let dir = tempdir();
    let (store, [a, b, _]) = three_accounts(dir.path());
    let source = fs::read(&store).unwrap();

    // Over an existing store: exit 6, then replaced with --force.
    let host = dir.path().join("h1.cbor");
    assert_ok(&export(&store, &["a"], &host, false), "first export");
    let first = fs::read(&host).unwrap();
    let line = assert_fails_naming(&export(&store, &["b"], &host, false), 6, &host, "again");
    assert!(line.contains("--force"), "{line}");
    assert_eq!(fs::read(&host).unwrap(), first);
    assert_ok(&export(&store, &["b"], &host, true), "export --force");
    assert_eq!(list_names(&host), ["b"]);
    assert_recovers(&host, &b);
    assert_fails(&recover(&host, &a), 5, "a's keys after --force");

    // Over a file that is not a store: exit 6, and with --force exit 8,
    // with nothing created beside it.
    let notes = dir.path().join("notes.txt");
    fs::write(&notes, "not a store\n").unwrap();
    assert_fails_naming(&export(&store, &["a"], &notes, false), 6, &notes, "notes");
    let line = assert_fails_naming(&export(&store, &["a"], &notes, true), 8, &notes, "notes");
    assert!(line.contains("not an otp-link store"), "{line}");
    assert_eq!(fs::read(&notes).unwrap(), b"not a store\n");
    assert!(!sibling(&notes, "lock").exists() && !sibling(&notes, "tmp").exists());

    // A directory.
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let line = assert_fails(&export(&store, &["a"], &sub, true), 8, "a directory");
    assert!(line.contains("not a regular file"), "{line}");

    // The store itself: by its path, by another path, by a hard link.
    let other_path = dir.path().join("sub").join("..").join("store.cbor");
    let hard_link = dir.path().join("hard.cbor");
    fs::hard_link(&store, &hard_link).unwrap();
    for output in [&store, &other_path, &hard_link] {
        for force in [false, true] {
            let out = export(&store, &["a"], output, force);
            let line = assert_fails_naming(&out, 2, output, "export over its own store");
            assert!(line.contains("is the store being exported"), "{line}");
        }
    }
    assert_eq!(fs::read(&store).unwrap(), source);
}

/// The output path is never a symbolic link, with or without `--force`:
/// to a new path, to a store (the source or another) or dangling. Nothing
/// is created where it points.
#[test]
fn export_never_follows_a_symbolic_link() {
    let dir = tempdir();
    let (store, _) = three_accounts(dir.path());
    let source = fs::read(&store).unwrap();
    let victims = dir.path().join("victims");
    fs::create_dir(&victims).unwrap();
    let other = victims.join("other.cbor");
    assert_ok(&export(&store, &["c"], &other, false), "another store");
    let other_bytes = fs::read(&other).unwrap();
    let link = dir.path().join("link.cbor");
    for pointee in [victims.join("new.cbor"), other.clone(), store.clone()] {
        std::os::unix::fs::symlink(&pointee, &link).unwrap();
        for force in [false, true] {
            let out = export(&store, &["a"], &link, force);
            let line = assert_fails_naming(&out, 9, &link, "export to a link");
            assert!(line.contains("symbolic link"), "{line}");
        }
        fs::remove_file(&link).unwrap();
    }
    assert_eq!(entries(&victims), ["other.cbor", "other.cbor.lock"]);
    assert_eq!(fs::read(&other).unwrap(), other_bytes);
    assert_eq!(fs::read(&store).unwrap(), source);

    // A planted lock link beside the output: refused, never followed.
    let host = dir.path().join("h1.cbor");
    std::os::unix::fs::symlink(victims.join("lock-target"), sibling(&host, "lock")).unwrap();
    let out = export(&store, &["a"], &host, false);
    let line = assert_fails_naming(&out, 9, &sibling(&host, "lock"), "planted lock");
    assert!(line.contains("symbolic link"), "{line}");
    assert!(!host.exists());
    assert_eq!(entries(&victims), ["other.cbor", "other.cbor.lock"]);
}

// ------------------------------------------------------ the permission rule

/// What a reader does with a store: recovers it, or fails with this exit
/// code and a line holding this text.
#[derive(Debug)]
enum Expect {
    Opens,
    Refused(i32, &'static str),
}

/// PostgreSQL's rule for key files, with real users and groups: a store
/// owned by the caller must be 0600 or stricter; one owned by root may also
/// be readable by its group (0640, 0440), never writable by it, never
/// readable by others. Everything else is refused (exit 9) with the fix.
#[test]
fn readers_apply_postgresqls_rule_for_key_files() {
    let Some((users, dir, service)) = as_service("to act as other users", None) else {
        return;
    };
    let other = AsUser::new(dir.path(), &users.other);
    let home = dir.path().join("srv");
    fs::create_dir(&home).unwrap();
    set_mode(&home, 0o755);
    let store = home.join("store.cbor");
    let db = secure(&store, "db");
    let (svc, root, svc_group) = (users.service.uid, 0, users.group);
    use Expect::*;
    let cases: &[(u32, u32, &AsUser, Expect)] = &[
        // The caller's own store: 0600 or stricter.
        (svc, 0o600, &service, Opens),
        (svc, 0o400, &service, Opens),
        (svc, 0o640, &service, Refused(9, "chmod 600")),
        (svc, 0o440, &service, Refused(9, "chmod 600")),
        (svc, 0o620, &service, Refused(9, "chmod 600")),
        (svc, 0o604, &service, Refused(9, "chmod 600")),
        (svc, 0o602, &service, Refused(9, "chmod 600")),
        // Root's store, read by a member of its group.
        (root, 0o640, &service, Opens),
        (root, 0o440, &service, Opens),
        (root, 0o660, &service, Refused(9, "chmod 640")),
        (root, 0o650, &service, Refused(9, "chmod 640")),
        (root, 0o644, &service, Refused(9, "chmod 640")),
        (root, 0o642, &service, Refused(9, "chmod 640")),
        // Root's store that the group may not read: the kernel says no.
        (root, 0o600, &service, Refused(9, "Permission denied")),
        // ... and by a user outside its group.
        (root, 0o640, &other, Refused(9, "Permission denied")),
        (root, 0o644, &other, Refused(9, "chmod 640")),
        (root, 0o604, &other, Refused(9, "chmod 640")),
        // Another user's store, however private.
        (svc, 0o600, &other, Refused(9, "Permission denied")),
    ];
    for (owner, mode_bits, runner, expect) in cases {
        chown(&store, *owner, svc_group);
        set_mode(&store, *mode_bits);
        let what = format!(
            "owner {owner}, mode {mode_bits:04o}, as {}",
            if std::ptr::eq(*runner, &service) {
                "a member of the group"
            } else {
                "a user outside the group"
            }
        );
        let out = recover_as(runner.otp(&store), &db);
        match expect {
            Opens => assert_recovers_as(runner.otp(&store), &db, &what),
            Refused(code, text) => {
                let line = assert_fails_naming(&out, *code, &store, &what);
                assert!(line.contains(text), "{what}: {line}");
            }
        }
    }
    // Root reads a store of root's that its group may read, and refuses one
    // of another user's that its group may read.
    chown(&store, root, svc_group);
    set_mode(&store, 0o640);
    assert_recovers(&store, &db);
    chown(&store, svc, svc_group);
    let line = assert_fails_naming(&recover(&store, &db), 9, &store, "root, svc's 0640");
    assert!(line.contains("chmod 600"), "{line}");
}

/// A directory `name` of `dir`, root's, of the service's group, with mode
/// `dir_mode`, holding a store of root's readable by the group (0640) with
/// account `db` (and no lock file).
fn group_store(dir: &Path, name: &str, group: u32, dir_mode: u32) -> (PathBuf, PathBuf, Issued) {
    let home = dir.join(name);
    fs::create_dir(&home).unwrap();
    chown(&home, 0, group);
    set_mode(&home, dir_mode);
    let store = home.join("store.cbor");
    let db = secure(&store, "db");
    fs::remove_file(sibling(&store, "lock")).unwrap();
    chown(&store, 0, group);
    set_mode(&store, 0o640);
    (home, store, db)
}

/// Root writing a store of root's that its group may read leaves it as it
/// was — owner, group and mode 0640 — so the service still reads it.
#[test]
fn a_root_writer_keeps_a_group_readable_store_of_roots_as_it_was() {
    let Some((users, dir, service)) = as_service("to act as other users", None) else {
        return;
    };
    let (_, store, db) = group_store(dir.path(), "etc-otp-link", users.group, 0o750);
    let expected = (0, users.group, 0o640);

    let web = secure(&store, "web");
    assert_eq!(owner_group_mode(&store), expected, "after secure-account");
    let mut command = otp(&store);
    command.args(["rotate", &db.user_key, &db.pass_key]);
    let out = run(command, "");
    assert_ok(&out, "rotate of a group-readable store of root's");
    let (user_key, pass_key) = text_keys(&out.stdout).expect("new keys");
    let db = Issued {
        user_key,
        pass_key,
        ..db
    };
    assert_eq!(owner_group_mode(&store), expected, "after rotate");
    let mut command = otp(&store);
    command.args(["remove", "web"]);
    assert_ok(&run(command, ""), "remove");
    assert_eq!(owner_group_mode(&store), expected, "after remove");
    assert_recovers_as(service.otp(&store), &db, "the service after root wrote");
    assert_fails(&recover_as(service.otp(&store), &web), 5, "removed");
    // A store of root's that only the group may read (0440) gets its
    // owner's write bit back, nothing more.
    set_mode(&store, 0o440);
    secure(&store, "api");
    assert_eq!(owner_group_mode(&store), expected, "from 0440");
    // And a store of the service's own, group-readable by mistake, is made
    // private by a write: writers never keep what readers refuse.
    chown(&store, users.service.uid, users.group);
    set_mode(&store, 0o640);
    secure(&store, "api2");
    assert_eq!(
        owner_group_mode(&store),
        (users.service.uid, users.group, 0o600)
    );
}

/// A member of the group of a store of root's may read it and must never
/// write it, even in a directory the group may write: refused (exit 9)
/// before anything is created, the store unchanged.
#[test]
fn a_group_member_never_writes_a_store_of_roots() {
    let Some((users, dir, service)) = as_service("to act as other users", None) else {
        return;
    };
    let (home, store, db) = group_store(dir.path(), "shared", users.group, 0o770);
    let before = fs::read(&store).unwrap();
    let runs: [(&[&str], &str); 3] = [
        (&["secure-account", "mine"], "u\np\n"),
        (&["remove", "db"], ""),
        (&["rotate", &db.user_key, &db.pass_key], ""),
    ];
    for (args, input) in runs {
        let mut command = service.otp(&store);
        command.args(args);
        let out = run(command, input);
        let line = assert_fails_naming(&out, 9, &store, &format!("{args:?} by the group"));
        assert!(
            line.contains("owned by root") && line.contains("chown"),
            "{line}"
        );
    }
    assert_eq!(fs::read(&store).unwrap(), before);
    assert_eq!(entries(&home), ["store.cbor"], "a writer created files");
    assert_recovers_as(service.otp(&store), &db, "the group still reads it");
}

// --------------------------------------------------------- read-only stores

/// Writers refuse a store on a read-only mount (a Kubernetes Secret volume)
/// before they create anything, with exit 10 and the fix; readers read it.
#[test]
fn writers_refuse_a_store_on_a_read_only_mount() {
    if !root_or_skip("to mount") {
        return;
    }
    let dir = tempdir();
    let (store, [a, _, _]) = three_accounts(dir.path());
    let before = fs::read(&store).unwrap();
    let listed = entries(dir.path());
    let _ro = ReadOnly::mount(dir.path());
    let elsewhere = tempdir();
    let writes: Vec<(Vec<String>, &str)> = vec![
        (vec!["secure-account".into(), "new".into()], "u\np\n"),
        (vec!["remove".into(), "a".into()], ""),
        (
            vec!["rotate".into(), a.user_key.clone(), a.pass_key.clone()],
            "",
        ),
    ];
    for (args, input) in &writes {
        let mut command = otp(&store);
        command.args(args);
        let line = assert_fails_naming(&run(command, input), 10, &store, &args[0]);
        assert!(line.contains("read-only"), "{line}");
    }
    // Export out of it works; into it does not.
    let copy = elsewhere.path().join("copy.cbor");
    assert_ok(
        &export(&store, &["a"], &copy, false),
        "export from read-only",
    );
    let into = dir.path().join("into.cbor");
    let out = export(&copy, &["a"], &into, false);
    let line = assert_fails(&out, 10, "export into a read-only directory");
    assert!(line.contains("read-only"), "{line}");
    assert_recovers(&store, &a);
    assert_eq!(fs::read(&store).unwrap(), before);
    assert_eq!(entries(dir.path()), listed);
}

// ------------------------------------------------------- systemd credentials

/// `$CREDENTIALS_DIRECTORY/otp-link-store` is the store when neither
/// `--store` nor `OTP_LINK_STORE` names one, and before the per-user
/// default; a unit without that credential gets the per-user default.
#[test]
fn a_systemd_credential_is_the_store_after_store_and_otp_link_store() {
    let dir = tempdir();
    let credentials = dir.path().join("credentials");
    fs::create_dir(&credentials).unwrap();
    let source = dir.path().join("source.cbor");
    let db = secure(&source, "db");
    let other = dir.path().join("other.cbor");
    secure(&other, "other");
    fs::copy(&source, credentials.join("otp-link-store")).unwrap();
    set_mode(&credentials.join("otp-link-store"), 0o400);
    let home = dir.path().join("home");
    let bare = |credentials_dir: Option<&Path>| {
        let mut command = Command::new(otp_link());
        command.env_clear().env("HOME", &home);
        if let Some(d) = credentials_dir {
            command.env("CREDENTIALS_DIRECTORY", d);
        }
        command.args(["recover", &db.user_key, &db.pass_key]);
        command
    };
    // The credential alone.
    let out = run(bare(Some(&credentials)), "");
    assert_ok(&out, "recover from the credential");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n{}\n", db.username, db.password)
    );
    // OTP_LINK_STORE and --store come first.
    let mut command = bare(Some(&credentials));
    command.env("OTP_LINK_STORE", &other);
    assert_fails_naming(&run(command, ""), 5, &other, "OTP_LINK_STORE first");
    let mut command = bare(Some(&credentials));
    command.arg("--store").arg(&other);
    assert_fails_naming(&run(command, ""), 5, &other, "--store first");
    // No such credential, or no credentials at all: the per-user default.
    let default = home.join(".local/share/otp-link/store.cbor");
    let empty = dir.path().join("no-credentials");
    fs::create_dir(&empty).unwrap();
    assert_fails_naming(&run(bare(Some(&empty)), ""), 7, &default, "no credential");
    assert_fails_naming(&run(bare(None), ""), 7, &default, "no credentials");
    // A relative CREDENTIALS_DIRECTORY is not systemd's: ignored.
    let mut command = bare(Some(Path::new("credentials")));
    command.current_dir(dir.path());
    assert_fails_naming(&run(command, ""), 7, &default, "relative directory");
}

/// A systemd credential is read-only for the life of the service: every
/// writer refuses it (exit 10) and names where to change it, even where the
/// directory is writable (systemd's plain-directory fallback as root).
#[test]
fn writers_refuse_a_systemd_credential() {
    let dir = tempdir();
    let credentials = dir.path().join("credentials");
    fs::create_dir(&credentials).unwrap();
    let credential = credentials.join("otp-link-store");
    let db = secure(&credential, "db");
    fs::remove_file(sibling(&credential, "lock")).unwrap();
    set_mode(&credential, 0o400);
    let before = fs::read(&credential).unwrap();
    let elsewhere = dir.path().join("elsewhere.cbor");
    let writes: Vec<(Vec<&str>, &str)> = vec![
        (vec!["secure-account", "new"], "u\np\n"),
        (vec!["remove", "db"], ""),
        (vec!["rotate", &db.user_key, &db.pass_key], ""),
    ];
    for (args, input) in &writes {
        let mut command = Command::new(otp_link());
        command
            .env_clear()
            .env("CREDENTIALS_DIRECTORY", &credentials)
            .args(args);
        let line = assert_fails_naming(&run(command, input), 10, &credential, args[0]);
        assert!(line.contains("systemd credential"), "{line}");
    }
    // Also when named by its path, and as an export's output.
    let mut command = otp(&credential);
    command
        .env("CREDENTIALS_DIRECTORY", &credentials)
        .args(["remove", "db"]);
    assert_fails(&run(command, ""), 10, "remove by path");
    assert_ok(
        &export(&credential, &["db"], &elsewhere, false),
        "export from it",
    );
    let mut command = otp(&elsewhere);
    command
        .env("CREDENTIALS_DIRECTORY", &credentials)
        .args(["export", "db", "--force", "--output"])
        .arg(&credential);
    assert_fails(&run(command, ""), 10, "export over the credential");
    assert_eq!(fs::read(&credential).unwrap(), before);
    assert_eq!(entries(&credentials), ["otp-link-store"]);
}

/// The three ways systemd lays a credential out, from its source
/// (exec-credential.c): a file of root's, mode 0400, with an ACL granting
/// the service's user read (so it shows as 0440); on a file system without
/// ACLs, the service user's own file, 0400; and for a service of root's,
/// root's 0400. Each one is read by the service through
/// `CREDENTIALS_DIRECTORY`.
#[test]
fn every_layout_systemd_gives_a_credential_is_accepted() {
    let tool = Some(("setfacl", "apt-get install acl"));
    let Some((users, dir, service)) = as_service("to act as the service's user", tool) else {
        return;
    };
    let credentials = dir.path().join("credentials");
    fs::create_dir(&credentials).unwrap();
    let credential = credentials.join("otp-link-store");
    let db = secure(&credential, "db");
    fs::remove_file(sibling(&credential, "lock")).unwrap();
    let as_service = || {
        let mut command = service.command();
        command.env("CREDENTIALS_DIRECTORY", &credentials);
        command
    };
    // Root's, 0400, with an ACL for the service; the directory likewise.
    chown(&credential, 0, 0);
    set_mode(&credential, 0o400);
    set_mode(&credentials, 0o500);
    let acl = format!("u:{}:r", users.service.name);
    assert!(runs("setfacl", &["-m", &acl, credential.to_str().unwrap()]));
    let acl = format!("u:{}:rx", users.service.name);
    assert!(runs(
        "setfacl",
        &["-m", &acl, credentials.to_str().unwrap()]
    ));
    assert_eq!(
        mode(&credential),
        0o440,
        "the ACL's mask shows as group bits"
    );
    assert_recovers_as(as_service(), &db, "root's credential with an ACL");
    // The service user's own, 0400 (ramfs, no ACLs).
    assert!(runs("setfacl", &["-b", credential.to_str().unwrap()]));
    assert!(runs("setfacl", &["-b", credentials.to_str().unwrap()]));
    chown(&credential, users.service.uid, users.service.gid);
    chown(&credentials, users.service.uid, users.service.gid);
    set_mode(&credential, 0o400);
    assert_recovers_as(as_service(), &db, "the service's own credential");
    // A service of root's.
    chown(&credential, 0, 0);
    chown(&credentials, 0, 0);
    let mut command = Command::new(otp_link());
    command
        .env_clear()
        .env("CREDENTIALS_DIRECTORY", &credentials);
    assert_recovers_as(command, &db, "root's service");
}

/// The unit README shows: `systemd-analyze verify` accepts it, and its
/// command, started as systemd starts it (as its user, the credential in
/// `$CREDENTIALS_DIRECTORY`, the keys from its EnvironmentFile), hands the
/// program the credentials and not the keys.
#[test]
fn the_systemd_unit_of_the_readme_runs() {
    let tool = Some(("systemd-analyze", "apt-get install systemd"));
    let Some((users, dir, service)) = as_service("to run the unit's command as its user", tool)
    else {
        return;
    };
    let unit = deploy_file("systemd/edms-report.service");
    let binary = dir.path().join("otp-link");
    let report = dir.path().join("nightly-report");
    fs::write(
        &report,
        "#!/bin/sh\necho \"$PGUSER|$PGPASSWORD|${EDMS_DB_KEYS:-no keys}\"\n",
    )
    .unwrap();
    set_mode(&report, 0o755);
    let source = dir.path().join("etc").join("store.cbor");
    let db = secure(&source, "reports-db");
    let keys_file = dir.path().join("otp-link-keys");
    write_private(
        &keys_file,
        format!("EDMS_DB_KEYS=\"{} {}\"\n", db.user_key, db.pass_key).as_bytes(),
    );
    let value = |key: &str| -> String {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("the unit has no {key}="))
            .to_owned()
    };
    let (id, loaded) = value("LoadCredential")
        .split_once(':')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .unwrap();
    assert_eq!(id, "otp-link-store");
    // The unit, pointed at this machine's files, verified by systemd.
    let local = unit
        .replace("/usr/local/bin/otp-link", binary.to_str().unwrap())
        .replace("/opt/edms/bin/nightly-report", report.to_str().unwrap())
        .replace(&loaded, source.to_str().unwrap())
        .replace("/etc/edms/otp-link-keys", keys_file.to_str().unwrap())
        .replace("User=edms", &format!("User={}", users.service.name));
    let unit_path = dir.path().join("edms-report.service");
    fs::write(&unit_path, &local).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit_path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !said.contains("Unknown"),
        "systemd-analyze verify: {said}"
    );
    // Its command, as systemd runs it.
    let credentials = dir.path().join("credentials");
    fs::create_dir(&credentials).unwrap();
    fs::copy(&source, credentials.join(&id)).unwrap();
    chown(&credentials.join(&id), users.service.uid, users.service.gid);
    set_mode(&credentials.join(&id), 0o400);
    let exec_start = value("ExecStart");
    let mut words = exec_start.split_whitespace();
    assert_eq!(words.next(), Some("/usr/local/bin/otp-link"));
    let mut command = service.command();
    command
        .args(words.map(|w| {
            if w == "/opt/edms/bin/nightly-report" {
                report.to_str().unwrap().to_owned()
            } else {
                w.to_owned()
            }
        }))
        .env("CREDENTIALS_DIRECTORY", &credentials)
        .env("EDMS_DB_KEYS", format!("{} {}", db.user_key, db.pass_key));
    let out = run(command, "");
    assert_ok(&out, "the unit's command");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}|{}|no keys\n", db.username, db.password)
    );
}

// ------------------------------------------------------------------ Ansible

/// The playbook README shows, run by ansible-playbook against this machine:
/// the store lands root:GROUP 0640 in a directory root:GROUP 0750, the
/// service reads it, and the drift check fails when the host's store is not
/// the one shipped.
#[test]
fn the_ansible_playbook_of_the_readme_installs_a_store_the_service_reads() {
    let tool = Some(("ansible-playbook", "pip install ansible-core"));
    let Some((users, dir, service)) = as_service("to install files of root's for a group", tool)
    else {
        return;
    };
    let (store, [a, b, _]) = three_accounts(dir.path());
    let play = dir.path().join("play");
    fs::create_dir_all(play.join("stores")).unwrap();
    fs::write(
        play.join("otp-link-store.yml"),
        deploy_file("ansible/otp-link-store.yml"),
    )
    .unwrap();
    assert_ok(
        &export(&store, &["a"], &play.join("stores/localhost.cbor"), false),
        "export for the host",
    );
    fs::write(
        play.join("inventory"),
        "[edms_app]\nlocalhost ansible_connection=local ansible_python_interpreter=\"{{ ansible_playbook_python }}\"\n",
    )
    .unwrap();
    let etc = dir.path().join("etc");
    fs::create_dir(&etc).unwrap();
    set_mode(&etc, 0o755);
    let installed = etc.join("otp-link").join("store.cbor");
    let ansible_home = dir.path().join("ansible-home");
    let playbook = |extra: &[&str]| {
        let mut command = Command::new("ansible-playbook");
        command
            .current_dir(&play)
            .env("HOME", &ansible_home)
            .env("ANSIBLE_HOME", ansible_home.join(".ansible"))
            .env("ANSIBLE_LOCAL_TEMP", ansible_home.join("tmp"))
            .env("ANSIBLE_REMOTE_TEMP", ansible_home.join("tmp"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
            .env_remove("ANSIBLE_CONFIG")
            .args(["-i", "inventory", "otp-link-store.yml", "-e"])
            .arg(format!(
                "{{\"otp_link\": {:?}, \"otp_link_store\": {:?}, \"otp_link_group\": {SERVICE_GROUP:?}, \"ansible_become\": false}}",
                otp_link().to_str().unwrap(),
                installed.to_str().unwrap()
            ))
            .args(extra);
        run(command, "")
    };
    let out = playbook(&[]);
    assert!(
        out.status.success(),
        "ansible-playbook: {}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr_of(&out)
    );
    assert_eq!(owner_group_mode(&installed), (0, users.group, 0o640));
    assert_eq!(
        owner_group_mode(installed.parent().unwrap()),
        (0, users.group, 0o750)
    );
    assert_recovers_as(service.otp(&installed), &a, "the service reads the store");
    assert_fails(
        &recover_as(service.otp(&installed), &b),
        5,
        "b is not on this host",
    );
    // Drift: the host's store replaced behind Ansible's back.
    assert_ok(&export(&store, &["b"], &installed, true), "drift");
    let out = playbook(&[
        "--start-at-task",
        "The SHA-256 of the store this host should have",
    ]);
    assert!(
        !out.status.success(),
        "the drift check passed on a drifted host"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Assertion failed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

// --------------------------------------------------------------- Kubernetes

/// The manifests of README as JSON (PyYAML reads YAML 1.1 as the API server
/// does: `0440` is octal), or `None` when no Python with PyYAML is here.
fn kubernetes_manifests() -> Option<Vec<serde_json::Value>> {
    let path = repository().join("deploy/kubernetes/otp-link-store.yaml");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)",
        ])
        .arg(&path)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).expect("JSON from PyYAML"))
}

/// Lays out a Secret volume as the kubelet's atomic writer does: the files
/// in a timestamped directory, `..data` a link to it, and each key a link
/// `KEY -> ..data/KEY`; each file root's, of the pod's fsGroup, with the
/// volume's defaultMode (and the group's read bit the kubelet adds for an
/// fsGroup). Returns the timestamped directory.
fn write_secret_volume(volume: &Path, files: &[(&str, &[u8])], gid: u32, mode: u32, n: u32) {
    let stamp = format!("..2026_12_02_13_00_0{n}.00000000{n}");
    let data = volume.join(&stamp);
    fs::create_dir(&data).unwrap();
    chown(&data, 0, gid);
    set_mode(&data, 0o2755);
    for (key, bytes) in files {
        let file = data.join(key);
        fs::write(&file, bytes).unwrap();
        chown(&file, 0, gid);
        set_mode(&file, mode | 0o440);
    }
    // The swap: a new link, renamed over ..data.
    let tmp = volume.join("..data_tmp");
    std::os::unix::fs::symlink(&stamp, &tmp).unwrap();
    fs::rename(&tmp, volume.join("..data")).unwrap();
    for (key, _) in files {
        let link = volume.join(key);
        if fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new("..data").join(key), &link).unwrap();
        }
    }
}

/// The Secret and Pod of README, run as far as no cluster is needed: a
/// volume laid out from the manifests as the kubelet would, read by the
/// pod's user and fsGroup through its links, updated as the kubelet
/// updates it, and refused to writers once read-only.
#[test]
fn the_kubernetes_secret_of_the_readme_is_read_through_its_links() {
    if !root_or_skip("to act as the pod's user") {
        return;
    }
    let Some(manifests) = kubernetes_manifests() else {
        tool_or_skip(false, "Python 3 with PyYAML", "pip install pyyaml");
        return;
    };
    let kind = |k: &str| {
        manifests
            .iter()
            .find(|m| m["kind"] == k)
            .unwrap_or_else(|| panic!("no {k} in the manifests"))
            .clone()
    };
    let (secret, pod) = (kind("Secret"), kind("Pod"));
    let key = secret["data"]
        .as_object()
        .and_then(|d| d.keys().next().cloned())
        .expect("the Secret's key");
    let context = &pod["spec"]["securityContext"];
    let id = |field: &str| context[field].as_u64().expect(field) as u32;
    let (uid, gid, fs_group) = (id("runAsUser"), id("runAsGroup"), id("fsGroup"));
    let volume = &pod["spec"]["volumes"][0];
    assert_eq!(volume["secret"]["secretName"], secret["metadata"]["name"]);
    let default_mode = volume["secret"]["defaultMode"].as_u64().unwrap() as u32;
    assert_eq!(default_mode, 0o440, "defaultMode is not 0440 (YAML octal)");
    let container = &pod["spec"]["containers"][0];
    let mount = &container["volumeMounts"][0];
    assert_eq!(mount["name"], volume["name"]);
    let mount_path = mount["mountPath"].as_str().unwrap();
    let store_env = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "OTP_LINK_STORE")
        .expect("OTP_LINK_STORE in the pod")["value"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(store_env, format!("{mount_path}/{key}"));

    let dir = tempdir();
    let binary = runnable_copy(dir.path());
    let (store, [a, b, _]) = three_accounts(dir.path());
    let exported = dir.path().join("edms.cbor");
    assert_ok(
        &export(&store, &["a"], &exported, false),
        "export for the pod",
    );
    let volume_dir = dir.path().join("volume");
    fs::create_dir(&volume_dir).unwrap();
    chown(&volume_dir, 0, fs_group);
    set_mode(&volume_dir, 0o755);
    write_secret_volume(
        &volume_dir,
        &[(&key, &fs::read(&exported).unwrap())],
        fs_group,
        default_mode,
        1,
    );
    let in_pod = volume_dir.join(&key);
    assert!(fs::symlink_metadata(&in_pod)
        .unwrap()
        .file_type()
        .is_symlink());
    // The pod's process: uid and gids with no passwd entry, as in a
    // container.
    let as_pod = |account: &Issued| {
        let mut command = Command::new(system_program("setpriv"));
        command
            .arg(format!("--reuid={uid}"))
            .arg(format!("--regid={gid}"))
            .arg(format!("--groups={fs_group}"))
            .arg(&binary)
            .env_clear()
            .env("OTP_LINK_STORE", &in_pod)
            .args(["recover", &account.user_key, &account.pass_key])
            .current_dir("/");
        run(command, "")
    };
    let out = as_pod(&a);
    assert_ok(&out, "the pod reads the Secret");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n{}\n", a.username, a.password)
    );
    assert_fails(&as_pod(&b), 5, "b is not in the pod's store");

    // The Secret updated (the keys of a rotated): the kubelet writes a new
    // directory and swaps ..data; the pod reads the new store.
    let mut command = otp(&store);
    command.args(["rotate", &a.user_key, &a.pass_key]);
    let rotated = run(command, "");
    assert_ok(&rotated, "rotate");
    let (user_key, pass_key) = text_keys(&rotated.stdout).unwrap();
    let a2 = Issued {
        user_key,
        pass_key,
        ..a.clone()
    };
    assert_ok(&export(&store, &["a"], &exported, true), "export again");
    write_secret_volume(
        &volume_dir,
        &[(&key, &fs::read(&exported).unwrap())],
        fs_group,
        default_mode,
        2,
    );
    assert_ok(&as_pod(&a2), "the pod reads the updated Secret");
    assert_fails(&as_pod(&a), 4, "the keys rotated away");

    // Kubernetes's default mode, 0644: others could read the store.
    let loose = dir.path().join("loose");
    fs::create_dir(&loose).unwrap();
    write_secret_volume(
        &loose,
        &[(&key, &fs::read(&exported).unwrap())],
        fs_group,
        0o644,
        3,
    );
    let mut command = Command::new(system_program("setpriv"));
    command
        .arg(format!("--reuid={uid}"))
        .arg(format!("--regid={gid}"))
        .arg(format!("--groups={fs_group}"))
        .arg(&binary)
        .env_clear()
        .arg("--store")
        .arg(loose.join(&key))
        .args(["recover", &a2.user_key, &a2.pass_key]);
    let line = assert_fails(&run(command, ""), 9, "defaultMode 0644");
    assert!(line.contains("chmod 640"), "{line}");

    // Secret volumes are mounted read-only: a writer, root included,
    // refuses before it creates anything.
    let listed = entries(&volume_dir);
    let _ro = ReadOnly::mount(&volume_dir);
    let (command, input) = secure_command(&in_pod, "new");
    let line = assert_fails(&run(command, &input), 10, "a writer on the Secret");
    assert!(line.contains("read-only"), "{line}");
    assert_eq!(entries(&volume_dir), listed);
}

// ------------------------------------------------------------------- README

/// README shows the deployment examples the tests above run, verbatim.
#[test]
fn readme_shows_the_deployment_examples_the_tests_run() {
    let readme = fs::read_to_string(repository().join("README.md")).unwrap();
    for file in [
        "ansible/otp-link-store.yml",
        "kubernetes/otp-link-store.yaml",
        "systemd/edms-report.service",
    ] {
        let text = deploy_file(file);
        assert!(
            readme.contains(&text),
            "README does not show deploy/{file} as it is"
        );
    }
}

/// The binary bench/ measures is the one README's quick start builds: the
/// same target and the same cargo command, in both.
#[test]
fn bench_measures_the_binary_the_readme_builds() {
    let readme = fs::read_to_string(repository().join("README.md")).unwrap();
    let quick_start = readme
        .split("## Quick start")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README's quick start");
    let bench = fs::read_to_string(repository().join("bench/run.sh")).unwrap();
    for line in [
        "MUSL_TARGET=$(uname -m)-unknown-linux-musl",
        "cargo build --release -p otp-cli --target \"$MUSL_TARGET\"",
    ] {
        assert!(
            quick_start.contains(line),
            "README's quick start lacks {line}"
        );
        assert!(bench.contains(line), "bench/run.sh lacks {line}");
    }
    assert!(
        bench.contains("BIN[musl]=$TARGET_DIR/$MUSL_TARGET/release/otp-link"),
        "bench/run.sh does not time the binary that command builds"
    );
}
