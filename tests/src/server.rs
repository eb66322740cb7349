//! A real `wuts serve` on a free port, with its own config, database and logs, stopped on drop.

use std::fmt::Write as _;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use std::{env, fs};

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::http::{Auth, Body, Client, Reply};
use crate::locate;
use crate::process::{self, Captured, Finished};

/// How long `wuts serve` may take to print its listening line.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a signalled server may take to exit.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a CLI command (`wuts users create`, `wuts plugins`) may take.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(30);
/// The line prefix `wuts serve` prints on stdout once it listens.
pub const LISTENING_PREFIX: &str = "wuts listening on ";

/// Where the server looks for plugin libraries (`[plugins] dir`).
#[derive(Debug, Clone)]
pub enum PluginDir {
    /// The folder with the built `wuts` and libraries, named explicitly.
    Artefacts,
    /// `dir = ""`: the host's default, the folder of the running executable.
    Unset,
    /// A new, otherwise empty folder in the server's temp dir holding just these files.
    Fresh(Vec<PluginFile>),
}

/// A file to put in a fresh plugin folder.
#[derive(Debug, Clone)]
pub enum PluginFile {
    /// A copy of the built artefact `artefact` (e.g. `libwuts_plugin_buttons.so`), named `name`.
    Copy { artefact: String, name: String },
    /// A file named `name` holding `bytes`.
    Bytes { name: String, bytes: Vec<u8> },
}

impl PluginFile {
    /// A copy of the built artefact under its own name.
    pub fn copy(artefact: &str) -> Self {
        Self::Copy {
            artefact: artefact.to_owned(),
            name: artefact.to_owned(),
        }
    }

    /// A copy of the built artefact under another name.
    pub fn copy_as(artefact: &str, name: &str) -> Self {
        Self::Copy {
            artefact: artefact.to_owned(),
            name: name.to_owned(),
        }
    }

    /// A file with these contents.
    pub fn bytes(name: &str, bytes: impl Into<Vec<u8>>) -> Self {
        Self::Bytes {
            name: name.to_owned(),
            bytes: bytes.into(),
        }
    }
}

/// How to configure and start a server. `ServerOptions::default()` loads (and requires) only the
/// buttons plugin, from the built artefacts, with the sandbox driver.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub plugin_dir: PluginDir,
    /// `[plugins] load`.
    pub plugins: Vec<String>,
    /// `[plugins] required`.
    pub required: Vec<String>,
    /// `[routes]`: route path -> enabled.
    pub routes: Vec<(String, bool)>,
    /// `[session] send_timeout_ms`, if set.
    pub send_timeout_ms: Option<u64>,
    /// Appended to the config file as is; must not repeat a table written above
    /// (`[server]`, `[store]`, `[session]`, `[plugins]`, `[routes]`).
    pub extra_toml: String,
    /// Extra environment variables for every `wuts` process (`WUTS__...` overrides among them).
    pub env: Vec<(String, String)>,
    /// Pass `--config FILE` before the subcommand (`wuts --config FILE serve`).
    pub config_before_subcommand: bool,
    /// The folder with `wuts` and the plugin libraries for this server; `None` is
    /// [`locate::artefact_dir`] (a benchmark runs two builds side by side with it).
    pub bin_dir: Option<PathBuf>,
    /// Run `wuts-offline` instead of `wuts`: see [`ServerOptions::offline_client`].
    pub offline_client: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            plugin_dir: PluginDir::Artefacts,
            plugins: vec!["buttons".to_owned()],
            required: vec!["buttons".to_owned()],
            routes: Vec::new(),
            send_timeout_ms: None,
            extra_toml: String::new(),
            env: Vec::new(),
            config_before_subcommand: false,
            bin_dir: None,
            offline_client: false,
        }
    }
}

impl ServerOptions {
    pub fn plugin_dir(mut self, dir: PluginDir) -> Self {
        self.plugin_dir = dir;
        self
    }

