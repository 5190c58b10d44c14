//! The Python that the Python suites run (tests/tests/python.rs): a virtual
//! environment with the pinned test tools from PyPI
//! (otp-py/tests/requirements.txt) and the `otp-link` distribution
//! installed from this checkout the way README says, `pip install
//! ./otp-py`.
//!
//! Everything is cached under the target directory (`otp-py/`), so reruns
//! are fast: the environment is made again only when the requirements or
//! the base interpreter change, and the extension is rebuilt (by maturin,
//! in `otp-py/cargo`, a target directory of its own so that it never
//! invalidates the workspace's builds) only when a file it is built from
//! changes. A lock file keeps two test processes from building at once.
//!
//! The base interpreter is `OTP_LINK_TEST_PYTHON`, else `python3` on PATH;
//! it must be Python 3.9 or later with `venv` and `ensurepip`. Without one,
//! [`venv_or_skip`] says loudly that the suite did not run, and under
//! `CI=true` fails.

use std::collections::hash_map::DefaultHasher;
use std::ffi::OsString;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use crate::harness::{check, missing_tool, run_with, text};

/// How long making the environment or building the wheel may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(900);

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// A virtual environment with the test tools and `otp_link` installed.
pub struct Venv {
    dir: PathBuf,
}

impl Venv {
    /// The environment's interpreter.
    pub fn python(&self) -> PathBuf {
        if cfg!(windows) {
            self.dir.join("Scripts").join("python.exe")
        } else {
            self.dir.join("bin").join("python")
        }
    }

    /// The environment's interpreter with an environment that neither
    /// writes bytecode into the checkout nor names a store, a `PYTHONPATH`
    /// or a `PYTHONHOME`.
    pub fn command(&self) -> Command {
        let mut command = Command::new(self.python());
        command
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME")
            .env_remove("PYTHONSTARTUP")
            .env_remove("OTP_LINK_STORE");
        command
    }
}

/// Runs a set-up step, panicking with its output when it fails.
fn step(what: &str, command: &mut Command) -> Output {
    check(what, run_with(command, "", SETUP_TIMEOUT))
}

/// The base interpreter and what it says of itself (`sys.executable` and
/// version), or why it cannot make the environment.
fn base_python() -> Result<(OsString, String), String> {
    let python = std::env::var_os("OTP_LINK_TEST_PYTHON")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into());
    let shown = Path::new(&python).display().to_string();
    let probe = Command::new(&python)
        .args([
            "-c",
            "import sys, venv, ensurepip; print(sys.executable, sys.version.split()[0]); \
             sys.exit(0 if sys.version_info >= (3, 9) else 3)",
        ])
        .output()
        .map_err(|e| format!("no Python 3 to run ({shown}: {e})"))?;
    match probe.status.code() {
        Some(0) => Ok((python, text(&probe.stdout).trim().to_owned())),
        Some(3) => Err(format!(
            "{shown} is Python {}, and otp_link needs 3.9 or later",
            text(&probe.stdout).trim()
        )),
        _ => Err(format!(
            "{shown} cannot make virtual environments (no venv or ensurepip): {}",
            text(&probe.stderr).trim()
        )),
    }
}

