//! The `otp-link` binary end to end: every command, format and error of the
//! CLI issue, driven as separate processes the way a host would. Unix only,
//! like the shared harness (tests/src/harness.rs).
//!
//! The fixed output — `--help`, `--version`, and the error lines with their
//! exit codes that need no store, or the stores of the spec's vectors — is
//! snapshot-tested as whole lines in `otp-cli/tests/cli_snapshots.rs`
//! (cases in `otp-cli/tests/cmd/`); this file tests the behaviour around it.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Command as Process, Output, Stdio};

use assert_cmd::Command;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("state").join("store.cbor")
    }

    fn cmd(&self) -> Command {
        let mut cmd = Command::new(otp_link_tests::otp_link_bin());
        cmd.env("OTP_LINK_STORE", self.store())
            .env_remove("OTP_LINK_LOCK_TIMEOUT_MS");
        cmd
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        self.cmd().args(args).write_stdin(stdin).output().unwrap()
    }

    /// Secures an account from piped stdin and returns its two keys.
    fn secure(&self, name: &str, username: &str, password: &str) -> (String, String) {
        let out = self.run(
            &["secure-account", name],
            &format!("{username}\n{password}\n"),
        );
        assert_success(&out);
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        (lines[0].to_owned(), lines[1].to_owned())
    }

    fn store_bytes(&self) -> Vec<u8> {
        std::fs::read(self.store()).unwrap()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        stderr(out)
    );
}

/// A failure as the shared harness checks it (exit code, one `otp-link: `
/// line, nothing on stdout, no panic, no key), and none of `secrets`.
fn assert_fails(out: &Output, code: i32, secrets: &[&str]) -> String {
    otp_link_tests::harness::assert_fails_hiding(out, code, "otp-link", secrets)
}

#[test]
fn secure_from_piped_stdin_then_recover_in_every_format() {
    let env = Env::new();
    let (uk, pk) = env.secure("db", "alice", "s3cret pw");

    let out = env.run(&["recover", &uk, &pk], "");
    assert_success(&out);
    assert_eq!(stdout(&out), "alice\ns3cret pw\n");

    let out = env.run(&["recover", "--format", "json", &uk, &pk], "");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"username": "alice", "password": "s3cret pw"})
    );

    let out = env.run(&["recover", "--format", "shell", &uk, &pk], "");
    assert_eq!(
        stdout(&out),
        "export OTP_LINK_USERNAME='alice'\nexport OTP_LINK_PASSWORD='s3cret pw'\n"
    );
    let out = env.run(
        &[
            "recover",
            "--format",
            "shell",
            "--user-var",
            "PGUSER",
            "--pass-var",
            "PGPASSWORD",
            &uk,
            &pk,
        ],
        "",
    );
    assert_eq!(
        stdout(&out),
        "export PGUSER='alice'\nexport PGPASSWORD='s3cret pw'\n"
    );

    let out = env.run(&["recover", "--field", "username", &uk, &pk], "");
    assert_eq!(stdout(&out), "alice\n");
    let out = env.run(&["recover", "--field", "password", &uk, &pk], "");
    assert_eq!(stdout(&out), "s3cret pw\n");
}

#[test]
fn secure_prints_json_keys_that_recover_on_request() {
    let env = Env::new();
    let out = env.run(&["secure-account", "svc", "--format", "json"], "u\np\n");
    assert_success(&out);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["account"], "svc");
    let (uk, pk) = (
        json["user_key"].as_str().unwrap(),
        json["pass_key"].as_str().unwrap(),
    );
    assert_eq!(stdout(&env.run(&["recover", uk, pk], "")), "u\np\n");
}