    pub fn plugins(mut self, names: &[&str]) -> Self {
        self.plugins = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    pub fn required(mut self, names: &[&str]) -> Self {
        self.required = names.iter().map(|n| (*n).to_owned()).collect();
        self
    }

    pub fn route(mut self, path: &str, enabled: bool) -> Self {
        self.routes.push((path.to_owned(), enabled));
        self
    }

    pub fn send_timeout_ms(mut self, ms: u64) -> Self {
        self.send_timeout_ms = Some(ms);
        self
    }

    pub fn extra_toml(mut self, toml: &str) -> Self {
        self.extra_toml.push_str(toml);
        self.extra_toml.push('\n');
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn config_before_subcommand(mut self) -> Self {
        self.config_before_subcommand = true;
        self
    }

    /// Runs `wuts-offline` instead of `wuts`: the same server, built in tests/offline
    /// where whatsapp-rust accepts the offline WhatsApp server's certificate chain, which
    /// the project's `wuts` refuses. For the `whatsapp` driver against that server.
    pub fn offline_client(mut self) -> Self {
        self.offline_client = true;
        self
    }

    /// Runs `wuts` and loads the plugins from `dir` instead of [`locate::artefact_dir`].
    pub fn bin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bin_dir = Some(dir.into());
        self
    }
}

/// A user made with `wuts users create --json`.
#[derive(Debug, Clone)]
pub struct User {
    pub tenant: String,
    pub user_id: String,
    pub name: String,
    pub role: String,
    pub token: String,
    pub device_id: String,
    /// The whole JSON object the CLI printed.
    pub raw: Value,
}

impl User {
    /// `Authorization: Bearer <token>`.
    pub fn auth(&self) -> Auth<'_> {
        Auth::Bearer(&self.token)
    }
}

/// A temp folder with a config file (and, once started, the database): what `wuts` runs against.
pub struct Setup {
    dir: TempDir,
    config_path: PathBuf,
    plugin_dir: PathBuf,
    options: ServerOptions,
}

