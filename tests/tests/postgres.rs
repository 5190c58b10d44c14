//! End to end with a real database: an administrator secures a PostgreSQL
//! role's credentials with `otp-link secure-account`; a host starts a child
//! with only the two keys; the child recovers the credentials and logs in.
//!
//! The test starts a throw-away PostgreSQL server of its own (initdb into a
//! temporary directory, scram-sha-256 for every connection, a free loopback
//! port, connections logged to a file) and checks, through the server's log,
//! that every run with a wrong, swapped or rotated-away key failed before any
//! connection: the authorized logins of the role are exactly the successful
//! runs.
//!
//! PostgreSQL refuses to run as root. As root (CI), the server runs as the
//! unprivileged `postgres` user (created by Debian's `postgresql` package; a
//! system user `otp-link-pg` is created when there is none) through
//! `runuser -u USER --`.
//!
//! Without PostgreSQL's server binaries (`initdb`, `pg_ctl` on PATH or under
//! `/usr/lib/postgresql/*/bin`) the test fails when `CI` is set, and otherwise
//! says loudly on stderr that it did not run.

#![cfg(unix)]

use std::env;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use otp_link_tests::harness::run_with;

/// The database role whose credentials otp-link secures.
const ROLE: &str = "otp_app";
/// The database the role reads.
const DATABASE: &str = "otp_e2e";
/// The known row.
const NOTE: &str = "otp-link reached PostgreSQL";
/// The query both children run.
const QUERY: &str = "SELECT note FROM otp_probe WHERE id = 1";
/// How long one child process may take before the test gives up on it.
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------- processes

