//! The children of other languages, run as a host runs them: compiled
//! against the libotp_link this `cargo test` built, started with the two
//! keys as their arguments and the store named by `OTP_LINK_STORE`.
//!
//! - `c_child_*`: `examples/child.c`, linked with the static library, over
//!   every vector of spec/vectors and the ways the store is found.
//! - `abi_edges_*`: `tests/abi_edges.c`, the ABI's edges (NULL arguments,
//!   small and overlapping buffers, messages), under valgrind where it is
//!   installed; CI requires it.
//! - `java_child_*`: `examples/Child.java` through JNA and the shared
//!   library; skipped with a message where there is no JDK or JNA, failing
//!   under `CI=true`.
//!
//! Where the library is: cargo builds every crate type of a package's
//! library (here cdylib, staticlib and rlib) before its integration tests,
//! into the `deps` directory beside the test executable, whatever the target
//! directory (`CARGO_TARGET_DIR` or not) and target triple.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use otp_core::{Keys, Store};
use otp_link_tests::harness::{self, child_line, missing_tool};
use otp_link_tests::{committed_vectors, Layer, Vector};

const CRATE: &str = env!("CARGO_MANIFEST_DIR");

/// The directory holding this build's `libotp_link.a` and `libotp_link.so`.
fn library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        let deps = exe.parent().expect("the test executable's directory");
        let found = [Some(deps), deps.parent()]
            .into_iter()
            .flatten()
            .find(|dir| {
                dir.join(static_library()).is_file() && dir.join(shared_library()).is_file()
            });
        found
            .unwrap_or_else(|| {
                panic!(
                    "no {} and {} beside {}: cargo did not build otp-ffi's cdylib and staticlib",
                    static_library(),
                    shared_library(),
                    exe.display()
                )
            })
            .to_owned()
    })
}

fn static_library() -> &'static str {
    if cfg!(windows) {
        "otp_link.lib"
    } else {
        "libotp_link.a"
    }
}

fn shared_library() -> String {
    use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
    format!("{DLL_PREFIX}otp_link{DLL_SUFFIX}")
}

/// What a C program linked with the Rust static library needs besides it
/// and the C library (README, "Other languages"; on glibc from 2.34 on,
/// threads and dlopen are in the C library itself, but the flags do no harm).
fn native_libraries() -> &'static [&'static str] {
    if cfg!(target_os = "macos") {
        &["-lSystem"]
    } else {
        &["-lpthread", "-ldl", "-lm"]
    }
}

/// Where the compiled test programs go.
fn build_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("otp-ffi-children");
    std::fs::create_dir_all(&dir).expect("creating the build directory");
    dir
}

/// Compiles `source` (relative to otp-ffi/) with the system C compiler
/// against include/otp_link.h and the static library, warnings as errors;
/// `None` (after saying so) where there is no C compiler.
fn compile_c(source: &str, name: &str) -> Option<PathBuf> {
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    if Command::new(&cc).arg("--version").output().is_err() {
        missing_tool(
            "compiling C against libotp_link",
            "not found",
            "install one with apt-get install gcc",
        );
        return None;
    }
    let program = build_dir().join(name);
    let out = Command::new(&cc)
        .args(["-std=c99", "-g", "-Wall", "-Wextra", "-Werror"])
        .arg("-I")
        .arg(Path::new(CRATE).join("include"))
        .arg(Path::new(CRATE).join(source))
        .arg(library_dir().join(static_library()))
        .args(native_libraries())
        .arg("-o")
        .arg(&program)
        .output()
        .expect("running the C compiler");
    assert!(
        out.status.success(),
        "cc {source} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(program)
}

/// examples/child.c, compiled once per test run.
fn c_child() -> Option<&'static Path> {
    static CHILD: OnceLock<Option<PathBuf>> = OnceLock::new();
    CHILD
        .get_or_init(|| compile_c("examples/child.c", "child"))
        .as_deref()
}

