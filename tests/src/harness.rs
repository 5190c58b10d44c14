//! What the end-to-end suites share: running `otp-link` as a separate
//! process on a store in a temporary directory, asserting how it failed,
//! and the accounts it issued.
//!
//! One home for these, so that every suite checks failures the same way:
//! exit code, nothing on stdout, exactly one `otp-link: ` line on stderr, no
//! panic.

use std::fs;
use std::io::Write;
#[cfg(unix)]
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use otp_core::{Credentials, Keys, Store};
use secrecy::ExposeSecret;

// ------------------------------------------------------------------ harness

/// Whether `CI` asks for every suite to run: set, and neither empty,
/// `false` nor `0`.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A suite that needs an external tool found it missing: under CI this
/// fails (`install` says what CI must install); elsewhere it says loudly on
/// stderr that `suite` did not run, and the caller returns (passes). The
/// banner is written to the process's stderr itself, past the test
/// harness's capture, so `cargo test` shows it although the test passes.
pub fn missing_tool(suite: &str, message: &str, install: &str) {
    if in_ci() {
        panic!("{suite}: {message}; CI must install it: {install}");
    }
    let rule = "!".repeat(72);
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n{rule}\n!! {suite} DID NOT RUN: {message}.\n\
         !! To run it: {install}; with CI set, it fails instead.\n{rule}\n"
    );
}

/// How long one otp-link process may take before the test calls it hung. A
/// bound against hangs (a FIFO store once blocked forever), not a measure.
pub const HANG: Duration = Duration::from_secs(60);
/// The unprivileged user the owner and non-dumpable tests use (`nobody`).
pub const NOBODY: u32 = 65534;

/// The `otp-link` binary, built up to date on first use.
pub fn otp_link() -> &'static Path {
    crate::otp_link_bin()
}

/// `otp-link --store STORE`, with no store, lock or audit variables
/// inherited.
pub fn otp(store: &Path) -> Command {
    let mut command = Command::new(otp_link());
    command
        .arg("--store")
        .arg(store)
        .env_remove("OTP_LINK_STORE")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("OTP_LINK_LOCK_TIMEOUT_MS")
        .env_remove("OTP_LINK_AUDIT");
    command
}

/// The committed spec vector `name` (`spec/vectors/NAME.json`).
pub fn spec_vector(name: &str) -> crate::Vector {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../spec/vectors")
        .join(format!("{name}.json"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("a vector")
}

/// Writes the store of a spec vector at `path` (mode 0600).
pub fn write_vector_store(path: &Path, vector: &crate::Vector) {
    write_private(path, &hex::decode(&vector.store).expect("hex"));
}

/// Starts a command with `input` on stdin and stdout and stderr captured.
pub fn spawn(mut command: Command, input: &str) -> Child {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start otp-link");
    if let Some(mut stdin) = child.stdin.take() {
        // A writer killed before it reads closes the pipe: not our error.
        let _ = stdin.write_all(input.as_bytes());
    }
    child
}

/// Runs a command to completion; panics when it hangs ([`HANG`]).
pub fn run(mut command: Command, input: &str) -> Output {
    run_with(&mut command, input, HANG)
}

/// Starts `command`, again when the kernel says its binary is busy
/// (`ETXTBSY`): a binary just copied for another user ([`AsNobody`]) stays
/// open for writing in every child another test thread forks while the copy
/// is written, until that child execs, a few milliseconds at most.
fn spawn_retrying(command: &mut Command) -> std::io::Result<Child> {
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                thread::sleep(Duration::from_millis(10));
            }
            spawned => return spawned,
        }
    }
}