impl Setup {
    /// Writes the config (and a fresh plugin folder, if asked for) into a new temp folder.
    pub fn new(options: ServerOptions) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("wuts-e2e-")
            .tempdir()
            .expect("a temp dir can be created");
        let plugin_dir = match &options.plugin_dir {
            PluginDir::Artefacts => options.bin_dir.clone().unwrap_or_else(locate::artefact_dir),
            PluginDir::Unset => PathBuf::new(),
            PluginDir::Fresh(files) => {
                let folder = dir.path().join("plugins");
                fs::create_dir(&folder).expect("the plugin folder can be created");
                for file in files {
                    match file {
                        PluginFile::Copy { artefact, name } => {
                            fs::copy(artefact_path(&options, artefact), folder.join(name))
                                .unwrap_or_else(|e| panic!("cannot copy {artefact}: {e}"));
                        }
                        PluginFile::Bytes { name, bytes } => {
                            fs::write(folder.join(name), bytes)
                                .unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
                        }
                    }
                }
                folder
            }
        };
        let config_path = dir.path().join("wuts.toml");
        let setup = Self {
            config_path,
            plugin_dir,
            options,
            dir,
        };
        fs::write(&setup.config_path, setup.config_text()).expect("the config can be written");
        setup
    }

    /// The `wuts` executable this setup runs.
    pub fn wuts_binary(&self) -> PathBuf {
        let binary = if self.options.offline_client {
            locate::OFFLINE_WUTS_BINARY
        } else {
            locate::WUTS_BINARY
        };
        artefact_path(&self.options, binary)
    }

    /// The config file.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The temp folder everything lives in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The plugin folder named in the config (empty for [`PluginDir::Unset`]).
    pub fn plugin_dir(&self) -> &Path {
        &self.plugin_dir
    }

    /// The SQLite file named in the config.
    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("data").join("wuts.db")
    }

    fn config_text(&self) -> String {
        let o = &self.options;
        let mut t = String::new();
        let _ = writeln!(t, "[server]\nbind = \"127.0.0.1:0\"\n");
        let _ = writeln!(t, "[store]\npath = {}\n", toml_string(self.store_path()));
        let _ = writeln!(t, "[session]\ndriver = \"sandbox\"");
        if let Some(ms) = o.send_timeout_ms {
            let _ = writeln!(t, "send_timeout_ms = {ms}");
        }
        let _ = writeln!(t, "\n[plugins]\ndir = {}", toml_string(&self.plugin_dir));
        let _ = writeln!(t, "load = {}", toml_array(&o.plugins));
        let _ = writeln!(t, "required = {}\n", toml_array(&o.required));
        let _ = writeln!(t, "[routes]");
        for (route, enabled) in &o.routes {
            let _ = writeln!(t, "{} = {enabled}", toml_string(route));
        }
        let _ = writeln!(t, "\n{}", o.extra_toml);
        t
    }

    /// A `wuts` command with this setup's environment: `wuts <subcommand...> --config FILE`
    /// (or `wuts --config FILE <subcommand...>`), to which the caller adds arguments.
    pub fn command(&self, subcommand: &[&str]) -> Command {
        let mut command = Command::new(self.wuts_binary());
        if self.options.config_before_subcommand {
            command.arg("--config").arg(&self.config_path);
            command.args(subcommand);
        } else {
            command.args(subcommand);
            command.arg("--config").arg(&self.config_path);
        }
        // Only what the test asks for may configure the server: drop the developer's own
        // overrides and log filters.
        for (key, _) in env::vars_os() {
            if key.to_string_lossy().starts_with("WUTS__") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        command.env("NO_COLOR", "1");
        command.envs(self.options.env.iter().map(|(k, v)| (k, v)));
        command.current_dir(self.dir.path());
        command
    }

    /// Runs `wuts <subcommand...> --config FILE <args...>` to completion (bounded).
    pub fn cli(&self, subcommand: &[&str], args: &[&str]) -> Finished {
        let mut command = self.command(subcommand);
        command.args(args);
        process::run(command, CLI_TIMEOUT)
    }

    /// `wuts users create --tenant T --name N [--role R] --json`.
    ///
    /// # Panics
    /// If the command fails or does not print one JSON object with the documented keys.
    pub fn create_user_with_role(&self, tenant: &str, name: &str, role: Option<&str>) -> User {
        let mut args = vec!["--tenant", tenant, "--name", name];
        if let Some(role) = role {
            args.extend(["--role", role]);
        }
        args.push("--json");
        let done = self.cli(&["users", "create"], &args);
        assert!(
            done.success(),
            "`wuts users create` failed: {:?}\nstdout:\n{}\nstderr:\n{}",
            done.status,
            done.stdout,
            done.stderr
        );
        let raw: Value = serde_json::from_str(done.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "`wuts users create --json` printed no single JSON object ({e}):\n{}",
                done.stdout
            )
        });
        let field = |key: &str| -> String {
            raw.get(key)
                .and_then(Value::as_str)
                .unwrap_or_else(|| {
                    panic!("`users create --json` output lacks string {key:?}: {raw}")
                })
                .to_owned()
        };
        User {
            tenant: field("tenant"),
            user_id: field("user_id"),
            name: field("name"),
            role: field("role"),
            token: field("token"),
            device_id: field("device_id"),
            raw: raw.clone(),
        }
    }

    /// `wuts users create --tenant T --name N --json`.
    pub fn create_user(&self, tenant: &str, name: &str) -> User {
        self.create_user_with_role(tenant, name, None)
    }

    /// Starts `wuts serve` and waits for its listening line.
    ///
    /// # Panics
    /// If it does not start; the message has its exit status and logs.
    pub fn start(self) -> Server {
        self.try_start()
            .unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// Starts `wuts serve`; a server that exits or stays silent for [`START_TIMEOUT`] is an error.
    pub fn try_start(self) -> Result<Server, StartFailure> {
        let mut command = self.command(&["serve"]);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: the closure runs in the child between fork and exec and only calls prctl(2),
        // which is async-signal-safe. It makes the server die with the thread that started it,
        // so that a test binary killed mid-run leaves no server behind.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.wuts_binary().display()));
        let stdout = Captured::default();
        let stderr = Captured::default();
        let (line_tx, line_rx) = mpsc::channel::<String>();
        let stdout_thread = process::drain_lines(
            child.stdout.take().expect("stdout is piped"),
            stdout.clone(),
            move |line| {
                if line.starts_with(LISTENING_PREFIX) {
                    let _ = line_tx.send(line.trim_end().to_owned());
                }
            },
        );
        let stderr_thread = process::drain_lines(
            child.stderr.take().expect("stderr is piped"),
            stderr.clone(),
            |_| {},
        );
        let listening = wait_for_listening(&mut child, &line_rx);
        let base_url = match listening {
            Ok(base_url) => base_url,
            Err(reason) => {
                // A process that is on its way out gets a moment to exit by itself, so that its
                // own exit status is reported; one that still runs is killed.
                let status =
                    process::wait_timeout(&mut child, Duration::from_secs(2)).or_else(|| {
                        let _ = child.kill();
                        let _ = child.wait();
                        None
                    });
                process::join_timeout(stdout_thread, Duration::from_secs(5));
                process::join_timeout(stderr_thread, Duration::from_secs(5));
                return Err(StartFailure {
                    reason,
                    status,
                    stdout: stdout.text(),
                    stderr: stderr.text(),
                });
            }
        };
        Ok(Server {
            client: Client::new(&base_url),
            base_url,
            child: Some(child),
            stdout,
            stderr,
            readers: vec![stdout_thread, stderr_thread],
            exit_status: None,
            setup: Some(self),
        })
    }
}