fn run(command: &mut Command) -> Output {
    run_with(command, "", CHILD_TIMEOUT)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Panics with the command's output unless it succeeded.
fn check(what: &str, output: Output) -> Output {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("reading /dev/urandom");
    hex::encode(buf)
}

// ---------------------------------------------------------------- binaries

fn pg_child_binary() -> PathBuf {
    otp_link_tests::example_bin("otp-link-tests", "pg_child")
}

// ---------------------------------------------------------------- PostgreSQL

/// PostgreSQL's programs, all from one installation.
struct PgBins {
    initdb: PathBuf,
    pg_ctl: PathBuf,
    psql: PathBuf,
}

fn executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `initdb` and `pg_ctl` from the first directory that has both: PATH, then
/// `/usr/lib/postgresql/*/bin`, newest version first. `psql` from the
/// installation's own bin directory when it is there, else from PATH.
fn find_pg_bins() -> Option<PgBins> {
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

/// Whether CI=... asks for the test to be mandatory.
fn in_ci() -> bool {
    env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn id_of(args: &[&str]) -> Option<u32> {
    let output = Command::new("id").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    text(&output.stdout).trim().parse().ok()
}

/// Who runs the server: `None` is "this process's user"; as root, an
/// unprivileged system user, with its uid and gid.
struct ServerUser {
    name: String,
    uid: u32,
    gid: u32,
}

fn server_user() -> Option<ServerUser> {
    if id_of(&["-u"]).expect("id -u") != 0 {
        return None;
    }
    if id_of(&["-u", "postgres"]).is_some() {
        return Some(ServerUser {
            name: "postgres".to_owned(),
            uid: id_of(&["-u", "postgres"]).expect("uid of postgres"),
            gid: id_of(&["-g", "postgres"]).expect("gid of postgres"),
        });
    }
    let user = otp_link_tests::harness::system_user("otp-link-pg", &[]);
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
struct Server {
    bins: PgBins,
    user: Option<ServerUser>,
    admin_password: String,
    port: u16,
    // Dropped after `Drop::drop` has stopped the server.
    dir: tempfile::TempDir,
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
    fn start(bins: PgBins) -> Server {
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
    fn admin_sql(&self, database: &str, sql: &str) -> String {
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

    fn log(&self) -> String {
        fs::read(self.log_path())
            .map(|b| text(&b))
            .unwrap_or_default()
    }

    /// How many lines of the server log contain `needle`.
    fn log_count(&self, needle: &str) -> usize {
        self.log().lines().filter(|l| l.contains(needle)).count()
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
fn otp_link(store: &Path) -> Command {
    let mut command = Command::new(otp_link_tests::otp_link_bin());
    command
        .arg("--store")
        .arg(store)
        .env_remove("OTP_LINK_STORE");
    command
}

/// The two lines of keys a command printed.
fn keys_of(what: &str, output: Output) -> (String, String) {
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
fn secure(store: &Path, account: &str, username: &str, password: &str) -> (String, String) {
    let mut command = otp_link(store);
    command.args(["secure-account", account]);
    let output = run_with(
        &mut command,
        &format!("{username}\n{password}\n"),
        CHILD_TIMEOUT,
    );
    keys_of("otp-link secure-account", output)
}

// ---------------------------------------------------------------- the test

/// The host: starts the child with only the keys on its command line; the
/// environment says where the store and the server are, never who to be.
fn run_pg_child(server: &Server, store: &Path, user_key: &str, pass_key: &str) -> Output {
    let mut child = Command::new(pg_child_binary());
    child
        .arg(user_key)
        .arg(pass_key)
        .env_clear()
        .env("OTP_LINK_STORE", store)
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", server.port.to_string())
        .env("PGDATABASE", DATABASE)
        .env("PG_CHILD_QUERY", QUERY);
    run(&mut child)
}

/// `otp-link exec --user-var PGUSER --pass-var PGPASSWORD KEYS -- psql ...`.
fn run_exec_psql(server: &Server, store: &Path, user_key: &str, pass_key: &str) -> Output {
    let mut exec = otp_link(store);
    exec.args(["exec", "--user-var", "PGUSER", "--pass-var", "PGPASSWORD"])
        .arg(user_key)
        .arg(pass_key)
        .arg("--")
        .arg(&server.bins.psql)
        .args(["-X", "-w", "-h", "127.0.0.1", "-p"])
        .arg(server.port.to_string())
        .args(["-d", DATABASE, "-tAc"])
        .arg("SELECT current_user || ' ' || note FROM otp_probe WHERE id = 1")
        .env_clear()
        .env("PATH", env::var_os("PATH").unwrap_or_default())
        .env("PGPASSFILE", server.dir.path().join("no-pgpass"));
    run(&mut exec)
}

/// A run that must fail with `code` and `prefix: ...` on stderr, printing
/// nothing on stdout.
fn expect_failure(what: &str, output: &Output, code: i32, prefix: &str) {
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

#[test]
fn host_starts_a_child_that_logs_in_to_postgresql() {
    let started = Instant::now();
    let Some(bins) = find_pg_bins() else {
        let message = "PostgreSQL's server programs (initdb, pg_ctl) were found neither on PATH \
                       nor under /usr/lib/postgresql/*/bin";
        if in_ci() {
            panic!("{message}; CI must install them (.ci/run installs the postgresql package)");
        }
        eprintln!("\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        eprintln!("!! tests/tests/postgres.rs DID NOT RUN: {message}.");
        eprintln!("!! Install PostgreSQL (e.g. apt-get install postgresql) to run it;");
        eprintln!("!! with CI set, it fails instead.");
        eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
        return;
    };
    // Build (or find) our binaries before the server runs.
    let otp_link_bin = otp_link_tests::otp_link_bin();
    let pg_child_bin = pg_child_binary();
    eprintln!(
        "postgres test: {} and {}, with {}",
        otp_link_bin.display(),
        pg_child_bin.display(),
        bins.initdb.display()
    );

    let server = Server::start(bins);
    eprintln!(
        "postgres test: server up on 127.0.0.1:{} as {} after {:?}",
        server.port,
        server
            .user
            .as_ref()
            .map_or("this user", |u| u.name.as_str()),
        started.elapsed()
    );

    // The administrator: a login role with a random password, and a table
    // with a known row it may read.
    let password = format!("pw-{}", random_hex(16));
    server.admin_sql(
        "postgres",
        &format!(
            "CREATE ROLE {ROLE} LOGIN PASSWORD '{password}';\n\
             CREATE DATABASE {DATABASE};\n"
        ),
    );
    server.admin_sql(
        DATABASE,
        &format!(
            "CREATE TABLE otp_probe (id integer PRIMARY KEY, note text NOT NULL);\n\
             INSERT INTO otp_probe VALUES (1, '{NOTE}');\n\
             GRANT SELECT ON otp_probe TO {ROLE};\n"
        ),
    );
    let stored = server.admin_sql(
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

    // ... secures the role's credentials with otp-link and hands out the keys.
    let stores = tempfile::tempdir().expect("store directory");
    let store = stores.path().join("store.cbor");
    let (user_key, pass_key) = secure(&store, "db-app", ROLE, &password);
    let (other_user_key, other_pass_key) = secure(&store, "db-other", "someone", "else");
    let elsewhere = stores.path().join("elsewhere.cbor");
    let (far_user_key, far_pass_key) = secure(&elsewhere, "db-app", ROLE, &password);

    let authorized = format!("connection authorized: user={ROLE} ");
    let mut successes = 0;
    let check_log = |successes: usize, after: &str| {
        assert_eq!(
            server.log_count(&authorized),
            successes,
            "after {after}: the server log should show exactly {successes} logins of {ROLE}"
        );
        assert_eq!(
            server.log_count("connection received: host=127.0.0.1"),
            successes,
            "after {after}: the server log should show exactly {successes} TCP connections"
        );
    };
    let no_secrets = |what: &str, output: &Output| {
        for stream in [&output.stdout, &output.stderr] {
            assert!(
                !text(stream).contains(&password),
                "{what} printed the password"
            );
        }
    };

    // The host starts the child with the two keys; it logs in and reads.
    let output = run_pg_child(&server, &store, &user_key, &pass_key);
    no_secrets("pg_child", &output);
    let output = check("pg_child with the right keys", output);
    assert_eq!(text(&output.stdout), format!("{NOTE}\n"));
    assert!(
        !text(&output.stdout).contains(ROLE),
        "pg_child printed the username"
    );
    successes += 1;
    check_log(successes, "pg_child with the right keys");

    // The same through otp-link exec and psql, PGUSER and PGPASSWORD.
    let output = run_exec_psql(&server, &store, &user_key, &pass_key);
    no_secrets("otp-link exec psql", &output);
    let output = check("otp-link exec -- psql", output);
    assert_eq!(text(&output.stdout), format!("{ROLE} {NOTE}\n"));
    successes += 1;
    check_log(successes, "otp-link exec -- psql");

    // Wrong keys fail before any connection, with otp-link's exit codes.
    let failures: [(&str, &str, &str, i32); 4] = [
        (
            "a password key of another account",
            &user_key,
            &other_pass_key,
            3,
        ),
        ("swapped keys", &pass_key, &user_key, 3),
        ("a malformed key", &user_key, "not-a-key", 3),
        (
            "the keys of an account in another store",
            &far_user_key,
            &far_pass_key,
            5,
        ),
    ];
    for (what, first, second, code) in failures {
        let output = run_pg_child(&server, &store, first, second);
        no_secrets(what, &output);
        expect_failure(what, &output, code, "pg_child: ");
        check_log(successes, what);
    }
    // The other account's own keys do open it: they were valid keys.
    let output = check(
        "otp-link verify",
        run(otp_link(&store).args(["verify", &other_user_key, &other_pass_key])),
    );
    assert_eq!(text(&output.stdout).trim(), "db-other");

    // Rotation: the old keys stop working, the new ones log in.
    let (new_user_key, new_pass_key) = keys_of(
        "otp-link rotate",
        run(otp_link(&store).args(["rotate", &user_key, &pass_key])),
    );
    let output = run_pg_child(&server, &store, &user_key, &pass_key);
    no_secrets("rotated-away keys", &output);
    expect_failure("pg_child with rotated-away keys", &output, 4, "pg_child: ");
    check_log(successes, "pg_child with rotated-away keys");
    let output = run_exec_psql(&server, &store, &user_key, &pass_key);
    no_secrets("exec with rotated-away keys", &output);
    expect_failure(
        "otp-link exec with rotated-away keys",
        &output,
        4,
        "otp-link: ",
    );
    check_log(successes, "otp-link exec with rotated-away keys");

    let output = check(
        "pg_child with the rotated keys",
        run_pg_child(&server, &store, &new_user_key, &new_pass_key),
    );
    assert_eq!(text(&output.stdout), format!("{NOTE}\n"));
    successes += 1;
    check_log(successes, "pg_child with the rotated keys");

    assert_eq!(
        server.log_count("password authentication failed"),
        0,
        "a failed login reached the server"
    );
    assert!(
        !server.log().contains(&password),
        "the server log holds the password"
    );
    drop(server);
    eprintln!(
        "postgres test: {successes} logins, 6 refused runs, {:?} in all",
        started.elapsed()
    );
}