/// Runs a command to completion with `input` on stdin, capturing its
/// output; panics when it takes longer than `timeout`. The input is written
/// on a thread, so a child that does not read it cannot block the test.
pub fn run_with(command: &mut Command, input: &str, timeout: Duration) -> Output {
    let description = format!("{command:?}");
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child =
        spawn_retrying(command).unwrap_or_else(|e| panic!("cannot start {description}: {e}"));
    let pid = child.id();
    let mut stdin = child.stdin.take().expect("piped stdin");
    let input = input.to_owned();
    // A child that exits before it reads closes the pipe: not our error.
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let output = match receiver.recv_timeout(timeout) {
        Ok(output) => output.unwrap_or_else(|e| panic!("waiting for {description}: {e}")),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("{description} did not finish within {timeout:?}");
        }
    };
    let _ = writer.join();
    output
}

/// Bytes a program printed, as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Panics with the command's output unless it succeeded.
pub fn check(what: &str, output: Output) -> Output {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts a clean failure: exit `code`, nothing on stdout, exactly one
/// stderr line `otp-link: ...` and no panic. Returns the line.
pub fn assert_fails(out: &Output, code: i32, what: &str) -> String {
    let stderr = stderr_of(out);
    assert!(!stderr.contains("panicked"), "{what}: panicked: {stderr}");
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: wrong exit status; stderr: {stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "{what}: printed to stdout on failure"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: not one stderr line: {stderr:?}");
    assert!(
        lines[0].starts_with("otp-link: "),
        "{what}: stderr does not start with 'otp-link: ': {stderr:?}"
    );
    // No key text, whatever the failure.
    assert!(
        !lines[0].contains("otp1-u-") && !lines[0].contains("otp1-p-"),
        "{what}: stderr shows a key: {stderr:?}"
    );
    lines[0].to_owned()
}

/// [`assert_fails`], and none of `secrets` (values, keys) is in the line.
pub fn assert_fails_hiding(out: &Output, code: i32, what: &str, secrets: &[&str]) -> String {
    let line = assert_fails(out, code, what);
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        assert!(
            !line.contains(secret),
            "{what}: stderr leaks a secret: {line}"
        );
    }
    line
}

/// [`assert_fails`], and the line names `path`.
pub fn assert_fails_naming(out: &Output, code: i32, path: &Path, what: &str) -> String {
    let line = assert_fails(out, code, what);
    assert!(
        line.contains(&path.display().to_string()),
        "{what}: the message does not name {}: {line}",
        path.display()
    );
    line
}

pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?}; stderr: {}",
        out.status,
        stderr_of(out)
    );
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").mode() & 0o7777
}

#[cfg(unix)]
pub fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

#[cfg(unix)]
/// Whether readers refuse a store of `owner` with mode bits `mode`: the
/// permission rule (PostgreSQL's for key files), restated as the tests'
/// oracle. A store of root's may be readable by its group, nothing more;
/// anyone else's by its owner only.
pub fn refused_mode(owner: u32, mode: u32) -> bool {
    let forbidden = if owner == 0 { 0o037 } else { 0o077 };
    mode & forbidden != 0
}

#[cfg(unix)]
/// The `chmod` that the message refusing the store at `path` names:
/// `chmod 640` for a store of root's, `chmod 600` for anyone else's.
pub fn chmod_fix(path: &Path) -> &'static str {
    if fs::metadata(path).expect("metadata").uid() == 0 {
        "chmod 640"
    } else {
        "chmod 600"
    }
}

/// Writes `bytes` as a store file of mode 0600 (on Unix).
pub fn write_private(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).expect("writing a store file");
    #[cfg(unix)]
    set_mode(path, 0o600);
}

pub fn sibling(store: &Path, suffix: &str) -> PathBuf {
    let mut name = store.file_name().expect("file name").to_os_string();
    name.push(".");
    name.push(suffix);
    store.with_file_name(name)
}

#[cfg(unix)]
/// True when the tests run as root (they create files owned by their euid).
pub fn is_root() -> bool {
    let dir = tempdir();
    fs::metadata(dir.path()).expect("metadata").uid() == 0
}

