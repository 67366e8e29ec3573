//! `GitRefSource`: the [`RefSource`] of datasources with a local `path`. It
//! shells out to the `git` command line (`git for-each-ref` costs about 2 ms),
//! reading branches (`refs/heads`) and tags (`refs/tags`; an annotated tag
//! resolves to its commit, a tag of a tree or blob is skipped) of working
//! trees, bare repositories and linked worktrees alike. Each datasource is one
//! process with a timeout, at most a few at once; a failing datasource fails
//! only its own entry, with a message that says what to fix. git runs with a
//! clean environment: no inherited `GIT_*` variables (a hook's `GIT_DIR` would
//! otherwise redirect it), no prompts, the C locale, and no discovery above
//! the configured path.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use repowatch_core::{
    CommitSha, Datasource, DatasourceId, Location, PortError, RefHead, RefKind, RefName, RefSnapshot, RefSource,
};

/// Default limit per git process.
pub const GIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of git processes at once.
pub const GIT_CONCURRENCY: usize = 8;

/// Reads refs of local git repositories with the `git` CLI.
#[derive(Debug, Clone)]
pub struct GitRefSource {
    program: PathBuf,
    timeout: Duration,
    concurrency: usize,
}

impl Default for GitRefSource {
    fn default() -> Self {
        Self::new()
    }
}

impl GitRefSource {
    /// `git` from `PATH`, 30 s per call, 8 at once.
    pub fn new() -> Self {
        Self { program: PathBuf::from("git"), timeout: GIT_TIMEOUT, concurrency: GIT_CONCURRENCY }
    }

    /// Another git executable.
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// The refs of one repository.
    pub async fn read_path(&self, id: &DatasourceId, path: &Path) -> Result<RefSnapshot, PortError> {
        check_path(id, path)?;
        let format = "--format=%(refname)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)";
        let out = self
            .git(path, ["for-each-ref", format, "refs/heads", "refs/tags"])
            .await
            .map_err(|e| e.for_datasource(id, path))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut refs = Vec::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let fields: Vec<&str> = line.split('\0').collect();
            let [name, kind, oid, peeled_kind, peeled_oid] = fields[..] else {
                return Err(PortError::new(format!(
                    "unexpected output of git for-each-ref in {}: {line:?}",
                    path.display()
                )));
            };
            let commit = match (kind, peeled_kind) {
                ("commit", _) => oid.to_owned(),
                ("tag", "commit") => peeled_oid.to_owned(),
                // A tag of a tag: let git peel the whole chain.
                ("tag", "tag") => match self.peel_to_commit(path, name).await {
                    Some(c) => c,
                    None => continue,
                },
                _ => {
                    tracing::debug!(datasource = %id, reference = name, kind, "skipping a ref that does not point at a commit");
                    continue;
                }
            };
            let (Ok(name), Ok(commit)) = (RefName::parse(name), CommitSha::parse(commit)) else {
                tracing::warn!(datasource = %id, reference = name, "skipping a ref repowatch cannot represent");
                continue;
            };
            let kind = if name.as_str().starts_with("refs/heads/") { RefKind::Branch } else { RefKind::Tag };
            refs.push(RefHead { kind, name, commit });
        }
        Ok(RefSnapshot { refs, newest_only: vec![] })
    }

    async fn peel_to_commit(&self, path: &Path, name: &str) -> Option<String> {
        let out = self.git(path, ["rev-parse", "--verify", "--quiet", &format!("{name}^{{commit}}")]).await.ok()?;
        Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    async fn read_indexed(&self, i: usize, ds: &Datasource) -> (usize, DatasourceId, Result<RefSnapshot, PortError>) {
        let result = match local_path(ds) {
            Ok(path) => self.read_path(&ds.id, path).await,
            Err(e) => Err(e),
        };
        (i, ds.id.clone(), result)
    }

    /// Is `commit` a commit in the repository at `path`?
    async fn has_commit(&self, path: &Path, commit: &CommitSha) -> Result<bool, GitError> {
        match self.git(path, ["cat-file", "-e", &format!("{commit}^{{commit}}")]).await {
            Ok(_) => Ok(true),
            Err(GitError::Failed { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Runs git in `dir`; a non-zero exit is [`GitError::Failed`].
    async fn git<I, S>(&self, dir: &Path, args: I) -> Result<Output, GitError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.arg("-C").arg(dir).args(args);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("GIT_") {
                cmd.env_remove(&name);
            }
        }
        cmd.env("GIT_TERMINAL_PROMPT", "0").env("GIT_OPTIONAL_LOCKS", "0").env("LC_ALL", "C");
        // The path itself must be the repository (or worktree): never a parent's.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            cmd.env("GIT_CEILING_DIRECTORIES", parent);
        }
        cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
        let out = match tokio::time::timeout(self.timeout, cmd.output()).await {
            Err(_) => return Err(GitError::Timeout(self.timeout)),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(GitError::NotInstalled(self.program.clone()));
            }
            Ok(Err(e)) => return Err(GitError::Io(e)),
            Ok(Ok(out)) => out,
        };
        if out.status.success() {
            Ok(out)
        } else {
            Err(GitError::Failed { stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned() })
        }
    }
}

