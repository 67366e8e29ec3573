//! `CommandTarget`: the [`BuildTarget`] of `kind = "command"` targets. It runs
//! the configured argv (no shell) in the target's `workdir` (relative to, or by
//! default, the directory of repowatch.toml), with the current environment
//! plus the build's `REPOWATCH_*` variables. stdout and stderr are captured
//! together in arrival order, keeping the last 64 KiB. The command runs in its
//! own process group, so a timeout kills everything it started (`sh -c`
//! children included), not only the first process.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use repowatch_core::duration::format_duration;
use repowatch_core::{BuildRequest, BuildTarget, DispatchError, Dispatched, TargetId, TargetSpec};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::JoinHandle;

/// How much of a command's output is kept (its tail).
pub const OUTPUT_TAIL: usize = 64 * 1024;

/// How long output is still read after the command exited, in case a
/// background process it started keeps the pipes open.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Runs `command` targets on this machine.
#[derive(Debug, Clone)]
pub struct CommandTarget {
    default_workdir: PathBuf,
    tail: usize,
}

impl CommandTarget {
    /// `default_workdir`: where commands without `workdir` run and what a
    /// relative `workdir` is relative to — the directory of repowatch.toml.
    pub fn new(default_workdir: impl Into<PathBuf>) -> Self {
        Self { default_workdir: default_workdir.into(), tail: OUTPUT_TAIL }
    }

    /// Keeps the last `bytes` of output instead of 64 KiB.
    pub fn with_output_tail(mut self, bytes: usize) -> Self {
        self.tail = bytes;
        self
    }

    async fn run(
        &self,
        target_id: &TargetId,
        argv: &[String],
        workdir: Option<&Path>,
        timeout: Duration,
        request: &BuildRequest,
    ) -> Result<Dispatched, DispatchError> {
        let Some((program, args)) = argv.split_first() else {
            return Err(DispatchError::new(format!(
                "the `command` of target {target_id} is empty; write the program and its arguments, e.g. [\"make\", \"deploy\"]"
            )));
        };
        let dir = match workdir {
            Some(w) => self.default_workdir.join(w),
            None => self.default_workdir.clone(),
        };
        if !dir.is_dir() {
            return Err(DispatchError::new(format!(
                "the workdir {} of target {target_id} is not a directory; fix `workdir` of [targets.{target_id}] in repowatch.toml",
                dir.display()
            )));
        }

        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args)
            .current_dir(&dir)
            .envs(request.env())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|e| spawn_error(target_id, program, e))?;
        let pid = child.id();
        let tail = Arc::new(Mutex::new(Tail::new(self.tail)));
        let readers: Vec<JoinHandle<()>> = [
            child.stdout.take().map(|s| tokio::spawn(collect(s, Arc::clone(&tail)))),
            child.stderr.take().map(|s| tokio::spawn(collect(s, Arc::clone(&tail)))),
        ]
        .into_iter()
        .flatten()
        .collect();

        let waited = tokio::time::timeout(timeout, child.wait()).await;
        let outcome = match waited {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(e)) => {
                kill_group(pid);
                Err(DispatchError {
                    source: Some(Box::new(e)),
                    ..DispatchError::new(format!("cannot wait for {program:?} of target {target_id}"))
                })
            }
            Err(_) => {
                kill_group(pid);
                let _ = child.start_kill();
                let _ = child.wait().await;
                Err(DispatchError::new(format!("timed out after {}; killed", format_duration(timeout))))
            }
        };
        let elapsed = started.elapsed();
        drain(readers).await;
        let output = Some(tail.lock().unwrap_or_else(|p| p.into_inner()).text());

        let status = match outcome {
            Ok(status) => status,
            Err(e) => return Err(DispatchError { output, ..e }),
        };
        let took = format_elapsed(elapsed);
        match status.code() {
            Some(0) => Ok(Dispatched { detail: format!("exit 0 in {took}"), exit_code: Some(0), output, run: None }),
            Some(code) => Err(DispatchError {
                exit_code: Some(code),
                output,
                ..DispatchError::new(format!("exit {code} in {took}"))
            }),
            None => {
                let signal = std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0);
                Err(DispatchError { output, ..DispatchError::new(format!("killed by signal {signal} in {took}")) })
            }
        }
    }
}

#[async_trait]
impl BuildTarget for CommandTarget {
    async fn dispatch(
        &self,
        target_id: &TargetId,
        target: &TargetSpec,
        request: &BuildRequest,
    ) -> Result<Dispatched, DispatchError> {
        match target {
            TargetSpec::Command { command, workdir, timeout } => {
                self.run(target_id, command, workdir.as_deref(), *timeout, request).await
            }
            other => Err(DispatchError::new(format!(
                "the {} target is not available in embedded mode yet (target {target_id})",
                other.kind_name()
            ))),
        }
    }
}

fn spawn_error(target_id: &TargetId, program: &str, e: std::io::Error) -> DispatchError {
    let detail = match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "program {program:?} not found: check `command` of target {target_id} (a program on PATH or an absolute path; no shell is involved)"
        ),
        std::io::ErrorKind::PermissionDenied => {
            format!(
                "program {program:?} is not executable: check `command` of target {target_id} and the file's permissions"
            )
        }
        _ => format!("cannot start {program:?} of target {target_id}"),
    };
    DispatchError { source: Some(Box::new(e)), ..DispatchError::new(detail) }
}