#[cfg(unix)]
/// For a test that needs root (to act as another user, to mount): true
/// when it runs as root; else says on stderr that the test did not run, and
/// fails under `CI=true`, which runs as root.
pub fn root_or_skip(why: &str) -> bool {
    if is_root() {
        return true;
    }
    eprintln!("skipped: needs root {why}");
    assert!(std::env::var_os("CI").is_none(), "CI runs as root");
    false
}

#[cfg(unix)]
/// A small tmpfs mounted for a test, unmounted however the test ends.
pub struct Mounted(PathBuf);

#[cfg(unix)]
impl Mounted {
    /// Mounts a tmpfs of `size` (as `mount -o size=`, e.g. `"64k"`) at
    /// `DIR/small`, or `None` where the test must be skipped: not root, or
    /// no tmpfs can be mounted here (both said on stderr, and failing
    /// under `CI=true`, which runs as root and mounts).
    pub fn small_tmpfs(dir: &Path, size: &str) -> Option<Mounted> {
        if !root_or_skip("to mount a small tmpfs") {
            return None;
        }
        let mount = dir.join("small");
        fs::create_dir(&mount).expect("a mount point");
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "otp-link-test",
            ])
            .arg(&mount)
            .stderr(Stdio::null())
            .status();
        if !mounted.is_ok_and(|s| s.success()) {
            eprintln!("skipped: cannot mount a tmpfs here");
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs as root and mounts"
            );
            return None;
        }
        Some(Mounted(mount))
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

#[cfg(unix)]
impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[cfg(unix)]
/// Copies the binary into `dir` and makes `dir` enterable by everyone: the
/// way to run otp-link as another user (the test binary's own directory may
/// not be reachable for that user).
pub fn runnable_copy(dir: &Path) -> PathBuf {
    set_mode(dir, 0o755);
    let binary = dir.join("otp-link");
    fs::copy(otp_link(), &binary).expect("copying otp-link");
    set_mode(&binary, 0o755);
    binary
}

#[cfg(unix)]
/// A copy of the binary that user [`NOBODY`] may run ([`runnable_copy`]).
pub struct AsNobody {
    binary: PathBuf,
}

#[cfg(unix)]
impl AsNobody {
    /// Copies the binary into `dir` and makes `dir` enterable by everyone.
    pub fn new(dir: &Path) -> Self {
        AsNobody {
            binary: runnable_copy(dir),
        }
    }

    /// `otp-link --store STORE` as user and group 65534, with an empty
    /// environment.
    pub fn otp(&self, store: &Path) -> Command {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(&self.binary);
        command
            .uid(NOBODY)
            .gid(NOBODY)
            .arg("--store")
            .arg(store)
            .env_clear();
        command
    }

    /// A new directory `DIR/name` owned by user and group 65534, of `mode`:
    /// where a store of that user lives. `dir` is the one given to
    /// [`AsNobody::new`], which that user may enter.
    pub fn home(&self, dir: &Path, name: &str, mode: u32) -> PathBuf {
        let home = dir.join(name);
        fs::create_dir(&home).expect("a home directory for user nobody");
        std::os::unix::fs::chown(&home, Some(NOBODY), Some(NOBODY)).expect("chown to nobody");
        set_mode(&home, mode);
        home
    }
}

#[cfg(unix)]
/// A system user of the tests, with its own group: created when missing
/// (as root), so that a fresh machine needs nothing but `useradd` and
/// `groupadd` (Debian's `passwd`, which `.ci/run` installs where missing).
#[derive(Clone, Debug)]
pub struct SystemUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