#[test]
fn only_one_trailing_newline_is_stripped_from_piped_values() {
    let env = Env::new();
    let (uk, pk) = env.secure("db", " spaced user\t", "pw with CR\r");
    // "pw with CR\r\n" had its "\r\n" stripped, leaving "pw with CR".
    let out = env.run(&["recover", "--format", "json", &uk, &pk], "");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["username"], " spaced user\t");
    assert_eq!(json["password"], "pw with CR");

    let out = env.run(&["secure-account", "crlf"], "user\r\npass\r\n");
    let keys = stdout(&out);
    let keys: Vec<&str> = keys.lines().collect();
    let out = env.run(&["recover", "--format", "json", keys[0], keys[1]], "");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"username": "user", "password": "pass"})
    );
}

#[test]
fn missing_stdin_lines_create_no_store() {
    let env = Env::new();
    let out = env.run(&["secure-account", "db"], "only-a-user\n");
    assert!(!out.status.success());
    assert!(!env.store().exists());
}

#[cfg(unix)]
#[test]
fn store_and_parent_are_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.secure("db", "u", "p");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&env.store()), 0o600);
    assert_eq!(mode(env.store().parent().unwrap()), 0o700);
}

#[test]
fn existing_account_is_refused_unless_replace_and_replace_retires_old_keys() {
    let env = Env::new();
    let (uk, pk) = env.secure("db", "alice", "old-password");
    let before = env.store_bytes();
    let out = env.run(&["secure-account", "db"], "alice\nnew-password\n");
    let err = assert_fails(&out, 6, &["new-password"]);
    assert!(err.contains("--replace"), "{err}");
    assert_eq!(env.store_bytes(), before);

    let out = env.run(
        &["secure-account", "db", "--replace"],
        "alice\nnew-password\n",
    );
    assert_success(&out);
    let keys = stdout(&out);
    let new: Vec<&str> = keys.lines().collect();
    assert_fails(&env.run(&["recover", &uk, &pk], ""), 4, &["old-password"]);
    assert_eq!(
        stdout(&env.run(&["recover", new[0], new[1]], "")),
        "alice\nnew-password\n"
    );

    let out = env.run(&["secure-account", "nobody", "--replace"], "a\nb\n");
    assert_fails(&out, 5, &[]);
}

#[test]
fn value_too_long_is_refused_and_the_widest_frame_holds_99_bytes() {
    let env = Env::new();
    let long = "x".repeat(63);
    let out = env.run(&["secure-account", "db"], &format!("u\n{long}\n"));
    assert!(!out.status.success());
    assert!(!env.store().exists() || env.run(&["list"], "").stdout.len() < 80);

    let max = "y".repeat(99);
    let out = env.run(
        &["secure-account", "wide", "--width", "101"],
        &format!("{max}\n{max}\n"),
    );
    assert_success(&out);
    let keys = stdout(&out);
    let keys: Vec<&str> = keys.lines().collect();
    assert_eq!(
        stdout(&env.run(&["recover", "--field", "password", keys[0], keys[1]], "")),
        format!("{max}\n")
    );
}

#[test]
fn keys_can_come_from_stdin_with_dash() {
    let env = Env::new();
    let (uk, pk) = env.secure("db", "alice", "pw");
    let out = env.run(&["recover", "-", "-"], &format!("{uk}\n{pk}\n"));
    assert_eq!(stdout(&out), "alice\npw\n");
    let out = env.run(&["recover", &uk, "-"], &format!("{pk}\n"));
    assert_eq!(stdout(&out), "alice\npw\n");
}

#[test]
fn keys_can_come_from_an_environment_variable() {
    let env = Env::new();
    let (uk, pk) = env.secure("db", "alice", "pw");
    let out = env
        .cmd()
        .args(["recover", "--keys-env", "APP_KEYS"])
        .env("APP_KEYS", format!("  {uk}\n {pk} "))
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "alice\npw\n");
}