/// SIGKILL to the command's whole process group.
fn kill_group(pid: Option<u32>) {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()).filter(|p| *p > 1).and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    if let Err(e) = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL) {
        // ESRCH: everything already exited.
        tracing::debug!(pid = pid.as_raw_nonzero().get(), error = %e, "kill of the command's process group");
    }
}

/// Waits for the readers to reach end of file, at most [`DRAIN_GRACE`].
async fn drain(readers: Vec<JoinHandle<()>>) {
    let deadline = tokio::time::Instant::now() + DRAIN_GRACE;
    for mut reader in readers {
        if tokio::time::timeout_at(deadline, &mut reader).await.is_err() {
            tracing::debug!("a background process keeps the command's output open; stop reading it");
            reader.abort();
        }
    }
}

async fn collect(mut stream: impl AsyncRead + Unpin, tail: Arc<Mutex<Tail>>) {
    let mut buf = vec![0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => tail.lock().unwrap_or_else(|p| p.into_inner()).push(&buf[..n]),
        }
    }
}

/// The last `limit` bytes written.
#[derive(Debug)]
struct Tail {
    limit: usize,
    bytes: Vec<u8>,
    dropped: bool,
}

impl Tail {
    fn new(limit: usize) -> Self {
        Self { limit, bytes: Vec::new(), dropped: false }
    }

    fn push(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
        // Trim in chunks, not per write: amortised O(1).
        if self.bytes.len() > self.limit.saturating_mul(2).max(8192) {
            self.trim();
        }
    }

    fn trim(&mut self) {
        if self.bytes.len() > self.limit {
            let cut = self.bytes.len() - self.limit;
            self.bytes.drain(..cut);
            self.dropped = true;
        }
    }

    fn text(&mut self) -> String {
        self.trim();
        let mut start = 0;
        if self.dropped {
            // Do not begin in the middle of a UTF-8 character.
            while start < self.bytes.len() && start < 4 && (self.bytes[start] & 0xC0) == 0x80 {
                start += 1;
            }
        }
        String::from_utf8_lossy(&self.bytes[start..]).into_owned()
    }
}

