//! `repowatch serve` as a process: the build-request endpoint between two
//! repowatch processes (one dispatching to the other through a `webhook`
//! target), graceful shutdown, and secrets that never reach the output.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use repowatch_core::secret::SecretString;
use repowatch_core::signature;
use serde_json::Value;

use crate::support::*;

/// A running `repowatch serve`; killed on drop, stopped gracefully by [`Server::stop`].
pub struct Server {
    child: Option<Child>,
    pub url: String,
    stdout: std::thread::JoinHandle<String>,
}

impl Server {
    /// Starts `repowatch serve --listen 127.0.0.1:0` in `env` with `vars`, and
    /// waits for the address it listens on.
    pub fn start(env: &Env, extra: &[&str], vars: &[(&str, &str)]) -> Server {
        let mut args = vec!["-v", "serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut cmd = env.command(&args);
        cmd.envs(vars.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("repowatch serve starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("serve prints its address").unwrap();
        let url = first.rsplit(' ').next().unwrap().to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{first}");
        let stdout = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"));
        Server { child: Some(child), url, stdout }
    }

    /// SIGTERM, then waits; returns (exit code, stdout, stderr).
    pub fn stop(mut self) -> (Option<i32>, String, String) {
        let mut child = self.child.take().unwrap();
        let pid = rustix::process::Pid::from_child(&child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "serve did not stop within 20 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        let stdout = std::mem::replace(&mut self.stdout, std::thread::spawn(String::new)).join().unwrap();
        (status.code(), stdout, stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One HTTP request on a throwaway runtime: (status, body).
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let mut req = client.request(method.parse().unwrap(), url).body(body.to_vec());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap())
    })
}

/// Waits until `f` holds, up to `limit`; returns how long it took.
pub fn wait_for(limit: Duration, what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

const BUILD_SECRET: &str = "canary-build-secret-5b1f";

fn receiver_config(log: &str) -> String {
    format!(
        r#"
[settings]
state_dir = "state"

[serve]
build_secret = "env:RW_BUILD_SECRET"
build_targets = ["gpu-local"]

[targets.gpu-local]
kind = "command"
command = ["sh", "-c", "echo \"$REPOWATCH_DATASOURCE $REPOWATCH_REF $REPOWATCH_COMMIT $REPOWATCH_KIND $REPOWATCH_KEY $REPOWATCH_SOURCE\" >> {log}"]
timeout = "30s"
"#
    )
}

#[test]
fn one_repowatch_dispatches_to_another_through_a_signed_webhook() {
    let receiver = Env::new();
    let receiver_log = receiver.file("builds.log");
    receiver.write_config(&receiver_config(&receiver_log));
    let server = Server::start(&receiver, &["--no-schedule"], &[("RW_BUILD_SECRET", BUILD_SECRET)]);

    let sender = Env::new();
    let repo = Repo::init(sender.path().join("repo"));
    let commit = repo.commit("a.txt", "first");
    sender.write_config(&format!(
        r#"
[settings]
state_dir = "state"

[[datasources]]
id = "app"
path = "{repo}"
watch = ["branch:main"]
build_on_first_seen = true
targets = ["gpu"]

[targets.gpu]
kind = "webhook"
url = "{url}/webhooks/build"
secret = "env:RW_GPU_SECRET"
"#,
        repo = repo.path.display(),
        url = server.url
    ));
    let sent =
        sender.command(&["-vv", "--json", "run", "--drain"]).env("RW_GPU_SECRET", BUILD_SECRET).output().unwrap();
    assert_eq!(sent.status.code(), Some(0), "{}", String::from_utf8_lossy(&sent.stderr));
    let report: Value = serde_json::from_slice(&sent.stdout).unwrap();
    let results = report["builds"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{report:#}");
    assert_eq!(results[0]["outcome"], "dispatched");

    // The receiver runs it on its own command target.
    wait_for(Duration::from_secs(10), "the receiver's build", || log_lines(&receiver_log).len() == 1);
    let line = &log_lines(&receiver_log)[0];
    assert_eq!(&line[..4], &["app", "refs/heads/main", commit.as_str(), "branch"]);

    // The same request again (what a sender that crashed after the POST
    // would resend): accepted as a duplicate, nothing runs.
    let status: Value = serde_json::from_str(&sender.ok(&["--json", "status"])).unwrap();
    assert!(status["builds"][0]["request"].is_object(), "{status:#}");
    let body = serde_json::to_vec(&status["builds"][0]["request"]).unwrap();
    let key = status["builds"][0]["request"]["key"].as_str().unwrap().to_owned();
    let sig = signature::sign(&SecretString::new(BUILD_SECRET), &body);
    let url = format!("{}/webhooks/build", server.url);
    let headers = [
        ("content-type", "application/json"),
        ("x-repowatch-signature-256", sig.as_str()),
        ("x-repowatch-key", key.as_str()),
    ];
    let (code, text) = http("POST", &url, &headers, &body);
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("duplicate"), "{text}");

    // Badly signed, unsigned, or signed with another secret: refused, with no detail.
    let wrong = signature::sign(&SecretString::new("another secret"), &body);
    let mut flipped = body.clone();
    flipped[10] ^= 1;
    for (body, sig) in [(&body, Some(wrong.as_str())), (&body, None), (&flipped, Some(sig.as_str()))] {
        let mut h: Vec<(&str, &str)> = vec![("x-repowatch-key", key.as_str())];
        if let Some(s) = sig {
            h.push(("x-repowatch-signature-256", s));
        }
        let (code, text) = http("POST", &url, &h, body);
        assert_eq!((code, text.as_str()), (401, ""));
    }
    // A key that does not match the body is refused too (signed correctly).
    let (code, _) =
        http("POST", &url, &[("x-repowatch-signature-256", sig.as_str()), ("x-repowatch-key", "0000")], &body);
    assert_eq!(code, 400);

    std::thread::sleep(Duration::from_millis(600)); // the worker polls every 200 ms
    assert_eq!(log_lines(&receiver_log).len(), 1, "nothing else ran");

    let (code, stdout, stderr) = server.stop();
    assert_eq!(code, Some(0), "graceful stop exits 0\n{stderr}");
    assert!(stdout.contains("stopped"), "{stdout}");
    // The secret never reaches any output of either process.
    for text in [
        stdout.as_str(),
        stderr.as_str(),
        &String::from_utf8_lossy(&sent.stdout),
        &String::from_utf8_lossy(&sent.stderr),
    ] {
        assert!(!text.contains(BUILD_SECRET), "the build secret leaked:\n{text}");
    }
}

#[test]
fn build_requests_are_refused_when_the_receiver_has_no_secret() {
    let env = Env::new();
    let log = env.file("builds.log");
    env.write_config(&logging_config(&env.path().join("missing"), &log, ""));
    let server = Server::start(&env, &["--no-schedule"], &[]);
    let (code, text) = http("POST", &format!("{}/webhooks/build", server.url), &[], b"{}");
    assert_eq!(code, 404, "{text}");
    let (code, text) = http("POST", &format!("{}/webhooks/github", server.url), &[], b"{}");
    assert_eq!(code, 503, "{text}");
    assert_eq!(http("GET", &format!("{}/healthz", server.url), &[], b""), (200, "ok\n".to_owned()));
    let (code, page) = http("GET", &server.url, &[], b"");
    assert_eq!(code, 200);
    assert!(page.contains(r#"<main id="main""#) && page.contains("データソース"), "{page}");
    let (code, page) = http("GET", &format!("{}/?lang=en", server.url), &[], b"");
    assert!(code == 200 && page.contains("Datasources"), "{page}");
    let (code, _, stderr) = server.stop();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn a_missing_secret_is_a_usage_error_that_names_the_field() {
    let env = Env::new();
    env.write_config(&receiver_config(&env.file("b.log")));
    let out = env.command(&["serve", "--listen", "127.0.0.1:0"]).env_remove("RW_BUILD_SECRET").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("serve.build_secret") && stderr.contains("RW_BUILD_SECRET"), "{stderr}");
}