#[cfg(unix)]
#[test]
fn exec_puts_credentials_in_the_environment_not_argv_and_passes_exit_status() {
    let env = Env::new();
    let (uk, pk) = env.secure("db", "alice", "pw $HOME 'q'");
    let script = r#"printf '%s|%s|%s|%s' "$OTP_LINK_USERNAME" "$OTP_LINK_PASSWORD" "$#" "${APP_KEYS-unset}"; exit 7"#;
    let out = env
        .cmd()
        .args(["exec", &uk, &pk, "--", "sh", "-c", script, "child"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert_eq!(stdout(&out), "alice|pw $HOME 'q'|0|unset");

    // Custom variable names; --keys-env removed from the child's environment.
    let out = env
        .cmd()
        .args([
            "exec",
            "--user-var",
            "PGUSER",
            "--pass-var",
            "PGPASSWORD",
            "--keys-env",
            "APP_KEYS",
            "--",
        ])
        .args([
            "sh",
            "-c",
            r#"printf '%s|%s|%s' "$PGUSER" "$PGPASSWORD" "${APP_KEYS-unset}""#,
        ])
        .env("APP_KEYS", format!("{uk} {pk}"))
        .output()
        .unwrap();
    assert_success(&out);
    assert_eq!(stdout(&out), "alice|pw $HOME 'q'|unset");

    let out = env
        .cmd()
        .args(["exec", &uk, &pk, "--", "/nonexistent/program"])
        .output()
        .unwrap();
    assert_fails(&out, 127, &["pw $HOME"]);
}

#[cfg(unix)]
#[test]
fn shell_format_survives_eval_for_hostile_values() {
    let env = Env::new();
    let values = [
        ("it's \"quoted\"", "a b  c"),
        ("$HOME `id` $(id)", "back\\slash \\n \\' end\\"),
        ("ünïcødé ✓ 密码", "'''"),
        ("", "; rm -rf / #"),
        ("tab\there", "*?[a-z]~"),
    ];
    let shells: Vec<&str> = ["sh", "bash", "dash"]
        .into_iter()
        .filter(|s| {
            Process::new(s)
                .arg("-c")
                .arg("true")
                .status()
                .is_ok_and(|st| st.success())
        })
        .collect();
    assert!(shells.contains(&"sh"));
    for (i, (user, pass)) in values.iter().enumerate() {
        let (uk, pk) = env.secure(&format!("acct{i}"), user, pass);
        let exports = stdout(&env.run(&["recover", "--format", "shell", &uk, &pk], ""));
        for shell in &shells {
            let out = Process::new(shell)
                .arg("-c")
                .arg(r#"eval "$1"; printf '%s\0%s' "$OTP_LINK_USERNAME" "$OTP_LINK_PASSWORD""#)
                .arg("sh")
                .arg(&exports)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(out.status.success(), "{shell}: {}", stderr(&out));
            assert_eq!(
                stdout(&out),
                format!("{user}\0{pass}"),
                "{shell} with {exports}"
            );
        }
    }
}

#[test]
fn list_shows_names_widths_and_times_and_never_a_secret() {
    let env = Env::new();
    env.secure("alpha", "user-alpha", "pass-alpha");
    let out = env.run(
        &["secure-account", "beta", "--width", "25"],
        "user-beta\npass-beta\n",
    );
    assert_success(&out);
    let text = stdout(&env.run(&["list"], ""));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("ACCOUNT"));
    assert!(
        lines[1].starts_with("alpha") && lines[1].contains(" 64 "),
        "{text}"
    );
    assert!(
        lines[2].starts_with("beta") && lines[2].contains(" 25 "),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&env.run(&["list", "--format", "json"], "").stdout).unwrap();
    let rows = &json["accounts"];
    assert_eq!(rows[1]["account"], "beta");
    assert_eq!(rows[1]["width"], 25);
    assert!(rows[1]["created"].as_str().unwrap().ends_with('Z'));
    assert!(rows[1]["rotated"].is_null());
    for secret in ["user-alpha", "pass-alpha", "user-beta", "pass-beta"] {
        assert!(!text.contains(secret) && !json.to_string().contains(secret));
    }
}

#[test]
fn rotate_issues_new_keys_and_the_old_ones_fail() {
    let env = Env::new();
    let (uk, pk) = env.secure("db", "alice", "pw");
    let out = env.run(&["rotate", &uk, &pk], "");
    assert_success(&out);
    let keys = stdout(&out);
    let new: Vec<&str> = keys.lines().collect();
    assert_eq!(new.len(), 2);
    assert_ne!(new[0], uk);
    assert_fails(&env.run(&["recover", &uk, &pk], ""), 4, &["alice"]);
    assert_eq!(
        stdout(&env.run(&["recover", new[0], new[1]], "")),
        "alice\npw\n"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&env.run(&["list", "--format", "json"], "").stdout).unwrap();
    assert!(json["accounts"][0]["rotated"].is_string());
    // Rotating with the old keys fails and changes nothing.
    let before = env.store_bytes();
    assert_fails(&env.run(&["rotate", &uk, &pk], ""), 4, &[]);
    assert_eq!(env.store_bytes(), before);
    let out = env.run(&["rotate", "--format", "json", new[0], new[1]], "");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["account"], "db");
}

#[test]
fn remove_then_the_keys_name_an_unknown_account() {
    let env = Env::new();
    let (uk, pk) = env.secure("db", "alice", "pw");
    env.secure("other", "bob", "pw2");
    assert_success(&env.run(&["remove", "db"], ""));
    assert_fails(&env.run(&["recover", &uk, &pk], ""), 5, &[]);
    assert_fails(&env.run(&["remove", "db"], ""), 5, &[]);
    let json: serde_json::Value =
        serde_json::from_slice(&env.run(&["list", "--format", "json"], "").stdout).unwrap();
    assert_eq!(json["accounts"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["accounts"][0]["account"], "other");
}

#[test]
fn verify_prints_the_account_name_only() {
    let env = Env::new();
    let (uk, pk) = env.secure("edms-prod", "alice", "pw");
    let out = env.run(&["verify", &uk, &pk], "");
    assert_success(&out);
    assert_eq!(stdout(&out), "edms-prod\n");
    let (uk2, _) = env.secure("other", "bob", "pw2");
    assert_fails(&env.run(&["verify", &uk2, &pk], ""), 3, &[]);
}

#[cfg(unix)]
#[test]
fn store_errors_have_their_own_exit_codes() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let (uk, pk) = env.secure("a", "alice", "secret-a");

    // Corrupt: the last byte cut off.
    let good = env.store_bytes();
    std::fs::write(env.store(), &good[..good.len() - 1]).unwrap();
    assert_fails(&env.run(&["recover", &uk, &pk], ""), 8, &["secret-a"]);
    std::fs::write(env.store(), &good).unwrap();

    // Insecure permissions.
    std::fs::set_permissions(env.store(), std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_fails(&env.run(&["recover", &uk, &pk], ""), 9, &[]);
    std::fs::set_permissions(env.store(), std::fs::Permissions::from_mode(0o600)).unwrap();

    // --store wins over OTP_LINK_STORE.
    let missing = env.dir.path().join("nope.cbor");
    let out = env
        .cmd()
        .env("OTP_LINK_STORE", &missing)
        .arg("--store")
        .arg(env.store())
        .args(["verify", &uk, &pk])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "a\n");
}

#[test]
fn default_store_is_under_xdg_data_home() {
    let env = Env::new();
    let data = env.dir.path().join("xdg");
    let mut cmd = Command::new(otp_link_tests::otp_link_bin());
    let out = cmd
        .env_remove("OTP_LINK_STORE")
        .env("XDG_DATA_HOME", &data)
        .env("HOME", env.dir.path())
        .args(["secure-account", "db"])
        .write_stdin("u\np\n")
        .output()
        .unwrap();
    assert_success(&out);
    assert!(data.join("otp-link").join("store.cbor").is_file());
}

#[test]
fn batch_secures_all_in_order_or_nothing() {
    let env = Env::new();
    let lines = r#"{"account": "a", "username": "ua", "password": "pa"}

{"account": "b", "username": "ub", "password": "p\"b"}
{"account": "c", "username": "uc", "password": "pc"}
"#;
    let out = env.run(&["secure-account", "--batch"], lines);
    assert_success(&out);
    let rows: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    for (row, (name, user, pass)) in
        rows.iter()
            .zip([("a", "ua", "pa"), ("b", "ub", "p\"b"), ("c", "uc", "pc")])
    {
        assert_eq!(row["account"], name);
        let out = env.run(
            &[
                "recover",
                row["user_key"].as_str().unwrap(),
                row["pass_key"].as_str().unwrap(),
            ],
            "",
        );
        assert_eq!(stdout(&out), format!("{user}\n{pass}\n"));
    }
    // A bad line anywhere secures nothing; the lines themselves are
    // snapshot cases (batch-*).
    let before = env.store_bytes();
    for bad in [
        "{\"account\": \"d\", \"username\": \"u\", \"password\": \"p\"}\nnot json\n",
        "{\"account\": \"d\", \"username\": \"u\"}\n",
        "{\"account\": \"d\", \"username\": \"u\", \"password\": \"p\"}\n{\"account\": \"d\", \"username\": \"u\", \"password\": \"p\"}\n",
        "{\"account\": \"d\", \"username\": \"u\", \"password\": \"01234567890123456789012345678901234567890123456789012345678901234\"}\n",
    ] {
        let out = env.run(&["secure-account", "--batch"], bad);
        assert!(!out.status.success(), "{bad}");
        assert_eq!(env.store_bytes(), before);
    }
    let out = env.run(
        &["secure-account", "--batch"],
        "{\"account\": \"a\", \"username\": \"u\", \"password\": \"p\"}\n",
    );
    assert_fails(&out, 6, &[]);
    assert_eq!(env.store_bytes(), before);
}

#[test]
fn completions_and_man_page_come_from_the_clap_definition() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = env.run(&["completions", shell], "");
        assert_success(&out);
        assert!(stdout(&out).contains("secure-account"), "{shell}");
    }
    let out = env.run(&["man"], "");
    assert_success(&out);
    let man = stdout(&out);
    assert!(
        man.starts_with(".ie") || man.contains(".TH otp-link"),
        "{}",
        &man[..100.min(man.len())]
    );
    assert!(man.contains("secure\\-account"));
}

