//! A throw-away PostgreSQL server for the end-to-end suites in which a
//! child logs in with credentials it recovers (tests/tests/postgres.rs for
//! the Rust child and `otp-link exec`, tests/tests/python.rs for the Python
//! one), and the otp-link steps they share. One home for the server's
//! setup, so that both check the same thing: the server's log shows the
//! role's logins, and exactly those of the runs that succeeded.
//!
//! [`Server::start`] runs `initdb` into a temporary directory under `/tmp`
//! with `scram-sha-256` for every connection, and starts the server on a
//! free loopback port with `log_connections = on`. PostgreSQL refuses to
//! run as root: as root, the server runs as the unprivileged `postgres`
//! user (created by Debian's `postgresql` package; a system user
//! `otp-link-pg` is created when there is none) through `runuser -u USER
//! --`. [`Server::create_login`] is the database administrator's part: a
//! login role with a random password and a table it may read.
//!
//! [`pg_bins_or_skip`] finds PostgreSQL's server programs (`initdb`,
//! `pg_ctl` on PATH or under `/usr/lib/postgresql/*/bin`); without them a
//! suite fails when `CI` is set, and otherwise says loudly that it did not
//! run.

use std::env;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::Duration;

use crate::harness::{self, id_of, missing_tool, run_with};
pub use crate::harness::{check, text};

/// The database role whose credentials otp-link secures.
pub const ROLE: &str = "otp_app";
/// The database the role reads.
pub const DATABASE: &str = "otp_e2e";
/// The known row.
pub const NOTE: &str = "otp-link reached PostgreSQL";
/// The query the children run.
pub const QUERY: &str = "SELECT note FROM otp_probe WHERE id = 1";
/// How long one child process may take before the test gives up on it.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------- processes

/// Runs a command with empty stdin; panics when it hangs ([`CHILD_TIMEOUT`]).
pub fn run(command: &mut Command) -> Output {
    run_with(command, "", CHILD_TIMEOUT)
}

/// `bytes` random bytes, as hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("reading /dev/urandom");
    hex::encode(buf)
}

// ---------------------------------------------------------------- PostgreSQL

/// PostgreSQL's programs, all from one installation.
pub struct PgBins {
    /// `initdb`.
    pub initdb: PathBuf,
    /// `pg_ctl`.
    pub pg_ctl: PathBuf,
    /// `psql`.
    pub psql: PathBuf,
}

fn executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `initdb` and `pg_ctl` from the first directory that has both: PATH, then
/// `/usr/lib/postgresql/*/bin`, newest version first. `psql` from the
/// installation's own bin directory when it is there, else from PATH.
pub fn find_pg_bins() -> Option<PgBins> {
    let mut dirs: Vec<PathBuf> = env::var_os("PATH")
        .map(|path| env::split_paths(&path).collect())
        .unwrap_or_default();
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    dirs.extend(versions.into_iter().map(|(_, dir)| dir));

    let dir = dirs
        .iter()
        .find(|dir| executable(&dir.join("initdb")) && executable(&dir.join("pg_ctl")))?;
    let initdb = dir.join("initdb");
    let pg_ctl = dir.join("pg_ctl");
    // /usr/local/bin/initdb may be a link into the installation.
    let install = fs::canonicalize(&initdb)
        .ok()
        .and_then(|p| p.parent().map(Path::to_owned));
    let psql = install
        .into_iter()
        .chain([dir.clone()])
        .chain(dirs.iter().cloned())
        .map(|dir| dir.join("psql"))
        .find(|p| executable(p))?;
    Some(PgBins {
        initdb,
        pg_ctl,
        psql,
    })
}

/// PostgreSQL's programs, or `None` after saying loudly that `suite` did
/// not run for want of them; under `CI=true` it fails instead.
pub fn pg_bins_or_skip(suite: &str) -> Option<PgBins> {
    let bins = find_pg_bins();
    if bins.is_none() {
        missing_tool(
            suite,
            "PostgreSQL's server programs (initdb, pg_ctl) were found neither on PATH \
             nor under /usr/lib/postgresql/*/bin",
            "install PostgreSQL (e.g. apt-get install postgresql); .ci/run installs the postgresql package",
        );
    }
    bins
}

/// Who runs the server: `None` is "this process's user"; as root, an
/// unprivileged system user, with its uid and gid.
pub struct ServerUser {
    /// The user's name.
    pub name: String,
    uid: u32,
    gid: u32,
}