/// A child started as a host starts one: only the keys as arguments, the
/// store by `OTP_LINK_STORE` when given, no other environment but `extra`.
fn run(mut command: Command, store: Option<&Path>, extra: &[(&str, &OsStr)]) -> Output {
    command.env_clear();
    if let Some(store) = store {
        command.env(otp_core::STORE_ENV, store);
    }
    for (name, value) in extra {
        command.env(name, value);
    }
    command.output().expect("starting a child")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Checks a child's run against what otp-core gives for the same keys and
/// store: on success the line for the credentials, on failure the library
/// error's exit code and exactly its message, with no key on stderr.
fn assert_child_matches_the_library(
    what: &str,
    out: &Output,
    prefix: &str,
    store: &Path,
    keys: (&str, &str),
) -> i32 {
    let code = out.status.code().expect("the child exited");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    match Keys::parse(keys.0, keys.1).and_then(|k| Store::at(store).recover(&k)) {
        Ok(credentials) => {
            assert_eq!(code, 0, "{what}: {stderr}");
            assert_eq!(
                stdout,
                format!(
                    "{}\n",
                    child_line(credentials.username(), credentials.password())
                ),
                "{what}"
            );
            assert!(
                !stdout.contains(credentials.password()) || credentials.password().len() < 3,
                "{what}: the child printed the password"
            );
        }
        Err(e) => {
            assert_eq!(code, i32::from(e.exit_code()), "{what}: {stderr}");
            assert_eq!(stdout, "", "{what}");
            assert_eq!(stderr, format!("{prefix}: {e}\n"), "{what}");
            for key in [keys.0, keys.1] {
                let middle = &key[key.len() / 4..key.len() * 3 / 4];
                assert!(
                    middle.len() < 8 || !stderr.contains(middle),
                    "{what}: stderr holds a key"
                );
            }
        }
    }
    code
}

#[test]
fn c_child_recovers_every_success_vector_and_fails_every_other_with_its_code() {
    let Some(child) = c_child() else { return };
    let vectors = committed_vectors();
    assert!(vectors.len() >= 20, "spec/vectors holds {}", vectors.len());
    for (name, v) in &vectors {
        let dir = harness::tempdir();
        let store = v.install(dir.path());
        let mut command = Command::new(child);
        command.args([&v.user_key, &v.pass_key]);
        let out = run(command, Some(&store), &[]);
        // The library reads the vector as the child found it: launch keys
        // spend a use, which laying the vector out again restores.
        v.install(dir.path());
        let code = assert_child_matches_the_library(
            name,
            &out,
            "child",
            &store,
            (&v.user_key, &v.pass_key),
        );
        assert_eq!(code == 0, v.fails_at == Layer::None, "{name}: exit {code}");
        if code == 0 {
            let expected = child_line(
                v.username.as_deref().expect("a success vector's username"),
                v.password.as_deref().expect("a success vector's password"),
            );
            assert_eq!(text(&out.stdout), format!("{expected}\n"), "{name}");
        }
    }
}

/// The success vector with multi-byte values and a name of its own.
fn utf8_vector() -> Vector {
    committed_vectors()
        .into_iter()
        .find(|(name, _)| name == "ok-width-64-utf8")
        .expect("spec/vectors/ok-width-64-utf8.json")
        .1
}

#[test]
fn c_child_finds_the_store_where_the_cli_looks() {
    let Some(child) = c_child() else { return };
    let v = utf8_vector();
    let expected = format!(
        "{}\n",
        child_line(
            v.username.as_deref().unwrap(),
            v.password.as_deref().unwrap()
        )
    );
    // The child with no OTP_LINK_STORE and only `env` around it.
    let run_with = |env: &[(&str, &OsStr)]| {
        let mut command = Command::new(child);
        command.args([&v.user_key, &v.pass_key]);
        run(command, None, env)
    };
    // The per-user data directory, under HOME or under an absolute
    // XDG_DATA_HOME.
    let home = harness::tempdir();
    let data = home.path().join(".local/share/otp-link");
    std::fs::create_dir_all(&data).unwrap();
    v.install(&data);
    let out = run_with(&[("HOME", home.path().as_os_str())]);
    assert_eq!(text(&out.stdout), expected, "HOME: {}", text(&out.stderr));

    let xdg = harness::tempdir();
    let data = xdg.path().join("otp-link");
    std::fs::create_dir_all(&data).unwrap();
    v.install(&data);
    let empty = harness::tempdir();
    let out = run_with(&[
        ("HOME", empty.path().as_os_str()),
        ("XDG_DATA_HOME", xdg.path().as_os_str()),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(text(&out.stdout), expected, "XDG_DATA_HOME: {stderr}");

    // An empty OTP_LINK_STORE counts as unset, as for the CLI.
    let out = run_with(&[
        (otp_core::STORE_ENV, OsStr::new("")),
        ("HOME", home.path().as_os_str()),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(
        text(&out.stdout),
        expected,
        "empty OTP_LINK_STORE: {stderr}"
    );

    // Nowhere to look: usage, 2, with what to do.
    let out = run_with(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        format!("child: {}\n", otp_core::Error::NoStoreLocation)
    );
}

#[test]
fn c_child_fails_on_a_missing_or_readable_store_as_the_cli_does() {
    let Some(child) = c_child() else { return };
    let v = utf8_vector();
    let keys = (v.user_key.as_str(), v.pass_key.as_str());
    let dir = harness::tempdir();
    let missing = dir.path().join("no-store.cbor");
    let mut command = Command::new(child);
    command.args([keys.0, keys.1]);
    let out = run(command, Some(&missing), &[]);
    assert_eq!(
        assert_child_matches_the_library("missing", &out, "child", &missing, keys),
        7
    );
    assert!(text(&out.stderr).contains(&missing.display().to_string()));

    #[cfg(unix)]
    {
        let store = v.install(dir.path());
        harness::set_mode(&store, 0o644);
        let mut command = Command::new(child);
        command.args([keys.0, keys.1]);
        let out = run(command, Some(&store), &[]);
        assert_eq!(
            assert_child_matches_the_library("mode 0644", &out, "child", &store, keys),
            9
        );
    }
}

/// The program `name` on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// valgrind, where it is installed.
fn valgrind() -> Option<PathBuf> {
    let found = on_path("valgrind");
    if found.is_none() {
        missing_tool(
            "running tests/abi_edges.c under valgrind (it ran without)",
            "not found",
            "install it with apt-get install valgrind (.ci/run does)",
        );
    }
    found
}

#[test]
fn abi_edges_hold_under_valgrind() {
    let Some(program) = compile_c("tests/abi_edges.c", "abi_edges") else {
        return;
    };
    let v = utf8_vector();
    let dir = harness::tempdir();
    let store = v.install(dir.path());
    let args = [
        store.to_str().expect("a UTF-8 temporary path"),
        &v.user_key,
        &v.pass_key,
        v.username.as_deref().unwrap(),
        v.password.as_deref().unwrap(),
        &v.name,
    ];
    let valgrind = valgrind();
    let mut command = match &valgrind {
        Some(valgrind) => {
            let mut command = Command::new(valgrind);
            command
                .args([
                    "--quiet",
                    "--error-exitcode=99",
                    "--leak-check=full",
                    "--errors-for-leak-kinds=definite",
                    "--track-origins=yes",
                ])
                .arg(&program);
            command
        }
        None => Command::new(&program),
    };
    command.args(args);
    let out = run(command, Some(&store), &[]);
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "abi_edges exited {:?}{}:\n{stderr}",
        out.status.code(),
        if valgrind.is_some() {
            " under valgrind (99: valgrind found errors)"
        } else {
            ""
        }
    );
    assert_eq!(text(&out.stdout), "abi_edges: every check held\n");
    assert_eq!(stderr, "", "valgrind or the checks reported:\n{stderr}");
}

/// javac, java and JNA's jar: `JNA_JAR` or Debian's libjna-java.
struct Java {
    javac: PathBuf,
    java: PathBuf,
    jna: PathBuf,
}

fn java() -> Option<Java> {
    let jna = std::env::var_os("JNA_JAR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/java/jna.jar"));
    match (on_path("javac"), on_path("java"), jna.is_file()) {
        (Some(javac), Some(java), true) => Some(Java { javac, java, jna }),
        _ => {
            missing_tool(
                "the Java child (javac, java and JNA's jar)",
                "not found",
                "install them with apt-get install default-jdk-headless libjna-java (.ci/run does)",
            );
            None
        }
    }
}

/// examples/Child.java, compiled once per test run: the class path to run it.
fn java_child(java: &Java) -> String {
    static CLASSES: OnceLock<PathBuf> = OnceLock::new();
    let classes = CLASSES.get_or_init(|| {
        let classes = build_dir().join("java");
        let out = Command::new(&java.javac)
            .args(["-Xlint:all,-serial", "-Werror", "-cp"])
            .arg(&java.jna)
            .arg("-d")
            .arg(&classes)
            .arg(Path::new(CRATE).join("examples/Child.java"))
            .output()
            .expect("running javac");
        assert!(
            out.status.success(),
            "javac examples/Child.java failed:\n{}",
            text(&out.stderr)
        );
        classes
    });
    std::env::join_paths([classes.as_path(), java.jna.as_path()])
        .expect("a class path")
        .into_string()
        .expect("a UTF-8 class path")
}

#[test]
fn java_child_recovers_through_jna_and_fails_with_the_clis_codes() {
    let Some(java) = java() else { return };
    let class_path = java_child(&java);
    let run_java = |store: &Path, keys: (&str, &str)| {
        let mut command = Command::new(&java.java);
        command
            .arg("-cp")
            .arg(&class_path)
            .arg(format!("-Djna.library.path={}", library_dir().display()))
            .args(["Child", keys.0, keys.1]);
        run(command, Some(store), &[])
    };
    let vectors = committed_vectors();
    // A success with multi-byte values, a failing tag and a malformed key:
    // one JVM start each, so not every vector.
    for name in ["ok-width-64-utf8", "fail-auth-wrong-pad", "fail-key-typo"] {
        let (_, v) = vectors
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("spec/vectors/{name}.json"));
        let dir = harness::tempdir();
        let store = v.install(dir.path());
        let keys = (v.user_key.as_str(), v.pass_key.as_str());
        let out = run_java(&store, keys);
        let code = assert_child_matches_the_library(name, &out, "Child", &store, keys);
        assert_eq!(code == 0, v.fails_at == Layer::None, "{name}");
    }
    let dir = harness::tempdir();
    let missing = dir.path().join("missing.cbor");
    let v = utf8_vector();
    let keys = (v.user_key.as_str(), v.pass_key.as_str());
    let out = run_java(&missing, keys);
    assert_eq!(
        assert_child_matches_the_library("missing", &out, "Child", &missing, keys),
        7
    );
}