#[derive(Debug)]
enum GitError {
    NotInstalled(PathBuf),
    Timeout(Duration),
    Io(std::io::Error),
    Failed { stderr: String },
}

impl GitError {
    fn for_datasource(self, id: &DatasourceId, path: &Path) -> PortError {
        let path = path.display();
        match self {
            GitError::NotInstalled(program) => PortError::new(format!(
                "cannot run {}: git is not installed or not on PATH; install git to watch datasource {id} at {path}",
                program.display()
            )),
            GitError::Timeout(t) => PortError::new(format!(
                "git did not answer within {} s in {path} (datasource {id}); is the disk or a network mount stuck?",
                t.as_secs()
            )),
            GitError::Io(e) => PortError::with_source(format!("cannot run git in {path} (datasource {id})"), e),
            GitError::Failed { stderr } if stderr.contains("not a git repository") => PortError::new(format!(
                "{path} is not a git repository; fix `path` of datasource {id} in repowatch.toml (the repository's top directory or a bare repository)"
            )),
            GitError::Failed { stderr } => {
                PortError::new(format!("git failed in {path} (datasource {id}): {}", first_line(&stderr)))
            }
        }
    }
}

fn first_line(text: &str) -> &str {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("no message")
}

fn check_path(id: &DatasourceId, path: &Path) -> Result<(), PortError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(PortError::new(format!(
            "{} is not a directory; fix `path` of datasource {id} in repowatch.toml",
            path.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(PortError::new(format!(
            "{} does not exist; fix `path` of datasource {id} in repowatch.toml",
            path.display()
        ))),
        Err(e) => Err(PortError::with_source(format!("cannot read {} (datasource {id})", path.display()), e)),
    }
}

fn local_path(ds: &Datasource) -> Result<&Path, PortError> {
    match &ds.location {
        Location::Path(p) => Ok(p),
        Location::Github(repo) => Err(PortError::new(format!(
            "GitHub datasources need the GitHub source (not built yet); datasource {} watches {repo}",
            ds.id
        ))),
    }
}

#[async_trait]
impl RefSource for GitRefSource {
    async fn read_refs(&self, datasources: &[Datasource]) -> Vec<(DatasourceId, Result<RefSnapshot, PortError>)> {
        let reads: Vec<_> = datasources.iter().enumerate().map(|(i, ds)| self.read_indexed(i, ds)).collect();
        let mut results: Vec<(usize, DatasourceId, Result<RefSnapshot, PortError>)> =
            futures::stream::iter(reads).buffer_unordered(self.concurrency).collect().await;
        results.sort_by_key(|(i, _, _)| *i);
        results.into_iter().map(|(_, id, r)| (id, r)).collect()
    }

    async fn changed_paths(
        &self,
        datasource: &Datasource,
        from: &CommitSha,
        to: &CommitSha,
    ) -> Result<Option<Vec<String>>, PortError> {
        let path = local_path(datasource)?;
        check_path(&datasource.id, path)?;
        let diff = self
            .git(
                path,
                [
                    "diff",
                    "--name-only",
                    "-z",
                    "--no-renames",
                    "--no-ext-diff",
                    "--no-textconv",
                    from.as_str(),
                    to.as_str(),
                    "--",
                ],
            )
            .await;
        match diff {
            Ok(out) => Ok(Some(
                out.stdout
                    .split(|b| *b == 0)
                    .filter(|p| !p.is_empty())
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect(),
            )),
            Err(GitError::Failed { stderr }) => {
                // An unknown commit (force-pushed away, not fetched): the caller builds.
                for commit in [from, to] {
                    if !self.has_commit(path, commit).await.map_err(|e| e.for_datasource(&datasource.id, path))? {
                        return Ok(None);
                    }
                }
                Err(GitError::Failed { stderr }.for_datasource(&datasource.id, path))
            }
            Err(e) => Err(e.for_datasource(&datasource.id, path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use repowatch_core::rules::WatchRules;

    use super::*;

    /// Runs git for a fixture, with a fixed identity and no user config.
    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args([
                "-c",
                "user.name=Test",
                "-c",
                "user.email=test@example.com",
                "-c",
                "commit.gpgsign=false",
                "-c",
                "tag.gpgsign=false",
            ])
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn ds(id: &str, path: &Path) -> Datasource {
        Datasource {
            id: DatasourceId::parse(id).unwrap(),
            location: Location::Path(path.to_path_buf()),
            watch: WatchRules::parse(&["branch:*", "tag:*"]).unwrap(),
            paths: None,
            cooldown: Duration::ZERO,
            targets: vec![],
            build_on_first_seen: false,
        }
    }

    fn sha(s: &str) -> CommitSha {
        CommitSha::parse(s).unwrap()
    }

    fn heads(snapshot: &RefSnapshot) -> Vec<(RefKind, &str, &str)> {
        snapshot.refs.iter().map(|r| (r.kind, r.name.as_str(), r.commit.as_str())).collect()
    }

    /// A repository with two commits on main, a branch, a lightweight and an
    /// annotated tag, a nested tag and tags of a tree. Returns (repo, c1, c2).
    fn fixture(root: &Path) -> (PathBuf, String, String) {
        let repo = root.join("repo");
        std::fs::create_dir(&repo).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        std::fs::write(repo.join("a.txt"), "1").unwrap();
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", "one"]);
        let c1 = git(&repo, &["rev-parse", "HEAD"]);
        std::fs::create_dir(repo.join("src")).unwrap();
        std::fs::write(repo.join("src/lib.rs"), "2").unwrap();
        std::fs::write(repo.join("a.txt"), "2").unwrap();
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", "two"]);
        let c2 = git(&repo, &["rev-parse", "HEAD"]);
        git(&repo, &["branch", "release/1.x", &c1]);
        git(&repo, &["tag", "v1-light", &c1]);
        git(&repo, &["tag", "-a", "-m", "annotated", "v2", &c2]);
        git(&repo, &["tag", "-a", "-m", "nested", "v2-nested", "v2"]);
        git(&repo, &["tag", "tree-light", "HEAD^{tree}"]);
        git(&repo, &["tag", "-a", "-m", "tree", "tree-annotated", "HEAD^{tree}"]);
        (repo, c1, c2)
    }

    #[tokio::test]
    async fn reads_branches_and_tags_resolving_annotated_tags() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, c1, c2) = fixture(dir.path());
        let source = GitRefSource::new();
        let results = source.read_refs(&[ds("api", &repo)]).await;
        assert_eq!(results.len(), 1);
        let snapshot = results[0].1.as_ref().unwrap();
        assert_eq!(
            heads(snapshot),
            vec![
                (RefKind::Branch, "refs/heads/main", c2.as_str()),
                (RefKind::Branch, "refs/heads/release/1.x", c1.as_str()),
                (RefKind::Tag, "refs/tags/v1-light", c1.as_str()),
                (RefKind::Tag, "refs/tags/v2", c2.as_str()),
                (RefKind::Tag, "refs/tags/v2-nested", c2.as_str()),
            ]
        );
    }

    #[tokio::test]
    async fn bare_repositories_and_worktrees() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _, c2) = fixture(dir.path());
        let bare = dir.path().join("bare.git");
        git(dir.path(), &["clone", "-q", "--bare", repo.to_str().unwrap(), bare.to_str().unwrap()]);
        let wt = dir.path().join("wt");
        git(&repo, &["worktree", "add", "-q", "-b", "feature", wt.to_str().unwrap()]);

        let source = GitRefSource::new();
        let results = source.read_refs(&[ds("bare", &bare), ds("wt", &wt), ds("repo", &repo)]).await;
        let ids: Vec<&str> = results.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["bare", "wt", "repo"], "results keep the input order");
        let bare_refs = results[0].1.as_ref().unwrap();
        assert!(heads(bare_refs).contains(&(RefKind::Tag, "refs/tags/v2", c2.as_str())));
        let wt_refs = results[1].1.as_ref().unwrap();
        assert!(heads(wt_refs).contains(&(RefKind::Branch, "refs/heads/feature", c2.as_str())));
        assert_eq!(wt_refs, results[2].1.as_ref().unwrap(), "a worktree shares its repository's refs");
    }

    #[tokio::test]
    async fn errors_are_per_datasource_and_say_what_to_fix() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _, _) = fixture(dir.path());
        let missing = dir.path().join("nope");
        let plain = dir.path().join("plain");
        std::fs::create_dir(&plain).unwrap();
        let inside = repo.join("src");
        let mut gh = ds("gh", &repo);
        gh.location = Location::Github(repowatch_core::RepoSlug::parse("octo-org/api").unwrap());

        let results = GitRefSource::new()
            .read_refs(&[ds("missing", &missing), ds("plain", &plain), ds("inside", &inside), gh, ds("ok", &repo)])
            .await;
        let err = |i: usize| results[i].1.as_ref().unwrap_err().message.clone();
        assert_eq!(
            err(0),
            format!("{} does not exist; fix `path` of datasource missing in repowatch.toml", missing.display())
        );
        assert!(
            err(1).starts_with(&format!("{} is not a git repository; fix `path` of datasource plain", plain.display())),
            "{}",
            err(1)
        );
        assert!(err(2).contains("is not a git repository"), "a subdirectory is not its repository: {}", err(2));
        assert!(err(3).starts_with("GitHub datasources need the GitHub source (not built yet)"), "{}", err(3));
        assert!(results[4].1.is_ok());
    }

    #[tokio::test]
    async fn missing_git_and_timeouts_are_clear() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, _, _) = fixture(dir.path());
        let results = GitRefSource::new().with_program("/nonexistent/git").read_refs(&[ds("api", &repo)]).await;
        let message = &results[0].1.as_ref().unwrap_err().message;
        assert!(message.contains("git is not installed or not on PATH"), "{message}");

        // A "git" that hangs.
        let slow = dir.path().join("slow-git");
        std::fs::write(&slow, "#!/bin/sh\nexec sleep 10\n").unwrap();
        let mut perms = std::fs::metadata(&slow).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&slow, perms).unwrap();
        let started = std::time::Instant::now();
        let results = GitRefSource::new()
            .with_program(&slow)
            .with_timeout(Duration::from_millis(300))
            .read_refs(&[ds("api", &repo)])
            .await;
        assert!(started.elapsed() < Duration::from_secs(5));
        let message = &results[0].1.as_ref().unwrap_err().message;
        assert!(message.starts_with("git did not answer within"), "{message}");
    }

    #[tokio::test]
    async fn changed_paths_between_commits() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, c1, c2) = fixture(dir.path());
        let d = ds("api", &repo);
        let source = GitRefSource::new();
        let mut changed = source.changed_paths(&d, &sha(&c1), &sha(&c2)).await.unwrap().unwrap();
        changed.sort();
        assert_eq!(changed, ["a.txt", "src/lib.rs"]);
        assert_eq!(source.changed_paths(&d, &sha(&c2), &sha(&c2)).await.unwrap(), Some(vec![]));
        let unknown = sha(&"0123456789".repeat(4));
        assert_eq!(source.changed_paths(&d, &unknown, &sha(&c2)).await.unwrap(), None);
        assert_eq!(source.changed_paths(&d, &sha(&c1), &unknown).await.unwrap(), None);
        let missing = ds("gone", &dir.path().join("gone"));
        assert!(
            source.changed_paths(&missing, &sha(&c1), &sha(&c2)).await.unwrap_err().message.contains("does not exist")
        );
    }

    #[test]
    fn inherited_git_dir_does_not_redirect() {
        // Run from a git hook, GIT_DIR and GIT_WORK_TREE point at another repository.
        let dir = tempfile::tempdir().unwrap();
        let (repo, _, _) = fixture(dir.path());
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        git(&other, &["init", "-q", "-b", "trunk"]);
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "git::tests::hook_child", "--test-threads=1", "--nocapture"])
            .env("REPOWATCH_TEST_HOOK_REPO", &repo)
            .env("GIT_DIR", other.join(".git"))
            .env("GIT_WORK_TREE", &other)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The child half of `inherited_git_dir_does_not_redirect` (a no-op otherwise).
    #[tokio::test]
    async fn hook_child() {
        let Some(repo) = std::env::var_os("REPOWATCH_TEST_HOOK_REPO") else { return };
        assert!(std::env::var_os("GIT_DIR").is_some());
        let snapshot =
            GitRefSource::new().read_path(&DatasourceId::parse("api").unwrap(), Path::new(&repo)).await.unwrap();
        assert!(snapshot.refs.iter().any(|r| r.name.as_str() == "refs/heads/main"), "{snapshot:?}");
        assert!(!snapshot.refs.iter().any(|r| r.name.as_str() == "refs/heads/trunk"));
    }
}