fn server_user() -> Option<ServerUser> {
    if id_of(&["-u"]).expect("id -u") != 0 {
        return None;
    }
    let user = match id_of(&["-u", "postgres"]) {
        Some(_) => harness::system_user("postgres", &[]),
        None => harness::system_user("otp-link-pg", &[]),
    };
    Some(ServerUser {
        name: user.name,
        uid: user.uid,
        gid: user.gid,
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding a free loopback port")
        .port()
}

/// A throw-away PostgreSQL server. Dropping it stops the server
/// (`pg_ctl stop -m immediate`) and then removes its directory, also when the
/// test panics.
pub struct Server {
    /// The programs it runs with.
    pub bins: PgBins,
    /// Who runs it: `None` is this process's user.
    pub user: Option<ServerUser>,
    admin_password: String,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    /// Its directory: data, log, socket. Dropped after `Drop::drop` has
    /// stopped the server.
    pub dir: tempfile::TempDir,
}

impl Server {
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// A command for PostgreSQL's programs, as the server user when root.
    fn command(&self, program: &Path) -> Command {
        let mut command = match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", &user.name, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        };
        // A working directory the server user can enter.
        command.current_dir(self.dir.path());
        command
    }

    fn give_to_server_user(&self, path: &Path) {
        if let Some(user) = &self.user {
            std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
                .unwrap_or_else(|e| panic!("chown {} to {}: {e}", path.display(), user.name));
        }
    }

    /// initdb, configure, start on a free loopback port.
    pub fn start(bins: PgBins) -> Server {
        // Under /tmp (mode 1777), so the server user can reach it whatever
        // TMPDIR is; the directory itself is the server user's, mode 0700.
        let tmp = Path::new("/tmp");
        let mode = fs::metadata(tmp).expect("/tmp").permissions().mode();
        assert!(mode & 0o001 != 0, "/tmp is not traversable by others");
        let dir = tempfile::Builder::new()
            .prefix("otp-link-pg-")
            .tempdir_in(tmp)
            .expect("creating the server's temporary directory");
        let mut server = Server {
            bins,
            user: server_user(),
            admin_password: random_hex(16),
            port: 0,
            dir,
        };
        server.give_to_server_user(server.dir.path());

        let pwfile = server.dir.path().join("pwfile");
        fs::write(&pwfile, format!("{}\n", server.admin_password)).expect("writing pwfile");
        fs::set_permissions(&pwfile, fs::Permissions::from_mode(0o600)).expect("chmod pwfile");
        server.give_to_server_user(&pwfile);
        let mut initdb = server.command(&server.bins.initdb);
        initdb
            .arg("-D")
            .arg(server.data())
            .args(["-U", "postgres", "--auth=scram-sha-256", "--locale=C"])
            .args(["-E", "UTF8", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display()));
        check("initdb", run(&mut initdb));
        let _ = fs::remove_file(&pwfile);

        // Every connection authenticates with scram-sha-256: the admin over
        // the socket in our directory, everyone else over TCP on 127.0.0.1.
        fs::write(
            server.data().join("pg_hba.conf"),
            "# otp-link postgres test\n\
             local all postgres scram-sha-256\n\
             host all all 127.0.0.1/32 scram-sha-256\n",
        )
        .expect("writing pg_hba.conf");
        let mut conf = fs::OpenOptions::new()
            .append(true)
            .open(server.data().join("postgresql.conf"))
            .expect("opening postgresql.conf");
        write!(
            conf,
            "\n# otp-link postgres test\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n\
             password_encryption = 'scram-sha-256'\n\
             log_connections = on\n\
             lc_messages = 'C'\n\
             max_connections = 20\n\
             shared_buffers = '16MB'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n",
            server.dir.path().display()
        )
        .expect("writing postgresql.conf");
        drop(conf);

        // A free port can be taken between our probe and the server's bind:
        // try a few.
        for attempt in 1..=3 {
            server.port = free_port();
            let mut start = server.command(&server.bins.pg_ctl);
            start
                .arg("-D")
                .arg(server.data())
                .arg("-l")
                .arg(server.log_path())
                .args(["-w", "-t", "60", "-o"])
                .arg(format!("-p {}", server.port))
                .arg("start");
            let output = run(&mut start);
            if output.status.success() {
                return server;
            }
            let log = server.log();
            if attempt < 3 && log.contains("could not bind") {
                continue;
            }
            check("pg_ctl start", output);
        }
        unreachable!("pg_ctl start neither succeeded nor failed")
    }

    /// Runs SQL from stdin as the superuser over the Unix socket; returns
    /// the output of `psql -tA`.
    pub fn admin_sql(&self, database: &str, sql: &str) -> String {
        let mut psql = self.command(&self.bins.psql);
        psql.args(["-X", "-q", "-w", "-tA", "-v", "ON_ERROR_STOP=1"])
            .arg("-h")
            .arg(self.dir.path())
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-U", "postgres", "-d", database, "-f", "-"])
            .env("PGPASSWORD", &self.admin_password);
        text(&check("psql as admin", run_with(&mut psql, sql, CHILD_TIMEOUT)).stdout)
    }

    pub fn log(&self) -> String {
        fs::read(self.log_path())
            .map(|b| text(&b))
            .unwrap_or_default()
    }

    /// How many lines of the server log contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
    }
}

/// A login role of the server, with its password: what the database
/// administrator hands to the otp-link administrator.
pub struct Login {
    /// The role, [`ROLE`].
    pub role: &'static str,
    /// Its password, random.
    pub password: String,
}

impl Server {
    /// The database administrator's part: the login role [`ROLE`] with a
    /// random password (stored as SCRAM, which the test checks), and the
    /// database [`DATABASE`] with a table whose one row ([`NOTE`]) the role
    /// may read.
    pub fn create_login(&self) -> Login {
        let password = format!("pw-{}", random_hex(16));
        self.admin_sql(
            "postgres",
            &format!(
                "CREATE ROLE {ROLE} LOGIN PASSWORD '{password}';\n\
                 CREATE DATABASE {DATABASE};\n"
            ),
        );
        self.admin_sql(
            DATABASE,
            &format!(
                "CREATE TABLE otp_probe (id integer PRIMARY KEY, note text NOT NULL);\n\
                 INSERT INTO otp_probe VALUES (1, '{NOTE}');\n\
                 GRANT SELECT ON otp_probe TO {ROLE};\n"
            ),
        );
        let stored = self.admin_sql(
            "postgres",
            &format!(
                "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = '{ROLE}';\n"
            ),
        );
        assert_eq!(
            stored.trim(),
            "t",
            "the role's password is not stored as SCRAM"
        );
        Login {
            role: ROLE,
            password,
        }
    }

    /// Asserts that the server's log shows exactly `successes` logins of
    /// [`ROLE`] and as many TCP connections: a run that failed reached no
    /// server.
    pub fn assert_logins(&self, successes: usize, after: &str) {
        assert_eq!(
            self.log_count(&format!("connection authorized: user={ROLE} ")),
            successes,
            "after {after}: the server log should show exactly {successes} logins of {ROLE}"
        );
        assert_eq!(
            self.log_count("connection received: host=127.0.0.1"),
            successes,
            "after {after}: the server log should show exactly {successes} TCP connections"
        );
    }

    /// Asserts that no login failed at the server, and that its log does
    /// not hold `password`.
    pub fn assert_no_failed_login(&self, password: &str) {
        assert_eq!(
            self.log_count("password authentication failed"),
            0,
            "a failed login reached the server"
        );
        assert!(
            !self.log().contains(password),
            "the server log holds the password"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!(
                "--- last lines of the PostgreSQL server log\n{}",
                tail.join("\n")
            );
        }
        if self.data().join("postmaster.pid").exists() {
            let mut stop = self.command(&self.bins.pg_ctl);
            stop.arg("-D")
                .arg(self.data())
                .args(["-m", "immediate", "-w", "-t", "30", "stop"]);
            match stop.output() {
                Ok(o) if o.status.success() => {}
                Ok(o) => eprintln!("pg_ctl stop failed: {}", text(&o.stderr)),
                Err(e) => eprintln!("pg_ctl stop could not run: {e}"),
            }
        }
        // `dir` is removed when the fields drop, after this.
    }
}

// ---------------------------------------------------------------- otp-link

/// `otp-link --store STORE`, with an environment that names no other store.
pub fn otp_link(store: &Path) -> Command {
    let mut command = Command::new(crate::otp_link_bin());
    command
        .arg("--store")
        .arg(store)
        .env_remove("OTP_LINK_STORE");
    command
}

/// The two lines of keys a command printed.
pub fn keys_of(what: &str, output: Output) -> (String, String) {
    let stdout = text(&check(what, output).stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "{what} printed {} lines, not two keys",
        lines.len()
    );
    (lines[0].to_owned(), lines[1].to_owned())
}

/// `otp-link secure-account NAME`, the username and password on stdin.
pub fn secure(store: &Path, account: &str, username: &str, password: &str) -> (String, String) {
    let mut command = otp_link(store);
    command.args(["secure-account", account]);
    let output = run_with(
        &mut command,
        &format!("{username}\n{password}\n"),
        CHILD_TIMEOUT,
    );
    keys_of("otp-link secure-account", output)
}

/// A run that must fail with `code` and `prefix: ...` on stderr, printing
/// nothing on stdout.
pub fn expect_failure(what: &str, output: &Output, code: i32, prefix: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}: expected exit code {code}, got {}; stderr: {stderr}",
        output.status
    );
    assert!(
        stderr.starts_with(prefix),
        "{what}: stderr does not start with {prefix:?}: {stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "{what}: printed on stdout: {}",
        text(&output.stdout)
    );
}