/// A built artefact from the options' `bin_dir`, else from [`locate::artefact`].
fn artefact_path(options: &ServerOptions, file_name: &str) -> PathBuf {
    match &options.bin_dir {
        Some(dir) => {
            let path = dir.join(file_name);
            assert!(path.is_file(), "{} not found", path.display());
            path
        }
        None => locate::artefact(file_name),
    }
}

/// Waits (at most [`START_TIMEOUT`]) for the listening line; returns the base URL.
fn wait_for_listening(child: &mut Child, lines: &mpsc::Receiver<String>) -> Result<String, String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let line = loop {
        match lines.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => break line,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(
                    "`wuts serve` closed stdout without printing its listening line".into(),
                );
            }
        }
        if let Ok(Some(_)) = child.try_wait() {
            return Err("`wuts serve` exited before listening".into());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "`wuts serve` printed no listening line within {START_TIMEOUT:?}"
            ));
        }
    };
    let base_url = line[LISTENING_PREFIX.len()..].trim();
    let port = base_url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|port| port.parse::<u16>().ok());
    match port {
        Some(port) if port != 0 => Ok(base_url.to_owned()),
        _ => Err(format!(
            "unexpected listening line {line:?}: expected `wuts listening on http://127.0.0.1:PORT`"
        )),
    }
}

/// Why a server did not start.
#[derive(Debug)]
pub struct StartFailure {
    pub reason: String,
    /// The exit status, if it exited by itself (None if the harness had to kill it).
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (exit status {:?})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.reason, self.status, self.stdout, self.stderr
        )
    }
}

/// A running `wuts serve`. Dropping it sends SIGTERM, waits, then kills.
///
/// The process is tied to the thread that started it (it gets SIGKILL when that thread ends),
/// so start and drop a server on the same thread, as a test function does.
pub struct Server {
    /// Always `Some` but in [`Server::into_setup`], which takes it out.
    setup: Option<Setup>,
    child: Option<Child>,
    base_url: String,
    client: Client,
    stdout: Captured,
    stderr: Captured,
    readers: Vec<JoinHandle<()>>,
    exit_status: Option<ExitStatus>,
}

impl Server {
    /// Writes a config for `options` and starts a server on it.
    pub fn start(options: ServerOptions) -> Self {
        Setup::new(options).start()
    }

