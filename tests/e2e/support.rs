//! Test support: real git repositories in temp dirs and the real CLI binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_repowatch-e2e");

/// The workspace root (events/, statemachines/).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// A git command isolated from the user's configuration.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=repowatch test",
            "-c",
            "user.email=test@repowatch.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A real git repository with a `main` branch.
pub struct Repo {
    pub path: PathBuf,
    counter: std::cell::Cell<u32>,
}

impl Repo {
    pub fn init(path: impl Into<PathBuf>) -> Repo {
        let path = path.into();
        std::fs::create_dir_all(&path).unwrap();
        git(&path, &["init", "-q", "-b", "main"]);
        let repo = Repo { path, counter: std::cell::Cell::new(0) };
        repo.commit("README.md", "first");
        repo
    }

    /// Writes `file` (a fresh line each time) and commits; returns the commit id.
    pub fn commit(&self, file: &str, message: &str) -> String {
        let n = self.counter.get() + 1;
        self.counter.set(n);
        let full = self.path.join(file);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        let mut text = std::fs::read_to_string(&full).unwrap_or_default();
        text.push_str(&format!("{message} {n}\n"));
        std::fs::write(&full, text).unwrap();
        git(&self.path, &["add", "-A"]);
        git(&self.path, &["commit", "-q", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        git(&self.path, &["rev-parse", "HEAD"])
    }

    pub fn git(&self, args: &[&str]) -> String {
        git(&self.path, args)
    }
}

/// A directory with a repowatch.toml, where the CLI runs.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write_config(&self, toml: &str) {
        std::fs::write(self.path().join("repowatch.toml"), toml).unwrap();
    }

    /// A file in the env dir, as an absolute path for configs.
    pub fn file(&self, name: &str) -> String {
        self.path().join(name).display().to_string()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(self.path()).args(args).env_remove("RUST_LOG").env("NO_COLOR", "1");
        c
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("the CLI runs")
    }

    /// Runs and asserts the exit code; returns stdout.
    pub fn expect(&self, code: i32, args: &[&str]) -> String {
        let out = self.cli(args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "repowatch {args:?}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        stdout
    }

    pub fn ok(&self, args: &[&str]) -> String {
        self.expect(0, args)
    }

    pub fn json(&self, code: i32, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let stdout = self.expect(code, &all);
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    }
}

/// A config with one path datasource and a command target that appends one
/// line per build to `log`: datasource ref commit kind key source.
pub fn logging_config(repo: &Path, log: &str, datasource_extra: &str) -> String {
    format!(
        r#"
[settings]
state_dir = "state"

[[datasources]]
id = "app"
path = "{repo}"
targets = ["log"]
{datasource_extra}

[targets.log]
kind = "command"
command = ["sh", "-c", "echo \"$REPOWATCH_DATASOURCE $REPOWATCH_REF $REPOWATCH_COMMIT $REPOWATCH_KIND $REPOWATCH_KEY $REPOWATCH_SOURCE\" >> {log}"]
timeout = "30s"
"#,
        repo = repo.display()
    )
}

/// Lines of a build log, split into fields.
pub fn log_lines(log: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(' ').map(str::to_owned).collect())
        .collect()
}

pub type Seen = std::sync::Arc<std::sync::Mutex<Vec<Value>>>;

/// A notification channel on 127.0.0.1 that records every JSON body and
/// answers like Discord (204); the URL carries a canary token in its path.
pub async fn notify_recorder() -> (String, Seen) {
    async fn receive(
        axum::extract::State(seen): axum::extract::State<Seen>,
        body: axum::body::Bytes,
    ) -> axum::http::StatusCode {
        match serde_json::from_slice(&body) {
            Ok(v) => {
                seen.lock().unwrap().push(v);
                axum::http::StatusCode::NO_CONTENT
            }
            Err(_) => axum::http::StatusCode::BAD_REQUEST,
        }
    }
    let seen = Seen::default();
    let app = axum::Router::new().route("/{*path}", axum::routing::post(receive)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/api/webhooks/42/canary-discord-token-a1b2"), seen)
}