#[test]
fn host_starts_a_child_with_only_the_two_keys_as_argv() {
    let env = Env::new();
    let (uk, pk) = env.secure("edms", "edms_app", "Tr0ub4dor&3 ✓");
    // The host: its child gets the keys as argv and the store by environment.
    let out = Process::new(otp_link_tests::example_bin("otp-core", "child"))
        .arg(&uk)
        .arg(&pk)
        .env_clear()
        .env("OTP_LINK_STORE", env.store())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let expected = otp_link_tests::harness::child_fingerprint("edms_app", "Tr0ub4dor&3 ✓");
    assert!(text.contains(&format!("{expected:016x}")), "{text}");
    assert!(
        text.contains("8-byte username") && text.contains("15-byte password"),
        "{text}"
    );
    assert!(!text.contains("Tr0ub4dor") && !text.contains("edms_app"));
    // A wrong key: the child fails with otp-link's exit code.
    let (other_uk, _) = env.secure("other", "x", "y");
    let out = Process::new(otp_link_tests::example_bin("otp-core", "child"))
        .args([&other_uk, &pk])
        .env("OTP_LINK_STORE", env.store())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn import_legacy_reseals_every_fixture_and_leaves_the_file_alone() {
    let env = Env::new();
    let fixtures = otp_link_tests::legacy_fixtures::opening();
    assert!(fixtures.len() >= 4);
    for (i, (file, luk, lpk, user, pass)) in fixtures.iter().enumerate() {
        let path = otp_link_tests::legacy_fixtures::dir().join(file);
        let before = std::fs::read(&path).unwrap();
        let name = format!("legacy{i}");
        let out = env
            .cmd()
            .arg("import-legacy")
            .arg(&path)
            .args([luk, lpk, "--account", &name, "--width", "40"])
            .output()
            .unwrap();
        assert_success(&out);
        let keys = stdout(&out);
        let keys: Vec<&str> = keys.lines().collect();
        assert!(keys[0].starts_with("otp1-u-"), "{file}");
        let out = env.run(&["recover", "--format", "json", keys[0], keys[1]], "");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["username"], user.as_str(), "{file}");
        assert_eq!(json["password"], pass.as_str(), "{file}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "{file} was modified");
    }
}

#[test]
fn import_legacy_errors_are_clear() {
    let env = Env::new();
    let (file, luk, lpk, _, pass) = otp_link_tests::legacy_fixtures::opening()
        .into_iter()
        .next()
        .unwrap();
    let path = otp_link_tests::legacy_fixtures::dir().join(&file);
    let import = |args: &[&str], file: &Path| {
        env.cmd()
            .arg("import-legacy")
            .arg(file)
            .args(args)
            .args(["--account", "x"])
            .output()
            .unwrap()
    };
    // Keys swapped: the digits at the end do not come out (the fixtures are
    // chosen so that this is detectable).
    let err = assert_fails(&import(&[&lpk, &luk], &path), 4, &[&pass]);
    assert!(err.contains("legacy key does not open this file"), "{err}");
    // A pickle that would run code, and a file that is no pickle.
    let err = assert_fails(
        &import(
            &[&luk, &lpk],
            &otp_link_tests::legacy_fixtures::dir().join("reject-global-reduce.pkl"),
        ),
        8,
        &[],
    );
    assert!(err.contains("reject-global-reduce.pkl"), "{err}");
    assert_fails(
        &import(
            &[&luk, &lpk],
            &otp_link_tests::legacy_fixtures::dir().join("fixtures.txt"),
        ),
        8,
        &[],
    );
    let missing = env.dir.path().join("missing.pkl");
    assert_fails(&import(&[&luk, &lpk], &missing), 10, &[]);
    assert!(
        !env.store().exists(),
        "no failed import may create the store"
    );
}

/// On a terminal, secure-account asks for the username and the password
/// twice without echo, and asks again when the two passwords differ. Runs
/// under util-linux `script`, which gives the command a pseudo-terminal;
/// each answer is typed only after its prompt has appeared.
#[cfg(target_os = "linux")]
#[test]
fn terminal_prompts_without_echo_and_reasks_on_mismatch() {
    let env = Env::new();
    let bin = otp_link_tests::otp_link_bin().to_owned();
    let command = format!("'{}' secure-account tty-acct", bin.display());
    let Some(mut tty) = otp_link_tests::harness::Terminal::start(&command, &env.store()) else {
        eprintln!(
            "SKIPPED terminal_prompts_without_echo_and_reasks_on_mismatch: no util-linux script"
        );
        assert!(std::env::var_os("CI").is_none(), "CI installs util-linux");
        return;
    };
    tty.answer("Username: ", 1, b"tty-alice\n");
    tty.answer("Password: ", 1, b"first-pw\n");
    tty.answer("Password again: ", 1, b"other-pw\n");
    tty.answer("Password: ", 2, b"final-pw\n");
    tty.answer("Password again: ", 2, b"final-pw\n");
    let screen = tty.finish();
    for typed in ["tty-alice", "first-pw", "other-pw", "final-pw"] {
        assert!(!screen.contains(typed), "{typed} was echoed: {screen}");
    }
    assert!(screen.contains("passwords differ"), "{screen}");
    let keys: Vec<&str> = screen
        .split_whitespace()
        .filter(|w| w.starts_with("otp1-"))
        .collect();
    assert_eq!(keys.len(), 2, "{screen}");
    assert_eq!(
        stdout(&env.run(&["recover", keys[0], keys[1]], "")),
        "tty-alice\nfinal-pw\n"
    );
}