    /// A server with [`ServerOptions::default`].
    pub fn start_default() -> Self {
        Self::start(ServerOptions::default())
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        self.client.url(path)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn setup(&self) -> &Setup {
        self.setup
            .as_ref()
            .expect("the setup is there until into_setup")
    }

    /// Stops the server (SIGTERM) and hands back its setup (config, database), so that a new
    /// server can start on the same files.
    ///
    /// # Panics
    /// If the server does not exit 0.
    pub fn into_setup(mut self) -> Setup {
        let status = self.stop();
        assert!(
            status.success(),
            "the server exits 0 on SIGTERM, got {status:?}\nstderr:\n{}",
            self.logs()
        );
        self.setup
            .take()
            .expect("the setup is there until into_setup")
    }

    /// Kills the server (SIGKILL: nothing is flushed, as in a crash) and hands back its
    /// setup, so that a new server can start on the same files.
    pub fn kill_into_setup(mut self) -> Setup {
        let status = self.stop_with(libc::SIGKILL);
        assert!(!status.success(), "killed: {status:?}");
        self.setup
            .take()
            .expect("the setup is there until into_setup")
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// A new user (and its tenant, on first use) through the CLI, while the server runs.
    pub fn create_user(&self, tenant: &str, name: &str) -> User {
        self.setup().create_user(tenant, name)
    }

    /// `POST path` with a JSON body and a Bearer token: status and body (see
    /// [`Reply::json_or_text`]).
    pub fn post_json(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let reply = self.client.post_json(path, Auth::Bearer(token), body);
        (reply.status, reply.json_or_text())
    }

    /// `GET path` with a Bearer token: status and body (see [`Reply::json_or_text`]).
    pub fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let reply = self.client.get(path, Auth::Bearer(token));
        (reply.status, reply.json_or_text())
    }

    /// Polls `GET /jobs/{id}` as `user` (at most `timeout`) until the job is no longer
    /// processing; asserts the status is the job's and shows no message id meanwhile.
    #[track_caller]
    pub fn wait_for_job(&self, user: &User, job_id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (status, job) = self.get(&format!("/jobs/{job_id}"), &user.token);
            assert_eq!(status, 200, "GET /jobs/{job_id}: {job}");
            assert_eq!(job["job_id"], json!(job_id), "{job}");
            if job["status"] != json!("processing") {
                return job;
            }
            assert_eq!(
                job["message_id"],
                json!(""),
                "no message id while processing: {job}"
            );
            assert!(
                Instant::now() < deadline,
                "job {job_id} still processing after {timeout:?}:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `POST path` with any auth and body.
    pub fn post_raw(&self, path: &str, auth: Auth<'_>, body: Body<'_>) -> Reply {
        self.client.post(path, auth, body)
    }

    /// `POST /send/buttons` as `user`.
    pub fn send_buttons(&self, user: &User, body: &Value) -> (u16, Value) {
        self.post_json("/send/buttons", &user.token, body)
    }

    /// `GET /sandbox/outbox` (with `query`, e.g. `"?limit=2"`, possibly empty) as `user`.
    pub fn outbox_reply(&self, user: &User, query: &str) -> Reply {
        self.client
            .get(&format!("/sandbox/outbox{query}"), user.auth())
    }

    /// The user's sandbox outbox, newest first.
    ///
    /// # Panics
    /// If the outbox does not answer 200 with a JSON array.
    pub fn outbox(&self, user: &User) -> Vec<Value> {
        let reply = self.outbox_reply(user, "");
        assert_eq!(
            reply.status,
            200,
            "GET /sandbox/outbox answered {}: {}",
            reply.status,
            reply.text()
        );
        match reply.json() {
            Value::Array(entries) => entries,
            other => panic!("GET /sandbox/outbox is not a JSON array: {other}"),
        }
    }

    /// `POST /sandbox/state` with `state` as `user`; returns the device's resulting state.
    ///
    /// # Panics
    /// If it does not answer 200 with JSON.
    pub fn set_state(&self, user: &User, state: Value) -> Value {
        let reply = self.client.post_json("/sandbox/state", user.auth(), &state);
        assert_eq!(
            reply.status,
            200,
            "POST /sandbox/state {state} answered {}: {}",
            reply.status,
            reply.text()
        );
        reply.json()
    }

    /// Sandbox: make the user's device connected or not.
    pub fn set_connected(&self, user: &User, connected: bool) -> Value {
        self.set_state(user, json!({ "connected": connected }))
    }

    /// Everything the server wrote to stderr (its logs) so far, without colour codes.
    pub fn logs(&self) -> String {
        self.stderr.text()
    }

    /// Waits (up to `timeout`) until the logs contain `needle`; whether they do. The server
    /// writes log lines from a thread of its own, so a line may trail the event it reports.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.logs().contains(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything the server wrote to stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    /// Sends `signal` and waits for the exit (at most [`STOP_TIMEOUT`]); afterwards `logs()` and
    /// `stdout()` hold everything the process wrote.
    ///
    /// # Panics
    /// If the process does not exit in time (it is killed first).
    pub fn stop_with(&mut self, signal: libc::c_int) -> ExitStatus {
        if let Some(status) = self.exit_status {
            return status;
        }
        let mut child = self.child.take().expect("the server process is there");
        process::signal(&child, signal);
        let status = process::wait_timeout(&mut child, STOP_TIMEOUT);
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for reader in self.readers.drain(..) {
            process::join_timeout(reader, Duration::from_secs(5));
        }
        let status = status.unwrap_or_else(|| {
            panic!(
                "the server did not exit within {STOP_TIMEOUT:?} of signal {signal}; killed.\n\
                 stderr:\n{}",
                self.logs()
            )
        });
        self.exit_status = Some(status);
        status
    }

    /// SIGTERM, then wait for the exit.
    pub fn stop(&mut self) -> ExitStatus {
        self.stop_with(libc::SIGTERM)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::signal(&child, libc::SIGTERM);
            if process::wait_timeout(&mut child, STOP_TIMEOUT).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// A TOML basic string. JSON's string escapes (`\"`, `\\`, `\n`, `\uXXXX`, ...) are all valid
/// TOML escapes, so serde_json writes it.
pub fn toml_string(value: impl AsRef<Path>) -> String {
    serde_json::to_string(&value.as_ref().to_string_lossy()).expect("a string serializes")
}

fn toml_array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(toml_string).collect();
    format!("[{}]", items.join(", "))
}