/// The files the wheel is built from: the crate and package (not their
/// tests), otp-core's sources, the workspace manifest and lockfile.
fn wheel_inputs(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, skip: &[&str], out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if skip.iter().any(|s| name == *s) {
                continue;
            }
            if path.is_dir() {
                walk(&path, skip, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut files = vec![
        root.join("Cargo.toml"),
        root.join("Cargo.lock"),
        root.join("otp-core/Cargo.toml"),
    ];
    walk(
        &root.join("otp-py"),
        &["tests", "examples", "__pycache__", "target"],
        &mut files,
    );
    walk(&root.join("otp-core/src"), &[], &mut files);
    files.sort();
    files
}

/// A fingerprint of the wheel's inputs: paths and contents. (A new Rust
/// toolchain may hash differently; that costs one rebuild.)
fn fingerprint(root: &Path) -> String {
    let mut hasher = DefaultHasher::new();
    for path in wheel_inputs(root) {
        path.strip_prefix(root).unwrap_or(&path).hash(&mut hasher);
        fs::read(&path).unwrap_or_default().hash(&mut hasher);
    }
    format!("{:016x}", hasher.finish())
}

/// Makes (or reuses) the environment under `cache` and installs `otp_link`.
fn prepare(cache: &Path, python: &OsString, identity: &str) -> Venv {
    let root = repo();
    let venv = Venv {
        dir: cache.join("venv"),
    };
    let requirements = root.join("otp-py/tests/requirements.txt");
    let wanted = format!(
        "{identity}\n{}",
        fs::read_to_string(&requirements).expect("otp-py/tests/requirements.txt")
    );
    let stamp = venv.dir.join("otp-link-requirements");
    if fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str())
        || !venv.python().exists()
    {
        eprintln!(
            "python tests: making {} with {identity}",
            venv.dir.display()
        );
        step(
            "python3 -m venv",
            Command::new(python)
                .args(["-m", "venv", "--clear"])
                .arg(&venv.dir),
        );
        step(
            "pip install -r otp-py/tests/requirements.txt",
            venv.command()
                .args(["-m", "pip", "install", "--disable-pip-version-check", "-q"])
                .arg("-r")
                .arg(&requirements),
        );
        fs::write(&stamp, &wanted).expect("writing the environment's stamp");
    }

    // The stamp lives in the environment, so a new environment gets the
    // wheel installed afresh.
    let built = fingerprint(&root);
    let wheel_stamp = venv.dir.join("otp-link-wheel");
    if fs::read_to_string(&wheel_stamp).ok().as_deref() != Some(built.as_str()) {
        eprintln!("python tests: pip install ./otp-py (sources {built})");
        // README's command, with the environment's own maturin (the pinned
        // one) instead of one pip would fetch into an isolated build.
        step(
            "pip install ./otp-py",
            venv.command()
                .args(["-m", "pip", "install", "--disable-pip-version-check", "-q"])
                .args(["--no-build-isolation", "--force-reinstall", "--no-deps"])
                .arg("./otp-py")
                .current_dir(&root)
                .env("CARGO_TARGET_DIR", cache.join("cargo"))
                .env("PATH", path_with(&venv)),
        );
        fs::write(&wheel_stamp, &built).expect("writing the wheel's stamp");
    }
    venv
}

/// PATH with the environment's scripts (maturin) first.
fn path_with(venv: &Venv) -> OsString {
    let scripts = venv.python().parent().expect("bin").to_owned();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(scripts).chain(std::env::split_paths(&rest)))
        .expect("PATH")
}

/// The environment, made or brought up to date on first use; `None`, after
/// [`missing_tool`] said so, when there is no Python 3.9+ with venv.
/// Panics when a set-up step fails (pip, the build): that is a failure, not
/// a missing tool.
pub fn venv_or_skip(suite: &str) -> Option<&'static Venv> {
    static VENV: OnceLock<Result<Venv, String>> = OnceLock::new();
    let venv = VENV.get_or_init(|| {
        let (python, identity) = base_python()?;
        let cache = crate::target_dir().join("otp-py");
        fs::create_dir_all(&cache).expect("creating the Python cache directory");
        let lock = fs::File::create(cache.join("lock")).expect("creating the lock file");
        lock.lock().expect("locking the Python cache");
        Ok(prepare(&cache, &python, &identity))
    });
    match venv {
        Ok(venv) => Some(venv),
        Err(why) => {
            missing_tool(
                suite,
                why,
                "install Python 3.9 or later with venv (apt-get install python3 python3-venv); .ci/run does",
            );
            None
        }
    }
}