#[cfg(unix)]
/// The id `id ARGS` prints, if it succeeds.
pub fn id_of(args: &[&str]) -> Option<u32> {
    let out = Command::new("id").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

#[cfg(unix)]
/// Runs a user-administration command, a few times when another process
/// holds the lock of /etc/passwd or /etc/group (test binaries running side
/// by side); panics when it keeps failing.
fn administer(program: &str, args: &[&str]) {
    for attempt in 0.. {
        let out = Command::new(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        if out.status.success() {
            return;
        }
        assert!(
            attempt < 20,
            "{program} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(unix)]
fn runs_ok(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|out| out.status.success())
}

#[cfg(unix)]
/// The system group `name`, created when missing; its id.
pub fn system_group(name: &str) -> u32 {
    let gid = || {
        let out = Command::new("getent").args(["group", name]).output().ok()?;
        let line = String::from_utf8_lossy(&out.stdout).into_owned();
        line.split(':').nth(2)?.trim().parse().ok()
    };
    if let Some(gid) = gid() {
        return gid;
    }
    let _guard = USERS.lock().unwrap_or_else(|e| e.into_inner());
    if gid().is_none() {
        eprintln!("creating system group {name} for the tests");
        administer("groupadd", &["--system", "-f", name]);
    }
    gid().expect("the group just created")
}

#[cfg(unix)]
/// The path of a program of the base system (`runuser`, `setpriv`), looked
/// for where Debian keeps them: the commands that run it have an empty
/// environment, so no PATH to search.
pub fn system_program(name: &str) -> PathBuf {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("{name} is not installed (util-linux)"))
}

#[cfg(unix)]
static USERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[cfg(unix)]
/// The system user `name` (no home, no login shell, its own group), also a
/// member of `groups`, created or added to them when it is not yet. Needs
/// root.
pub fn system_user(name: &str, groups: &[&str]) -> SystemUser {
    for group in groups {
        system_group(group);
    }
    let _guard = USERS.lock().unwrap_or_else(|e| e.into_inner());
    if id_of(&["-u", name]).is_none() {
        eprintln!("creating system user {name} for the tests");
        // Its own group: new, or the one of its name a test made before.
        let group = if runs_ok("getent", &["group", name]) {
            ["-g", name]
        } else {
            ["--user-group", "--system"]
        };
        let mut args = vec![
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
        ];
        args.extend(group);
        args.push(name);
        administer("useradd", &args);
    }
    let member_of = || {
        let out = Command::new("id")
            .args(["-Gn", name])
            .output()
            .expect("id -Gn");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    for group in groups {
        if !member_of().iter().any(|g| g == group) {
            administer("usermod", &["-a", "-G", group, name]);
        }
    }
    SystemUser {
        name: name.to_owned(),
        uid: id_of(&["-u", name]).expect("uid of the user just created"),
        gid: id_of(&["-g", name]).expect("gid of the user just created"),
    }
}

#[cfg(unix)]
/// A copy of the binary ([`runnable_copy`]) run as a [`SystemUser`] with
/// `runuser`, which gives the process the user's groups from /etc/group.
pub struct AsUser {
    binary: PathBuf,
    user: SystemUser,
}

#[cfg(unix)]
impl AsUser {
    /// Copies the binary into `dir` and makes `dir` enterable by everyone.
    pub fn new(dir: &Path, user: &SystemUser) -> Self {
        AsUser {
            binary: runnable_copy(dir),
            user: user.clone(),
        }
    }

    /// `runuser -u USER -- otp-link`, with an empty environment (but for
    /// what runuser sets) and the working directory `/`.
    pub fn command(&self) -> Command {
        let mut command = Command::new(system_program("runuser"));
        command
            .args(["-u", &self.user.name, "--"])
            .arg(&self.binary)
            .env_clear()
            .current_dir("/");
        command
    }

    /// `otp-link --store STORE` as the user.
    pub fn otp(&self, store: &Path) -> Command {
        let mut command = self.command();
        command.arg("--store").arg(store);
        command
    }
}

// ------------------------------------------------------------------ accounts

/// An account secured through the binary, with the keys it printed.
#[derive(Clone, Debug)]
pub struct Issued {
    pub name: String,
    pub username: String,
    pub password: String,
    pub user_key: String,
    pub pass_key: String,
}

pub fn username_of(name: &str) -> String {
    format!("user-{name}")
}

pub fn password_of(name: &str) -> String {
    format!("pw {name} ä$'\"")
}

/// The two key lines of `secure-account`'s text output, when both were
/// printed in full.
pub fn text_keys(stdout: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(stdout).ok()?;
    let mut lines = text.split_inclusive('\n');
    let user = lines.next()?.strip_suffix('\n')?;
    let pass = lines.next()?.strip_suffix('\n')?;
    (user.starts_with("otp1-u-") && pass.starts_with("otp1-p-"))
        .then(|| (user.to_owned(), pass.to_owned()))
}

/// The complete JSON lines of `secure-account --batch`.
pub fn batch_keys(stdout: &[u8]) -> Vec<Issued> {
    let text = String::from_utf8_lossy(stdout);
    text.split_inclusive('\n')
        .filter_map(|line| line.strip_suffix('\n'))
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|v| {
            let name = v["account"].as_str().expect("account").to_owned();
            Issued {
                username: username_of(&name),
                password: password_of(&name),
                user_key: v["user_key"].as_str().expect("user_key").to_owned(),
                pass_key: v["pass_key"].as_str().expect("pass_key").to_owned(),
                name,
            }
        })
        .collect()
}

pub fn secure_command(store: &Path, name: &str) -> (Command, String) {
    let mut command = otp(store);
    command.args(["secure-account", name]);
    let input = format!("{}\n{}\n", username_of(name), password_of(name));
    (command, input)
}

pub fn batch_command(store: &Path, names: &[String]) -> (Command, String) {
    let mut command = otp(store);
    command.args(["secure-account", "--batch"]);
    let input = names
        .iter()
        .map(|name| {
            let line = serde_json::json!({
                "account": name,
                "username": username_of(name),
                "password": password_of(name),
            });
            format!("{line}\n")
        })
        .collect();
    (command, input)
}

/// Secures `name` through the binary; panics unless it succeeds.
pub fn secure(store: &Path, name: &str) -> Issued {
    let (command, input) = secure_command(store, name);
    let out = run(command, &input);
    assert_ok(&out, &format!("secure-account {name}"));
    let (user_key, pass_key) = text_keys(&out.stdout).expect("two key lines");
    Issued {
        name: name.to_owned(),
        username: username_of(name),
        password: password_of(name),
        user_key,
        pass_key,
    }
}

pub fn recover(store: &Path, account: &Issued) -> Output {
    let mut command = otp(store);
    command.args(["recover", &account.user_key, &account.pass_key]);
    run(command, "")
}

/// Asserts that `otp-link recover` gives the account's credentials back.
pub fn assert_recovers(store: &Path, account: &Issued) {
    let out = recover(store, account);
    assert_ok(&out, &format!("recover {}", account.name));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n{}\n", account.username, account.password),
        "recover {}",
        account.name
    );
}

/// Recovers every account, on four threads.
pub fn assert_all_recover(store: &Path, accounts: &[Issued]) {
    thread::scope(|scope| {
        for chunk in accounts.chunks(accounts.len().div_ceil(4).max(1)) {
            scope.spawn(move || {
                for account in chunk {
                    assert_recovers(store, account);
                }
            });
        }
    });
}

/// The account names `otp-link list --format json` prints.
pub fn list_names(store: &Path) -> Vec<String> {
    let mut command = otp(store);
    command.args(["list", "--format", "json"]);
    let out = run(command, "");
    assert_ok(&out, "list");
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).expect("list JSON");
    let rows = listing["accounts"].as_array().expect("list JSON: accounts");
    rows.iter()
        .map(|row| row["account"].as_str().expect("account").to_owned())
        .collect()
}

/// A store with accounts `a0..a{n}` made through the library, and their keys
/// as text (user key, pass key), for tests that need a valid store fast.
pub fn library_store(path: &Path, n: usize) -> Vec<(String, String)> {
    let store = Store::at(path);
    (0..n)
        .map(|i| {
            let name = format!("a{i}");
            let credentials = Credentials::new(username_of(&name), password_of(&name));
            let keys = store
                .secure_account(&name, &credentials, 25 + i)
                .and_then(otp_core::Pending::commit)
                .expect("secure_account");
            key_texts(&keys)
        })
        .collect()
}

pub fn key_texts(keys: &Keys) -> (String, String) {
    (
        keys.user().to_secret_text().expose_secret().to_owned(),
        keys.pass().to_secret_text().expose_secret().to_owned(),
    )
}

// ----------------------------------------------------------------- terminal

/// A command run on a pseudo-terminal by util-linux `script`, whose screen
/// is collected as it is written and which is typed into through stdin.
pub struct Terminal {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    screen: std::sync::Arc<std::sync::Mutex<String>>,
    reader: Option<thread::JoinHandle<()>>,
}

impl Terminal {
    /// Runs `shell_command` (sh syntax) on a terminal, or `None` when there
    /// is no `script` here (a test then says so, and fails under CI).
    pub fn start(shell_command: &str, store: &Path) -> Option<Terminal> {
        if Command::new("script").arg("--version").output().is_err() {
            return None;
        }
        let mut child = Command::new("script")
            .args(["-qec", shell_command, "/dev/null"])
            .env("OTP_LINK_STORE", store)
            .env("SHELL", "/bin/sh")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start script");
        let screen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut out = child.stdout.take().expect("stdout");
        let reader = {
            let screen = std::sync::Arc::clone(&screen);
            thread::spawn(move || {
                use std::io::Read;
                let mut buf = [0u8; 256];
                while let Ok(n) = out.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    screen
                        .lock()
                        .expect("screen")
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        };
        Some(Terminal {
            stdin: child.stdin.take(),
            child,
            screen,
            reader: Some(reader),
        })
    }

    /// What the terminal has shown so far.
    pub fn screen(&self) -> String {
        self.screen.lock().expect("screen").clone()
    }

    /// Waits until `text` has appeared `count` times, then types `keys`
    /// (after a pause that lets the program switch echo off).
    pub fn answer(&mut self, text: &str, count: usize, keys: &[u8]) {
        let start = std::time::Instant::now();
        while self.screen().matches(text).count() < count {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no {text:?} on the screen: {}",
                self.screen()
            );
            thread::sleep(Duration::from_millis(20));
        }
        thread::sleep(Duration::from_millis(100));
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(keys).expect("typing");
        stdin.flush().expect("typing");
    }

    /// Waits for the command to end and returns the whole screen.
    pub fn finish(mut self) -> String {
        let start = std::time::Instant::now();
        while self.child.try_wait().expect("try_wait").is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the command did not finish: {}",
                self.screen()
            );
            thread::sleep(Duration::from_millis(20));
        }
        drop(self.stdin.take());
        if let Some(reader) = self.reader.take() {
            reader.join().expect("screen reader");
        }
        self.screen()
    }
}

// ------------------------------------------------------------ children

/// What the example children print instead of the credentials they
/// recovered (the Rust child in otp-core/examples, the C and Java children
/// in otp-ffi/examples): each value's FNV-1a digest, the password's rotated
/// left by one, XORed.
pub fn child_fingerprint(username: &str, password: &str) -> u64 {
    fn fnv1a(value: &str) -> u64 {
        value.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }
    fnv1a(username) ^ fnv1a(password).rotate_left(1)
}

/// The line an example child prints for the credentials it recovered.
pub fn child_line(username: &str, password: &str) -> String {
    format!(
        "recovered a {}-byte username and a {}-byte password; fingerprint {:016x}",
        username.len(),
        password.len(),
        child_fingerprint(username, password)
    )
}