fn format_elapsed(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 { format!("{secs:.1} s") } else { format_duration(Duration::from_secs(d.as_secs())) }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;
    use repowatch_core::{CommitSha, DatasourceId, DetectionSource, RefKind, RefName, RunId};

    use super::*;

    fn request() -> BuildRequest {
        BuildRequest::new(
            DatasourceId::parse("api").unwrap(),
            RefName::parse("refs/tags/v1.2.0").unwrap(),
            CommitSha::parse("a".repeat(40)).unwrap(),
            RefKind::Tag,
            DetectionSource::Webhook,
            TargetId::parse("local").unwrap(),
            Timestamp::UNIX_EPOCH,
            RunId::parse("r1").unwrap(),
        )
    }

    fn spec(argv: &[&str], timeout: Duration) -> TargetSpec {
        TargetSpec::Command { command: argv.iter().map(|s| (*s).to_owned()).collect(), workdir: None, timeout }
    }

    fn sh(script: &str) -> TargetSpec {
        spec(&["sh", "-c", script], Duration::from_secs(30))
    }

    fn id() -> TargetId {
        TargetId::parse("local").unwrap()
    }

    #[tokio::test]
    async fn success_sees_the_build_environment_and_workdir() {
        let dir = tempfile::tempdir().unwrap();
        let target = CommandTarget::new(dir.path());
        let req = request();
        let ok = target
            .dispatch(&id(), &sh("echo $REPOWATCH_KEY; echo $REPOWATCH_REF $REPOWATCH_KIND $REPOWATCH_SOURCE $REPOWATCH_DATASOURCE; pwd; echo err >&2"), &req)
            .await
            .unwrap();
        assert_eq!(ok.exit_code, Some(0));
        assert!(ok.detail.starts_with("exit 0 in ") && ok.detail.ends_with(" s"), "{}", ok.detail);
        let out = ok.output.unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.contains(&req.key.as_str()), "{out}");
        assert!(lines.contains(&"refs/tags/v1.2.0 tag webhook api"), "{out}");
        assert!(lines.contains(&"err"), "stderr is captured too: {out}");
        let pwd = std::fs::canonicalize(dir.path()).unwrap();
        assert!(lines.iter().any(|l| std::fs::canonicalize(l).ok().as_deref() == Some(pwd.as_path())), "{out}");

        // The current environment is inherited.
        let ok = target.dispatch(&id(), &sh("test -n \"$PATH\""), &req).await.unwrap();
        assert_eq!(ok.exit_code, Some(0));

        // A relative workdir is relative to the default one.
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let in_sub = TargetSpec::Command {
            command: vec!["pwd".into()],
            workdir: Some("sub".into()),
            timeout: Duration::from_secs(5),
        };
        let out = target.dispatch(&id(), &in_sub, &req).await.unwrap().output.unwrap();
        assert!(out.trim_end().ends_with("/sub"), "{out}");
    }

    #[tokio::test]
    async fn non_zero_exit_is_an_error_with_code_and_output() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            CommandTarget::new(dir.path()).dispatch(&id(), &sh("echo building; exit 3"), &request()).await.unwrap_err();
        assert_eq!(err.exit_code, Some(3));
        assert!(err.detail.starts_with("exit 3 in "), "{}", err.detail);
        assert_eq!(err.output.as_deref(), Some("building\n"));
    }

    #[tokio::test]
    async fn output_keeps_only_the_tail() {
        let dir = tempfile::tempdir().unwrap();
        // ~200 KiB of numbered lines, then a marker.
        let script = "i=0; while [ $i -lt 20000 ]; do echo \"line $i ..........\"; i=$((i+1)); done; echo END";
        let ok = CommandTarget::new(dir.path()).dispatch(&id(), &sh(script), &request()).await.unwrap();
        let out = ok.output.unwrap();
        assert!(out.len() <= OUTPUT_TAIL && out.len() > OUTPUT_TAIL - 100, "{}", out.len());
        assert!(out.ends_with("line 19999 ..........\nEND\n"));
        assert!(!out.contains("line 0 "));

        let small = CommandTarget::new(dir.path()).with_output_tail(4);
        let ok = small.dispatch(&id(), &sh("printf 'abcdefgh'"), &request()).await.unwrap();
        assert_eq!(ok.output.as_deref(), Some("efgh"));
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("bg.pid");
        let script = format!("sleep 30 & echo $! > {}; echo started; sleep 30", pidfile.display());
        let started = Instant::now();
        let err = CommandTarget::new(dir.path())
            .dispatch(&id(), &spec(&["sh", "-c", &script], Duration::from_millis(500)), &request())
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "returned after {:?}", started.elapsed());
        assert_eq!(err.detail, "timed out after 500ms; killed");
        assert_eq!(err.exit_code, None);
        assert_eq!(err.output.as_deref(), Some("started\n"));
        // The background child died with the group.
        let bg = std::fs::read_to_string(&pidfile).unwrap().trim().to_owned();
        let mut gone = false;
        for _ in 0..50 {
            let stat = std::fs::read_to_string(format!("/proc/{bg}/stat")).unwrap_or_default();
            // Dead, or a zombie waiting for init to reap it.
            if stat.is_empty() || stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')) {
                gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone, "background sleep {bg} survived");
    }

    #[tokio::test]
    async fn finished_command_with_a_lingering_background_process_returns() {
        let dir = tempfile::tempdir().unwrap();
        let started = Instant::now();
        // The daemon keeps stdout open; we must not wait for it, nor kill it.
        let ok = CommandTarget::new(dir.path()).dispatch(&id(), &sh("sleep 30 & echo $!"), &request()).await.unwrap();
        assert!(started.elapsed() < DRAIN_GRACE + Duration::from_secs(2), "{:?}", started.elapsed());
        let bg: i32 = ok.output.as_deref().unwrap().trim().parse().unwrap();
        let bg = rustix::process::Pid::from_raw(bg).unwrap();
        assert!(rustix::process::test_kill_process(bg).is_ok(), "a daemon outlives its command");
        let _ = rustix::process::kill_process(bg, rustix::process::Signal::KILL);
    }

    #[tokio::test]
    async fn spawn_failures_and_other_kinds_say_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let target = CommandTarget::new(dir.path());
        let err = target
            .dispatch(&id(), &spec(&["no-such-program-xyz"], Duration::from_secs(5)), &request())
            .await
            .unwrap_err();
        assert!(
            err.detail.starts_with("program \"no-such-program-xyz\" not found: check `command` of target local"),
            "{}",
            err.detail
        );

        let err = target.dispatch(&id(), &spec(&[], Duration::from_secs(5)), &request()).await.unwrap_err();
        assert!(err.detail.contains("is empty"), "{}", err.detail);

        let missing = TargetSpec::Command {
            command: vec!["true".into()],
            workdir: Some("/nonexistent/dir".into()),
            timeout: Duration::from_secs(5),
        };
        let err = target.dispatch(&id(), &missing, &request()).await.unwrap_err();
        assert!(err.detail.contains("fix `workdir`"), "{}", err.detail);

        let webhook: TargetSpec = serde_json::from_value(
            serde_json::json!({"kind": "repository_dispatch", "repo": "o/r", "event_type": "x"}),
        )
        .unwrap();
        let err = target.dispatch(&id(), &webhook, &request()).await.unwrap_err();
        assert!(
            err.detail.starts_with("the repository_dispatch target is not available in embedded mode yet"),
            "{}",
            err.detail
        );
    }

    #[test]
    fn tail_does_not_start_inside_a_character() {
        let mut t = Tail::new(4);
        t.push("aé€".as_bytes()); // 1 + 2 + 3 bytes: the tail starts in é
        assert_eq!(t.text(), "€");
        let mut t = Tail::new(5);
        t.push("aé€".as_bytes());
        assert_eq!(t.text(), "é€");
    }
}
