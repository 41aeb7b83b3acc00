//! The fake's repository: a real bare repository driven with the git CLI,
//! so trees, commits and ancestry behave exactly as git says.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct BareRepo {
    pub path: PathBuf,
    /// Scratch space for temporary index files.
    scratch: PathBuf,
}

/// One commit as `git log` describes it.
pub struct LoggedCommit {
    pub sha: String,
    pub tree: String,
    pub parents: Vec<String>,
    /// The committer date, ISO 8601 with the committer's offset.
    pub committed_at: String,
    pub message: String,
}

/// What a failed git command said, for the fake's 4xx answers.
pub type GitResult<T> = Result<T, String>;

impl BareRepo {
    pub fn init(dir: &Path) -> Self {
        let path = dir.join("repo.git");
        let scratch = dir.join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        let out = Command::new("git")
            .args(["init", "--quiet", "--bare", "--initial-branch=main"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "git init: {out:?}");
        Self { path, scratch }
    }

    pub fn git(
        &self,
        args: &[&str],
        stdin: Option<&[u8]>,
        index: Option<&Path>,
    ) -> GitResult<Vec<u8>> {
        let mut cmd = Command::new("git");
        cmd.arg("--git-dir")
            .arg(&self.path)
            .args(args)
            .env("GIT_AUTHOR_NAME", "chartpilot-test")
            .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
            .env("GIT_COMMITTER_NAME", "chartpilot-test")
            .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", &self.scratch)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(index) = index {
            cmd.env("GIT_INDEX_FILE", index);
        }
        let mut child = cmd.spawn().map_err(|e| e.to_string())?;
        let mut pipe = child.stdin.take().unwrap();
        if let Some(input) = stdin {
            pipe.write_all(input).map_err(|e| e.to_string())?;
        }
        drop(pipe);
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    }

    fn text(&self, args: &[&str]) -> GitResult<String> {
        Ok(String::from_utf8_lossy(&self.git(args, None, None)?)
            .trim()
            .to_owned())
    }

    /// The object a revision names, peeled to `kind` (`commit`, `tree`).
    pub fn resolve(&self, rev: &str, kind: &str) -> Option<String> {
        self.text(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{{kind}}}"),
        ])
        .ok()
    }

    pub fn object_type(&self, sha: &str) -> Option<String> {
        self.text(&["cat-file", "-t", sha]).ok()
    }

    pub fn branch(&self, name: &str) -> Option<String> {
        self.resolve(&format!("refs/heads/{name}"), "commit")
    }

    /// Every branch with its commit.
    pub fn branches(&self) -> Vec<(String, String)> {
        self.text(&[
            "for-each-ref",
            "--format=%(refname) %(objectname)",
            "refs/heads/",
        ])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (r, sha) = l.split_once(' ')?;
            Some((r.strip_prefix("refs/heads/")?.to_owned(), sha.to_owned()))
        })
        .collect()
    }

    pub fn delete_branch(&self, name: &str) {
        self.text(&["update-ref", "-d", &format!("refs/heads/{name}")])
            .unwrap();
    }

    pub fn set_branch(&self, name: &str, sha: &str) {
        self.text(&["update-ref", &format!("refs/heads/{name}"), sha])
            .unwrap();
    }

    /// A tree: `base` (a tree id, or none) with `files` written, each
    /// `(path, mode, content)`.
    pub fn write_tree(
        &self,
        base: Option<&str>,
        files: &[(String, String, Vec<u8>)],
    ) -> GitResult<String> {
        let index = self
            .scratch
            .join(format!("index-{}", uuid::Uuid::new_v4().simple()));
        let result = (|| {
            match base {
                Some(tree) => self.git(&["read-tree", tree], None, Some(&index))?,
                None => self.git(&["read-tree", "--empty"], None, Some(&index))?,
            };
            for (path, mode, content) in files {
                let blob = self.git(&["hash-object", "-w", "--stdin"], Some(content), None)?;
                let blob = String::from_utf8_lossy(&blob).trim().to_owned();
                let info = format!("{mode},{blob},{path}");
                self.git(
                    &["update-index", "--add", "--cacheinfo", &info],
                    None,
                    Some(&index),
                )?;
            }
            let tree = self.git(&["write-tree"], None, Some(&index))?;
            Ok(String::from_utf8_lossy(&tree).trim().to_owned())
        })();
        let _ = std::fs::remove_file(&index);
        result
    }

    /// `base` (a tree id) without `paths`.
    pub fn tree_without(&self, base: &str, paths: &[&str]) -> GitResult<String> {
        let index = self
            .scratch
            .join(format!("index-{}", uuid::Uuid::new_v4().simple()));
        let result = (|| {
            self.git(&["read-tree", base], None, Some(&index))?;
            // Mode 0 removes an entry; `--force-remove` wants a work tree.
            let removals: String = paths
                .iter()
                .map(|p| format!("0 {}\t{p}\n", "0".repeat(40)))
                .collect();
            self.git(
                &["update-index", "--index-info"],
                Some(removals.as_bytes()),
                Some(&index),
            )?;
            let tree = self.git(&["write-tree"], None, Some(&index))?;
            Ok(String::from_utf8_lossy(&tree).trim().to_owned())
        })();
        let _ = std::fs::remove_file(&index);
        result
    }

    pub fn commit_tree(&self, tree: &str, parents: &[String], message: &str) -> GitResult<String> {
        let mut args = vec!["commit-tree".to_owned(), tree.to_owned()];
        for p in parents {
            args.extend(["-p".to_owned(), p.clone()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.git(&args, Some(message.as_bytes()), None)?;
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
    }

    pub fn is_ancestor(&self, old: &str, new: &str) -> bool {
        self.git(&["merge-base", "--is-ancestor", old, new], None, None)
            .is_ok()
    }

    pub fn file(&self, rev: &str, path: &str) -> Option<Vec<u8>> {
        let spec = format!("{rev}:{path}");
        (self.object_type(&spec).as_deref() == Some("blob"))
            .then(|| self.git(&["cat-file", "blob", &spec], None, None).ok())
            .flatten()
    }

    /// The mode git records for `path` at `rev` (`100644`, `100755`, ...).
    pub fn mode(&self, rev: &str, path: &str) -> Option<String> {
        let out = self.text(&["ls-tree", rev, "--", path]).ok()?;
        out.split_whitespace().next().map(str::to_owned)
    }

    pub fn changed_files(&self, from: &str, to: &str) -> Vec<String> {
        let out = self.text(&["diff", "--name-only", from, to]).unwrap();
        out.lines().map(str::to_owned).collect()
    }

    /// The commits reachable from `rev`, newest first as `git log` orders
    /// them, committed at or after `since` (unix seconds): at most `max`.
    /// Commits reachable from `rev`, newest first; only those that changed
    /// `path` when given (as GitHub's `path` filter).
    pub fn log(
        &self,
        rev: &str,
        since: Option<i64>,
        max: usize,
        path: Option<&str>,
    ) -> GitResult<Vec<LoggedCommit>> {
        let mut args = vec![
            "log".to_owned(),
            "--no-color".to_owned(),
            format!("--max-count={max}"),
            "--format=%H%x1f%T%x1f%P%x1f%cI%x1f%B%x1e".to_owned(),
        ];
        // git reads `--since=0` (and `@0`) as "now": the epoch, as GitHub
        // reads it, is no bound at all.
        if let Some(since) = since.filter(|s| *s > 0) {
            args.push(format!("--since=@{since}"));
        }
        args.extend([rev.to_owned(), "--".to_owned()]);
        args.extend(path.map(str::to_owned));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self.git(&args, None, None)?;
        let text = String::from_utf8_lossy(&out);
        let mut commits = Vec::new();
        for record in text.split('\u{1e}') {
            let record = record.trim_start_matches('\n');
            if record.is_empty() {
                continue;
            }
            let fields: Vec<&str> = record.splitn(5, '\u{1f}').collect();
            let [sha, tree, parents, date, message] = fields[..] else {
                return Err(format!("git log wrote `{record}`"));
            };
            commits.push(LoggedCommit {
                sha: sha.to_owned(),
                tree: tree.to_owned(),
                parents: parents.split_whitespace().map(str::to_owned).collect(),
                committed_at: date.to_owned(),
                message: message.to_owned(),
            });
        }
        Ok(commits)
    }

    pub fn merge_base(&self, a: &str, b: &str) -> Option<String> {
        self.text(&["merge-base", a, b]).ok()
    }

    /// `(status letter, path)` for every file that differs between two
    /// commits, renames not detected.
    /// The hunks of `path` between two commits, as GitHub's comparison
    /// lists them (no `diff --git`, `---` or `+++` lines); None for a
    /// binary file.
    pub fn patch(&self, from: &str, to: &str, path: &str) -> Option<String> {
        let out = self
            .git(
                &[
                    "diff",
                    "--no-color",
                    "--no-ext-diff",
                    "-U3",
                    from,
                    to,
                    "--",
                    path,
                ],
                None,
                None,
            )
            .ok()?;
        let text = String::from_utf8(out).ok()?;
        let start = text.find("\n@@").map(|i| i + 1)?;
        Some(text[start..].trim_end_matches('\n').to_owned())
    }

    pub fn name_status(&self, from: &str, to: &str) -> GitResult<Vec<(char, String)>> {
        let out = self.git(
            &[
                "diff-tree",
                "-r",
                "-z",
                "--no-renames",
                "--name-status",
                from,
                to,
            ],
            None,
            None,
        )?;
        let text = String::from_utf8_lossy(&out);
        let mut parts = text.split('\0').filter(|p| !p.is_empty());
        let mut files = Vec::new();
        while let (Some(status), Some(path)) = (parts.next(), parts.next()) {
            files.push((status.chars().next().unwrap_or('M'), path.to_owned()));
        }
        Ok(files)
    }

    /// `git archive` as GitHub's tarball: gzip, one `owner-name-sha/` folder.
    pub fn tarball(&self, sha: &str, prefix: &str) -> GitResult<Vec<u8>> {
        self.git(
            &[
                "archive",
                "--format=tar.gz",
                &format!("--prefix={prefix}/"),
                sha,
            ],
            None,
            None,
        )
    }
}
