//! Published versions for the pins of a scan: each repository is fetched
//! once however many of its charts are pinned, a bounded number at a time,
//! and every (repository, chart) gets releases, an error, or the reason no
//! lookup was attempted. Nothing here aborts the scan.
//!
//! Keep one [`Lookup`] for the life of the process: it holds the index
//! cache that makes a repeated pass cheap.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use super::download::ArchiveCache;
use super::fetch::{FetchError, HelmClient};
use super::oci::{OciChart, OciClient};
use super::{ChartIndex, Release};
use crate::pins::Pin;
use crate::settings::HelmSettings;

/// Repositories fetched at once: enough to overlap network latency, few
/// enough that a scan of a large GitOps repository does not hammer shared
/// mirrors, and that at most this many indexes are in memory together.
pub const MAX_IN_FLIGHT: usize = 4;

/// A chart as a pin records it; the key of [`Lookups`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChartKey {
    pub repository: Option<String>,
    pub chart: Option<String>,
}

impl ChartKey {
    pub fn of(pin: &Pin) -> Self {
        Self {
            repository: pin.repository.clone(),
            chart: pin.chart.clone(),
        }
    }
}

/// What a lookup found for one chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// In the repository's order; OCI releases carry no `created` (ask
    /// [`Lookup::release_time`]).
    Releases(Vec<Release>),
    /// The repository or registry could not be read, or lacks the chart.
    Failed(String),
    /// Nothing to ask (a git repository, an unresolved template, …).
    NoLookup(String),
}

impl Outcome {
    pub fn releases(&self) -> Option<&[Release]> {
        match self {
            Outcome::Releases(r) => Some(r),
            _ => None,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Releases(r) => write!(f, "{} releases", r.len()),
            Outcome::Failed(reason) => f.write_str(reason),
            Outcome::NoLookup(why) => write!(f, "no lookup: {why}"),
        }
    }
}

/// Outcomes of one pass, per (repository, chart).
#[derive(Debug, Default, Clone)]
pub struct Lookups(BTreeMap<ChartKey, Outcome>);

impl Lookups {
    pub fn get(&self, pin: &Pin) -> Option<&Outcome> {
        self.0.get(&ChartKey::of(pin))
    }

    pub fn get_key(&self, key: &ChartKey) -> Option<&Outcome> {
        self.0.get(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ChartKey, &Outcome)> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl IntoIterator for Lookups {
    type Item = (ChartKey, Outcome);
    type IntoIter = std::collections::btree_map::IntoIter<ChartKey, Outcome>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Where a pin's versions are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A Helm repository with an `index.yaml` (`https://`, `http://`,
    /// `file:///`), normalised without a trailing `/`.
    Index {
        repository: String,
        chart: String,
    },
    Oci(OciChart),
}

/// Classifies what a pin records; `Err` says why there is nothing to ask.
pub fn source(repository: Option<&str>, chart: Option<&str>) -> Result<Source, String> {
    let chart = chart
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or("the chart is not resolved")?;
    if chart.starts_with("oci://") {
        return OciChart::new(None, chart).map(Source::Oci);
    }
    if chart.contains("://") || chart.starts_with('.') || chart.starts_with('/') {
        return Err(format!(
            "chart `{chart}` is a path or URL, not a name in a repository"
        ));
    }
    let repository = repository
        .map(|r| r.trim().trim_end_matches('/'))
        .filter(|r| !r.is_empty())
        .ok_or("no repository")?;
    if repository.contains("{{") || repository.contains("${") {
        return Err(format!(
            "repository `{repository}` is an unresolved template"
        ));
    }
    if repository.starts_with('@') || repository.starts_with("alias:") {
        return Err(format!(
            "repository `{repository}` is an alias of a local Helm setup"
        ));
    }
    if is_git(repository) {
        return Err("the repository is a git repository, not a chart repository".into());
    }
    let index = || Source::Index {
        repository: repository.to_owned(),
        chart: chart.to_owned(),
    };
    match repository.split_once("://") {
        Some(("http" | "https", _)) => Ok(index()),
        // A path named by a commit is not read on the service's machine
        // (`file:///dev/zero`, a FIFO, probing paths through errors): local
        // indexes are reached only through an operator's mirror.
        Some(("file", _)) => Err(
            "file:// repositories named in the repository are not read; \
             route them with [[helm.mirrors]] to = \"file:///…\""
                .into(),
        ),
        Some(("oci", _)) => OciChart::new(Some(repository), chart).map(Source::Oci),
        Some((scheme, _)) => Err(format!("`{scheme}://` repositories are not supported")),
        // Argo CD writes OCI repositories without a scheme: `ghcr.io/org`.
        None if looks_like_registry(repository) => {
            OciChart::new(Some(repository), chart).map(Source::Oci)
        }
        None => Err(format!("repository `{repository}` is not a URL")),
    }
}

fn is_git(repository: &str) -> bool {
    const GIT_HOSTS: [&str; 4] = ["github.com", "gitlab.com", "bitbucket.org", "dev.azure.com"];
    let lower = repository.to_ascii_lowercase();
    let host = lower
        .split_once("://")
        .map_or(lower.as_str(), |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    lower.ends_with(".git")
        || lower.starts_with("git@")
        || ["ssh://", "git://", "git+"]
            .iter()
            .any(|p| lower.starts_with(p))
        || GIT_HOSTS.contains(&host)
}

/// `ghcr.io/org`, `127.0.0.1:5000/charts`, `localhost/x`: a host first.
fn looks_like_registry(repository: &str) -> bool {
    let host = repository.split('/').next().unwrap_or_default();
    !host.is_empty() && (host.contains('.') || host.contains(':') || host == "localhost")
}

/// Fetches releases for pins; see the module docs.
#[derive(Debug)]
pub struct Lookup {
    helm: HelmClient,
    oci: OciClient,
    /// The last few chart archives downloaded (see `charts::download`).
    archives: ArchiveCache,
}

/// Owned, so the lookup future is `Send` for any caller (a borrowed job
/// trips the compiler's higher-ranked lifetime check in async traits).
enum Job {
    Index(String, BTreeSet<String>),
    Oci(OciChart),
}

enum Done {
    Index(String, Result<ChartIndex, FetchError>),
    Oci(OciChart, Result<Vec<Release>, FetchError>),
}

impl Lookup {
    pub fn new(settings: &HelmSettings) -> Result<Self, FetchError> {
        let transport = super::fetch::Transport::new(settings)?;
        Ok(Self {
            helm: HelmClient::with(transport.clone()),
            oci: OciClient::with(transport),
            archives: ArchiveCache::default(),
        })
    }

    /// For one-shot commands: no index bodies kept for revalidation.
    pub fn one_shot(settings: &HelmSettings) -> Result<Self, FetchError> {
        let mut lookup = Self::new(settings)?;
        lookup.helm = lookup.helm.one_shot();
        Ok(lookup)
    }

    /// Releases for every distinct (repository, chart) among `pins`.
    pub async fn releases<'p>(&self, pins: impl IntoIterator<Item = &'p Pin>) -> Lookups {
        let mut sources: BTreeMap<ChartKey, Result<Source, String>> = BTreeMap::new();
        for pin in pins {
            if let Entry::Vacant(slot) = sources.entry(ChartKey::of(pin)) {
                let key = slot.key();
                let found = source(key.repository.as_deref(), key.chart.as_deref());
                slot.insert(found);
            }
        }
        let mut indexes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut charts: BTreeSet<OciChart> = BTreeSet::new();
        for found in sources.values() {
            match found {
                Ok(Source::Index { repository, chart }) => {
                    indexes
                        .entry(repository.clone())
                        .or_default()
                        .insert(chart.clone());
                }
                Ok(Source::Oci(chart)) => {
                    charts.insert(chart.clone());
                }
                Err(_) => {}
            }
        }
        let jobs: Vec<Job> = indexes
            .into_iter()
            .map(|(repo, charts)| Job::Index(repo, charts))
            .chain(charts.into_iter().map(Job::Oci))
            .collect();
        let done: Vec<Done> = futures_util::stream::iter(jobs.into_iter().map(|job| self.run(job)))
            .buffer_unordered(MAX_IN_FLIGHT)
            .collect()
            .await;
        let mut index_results = BTreeMap::new();
        let mut oci_results = BTreeMap::new();
        for result in done {
            match result {
                Done::Index(repo, found) => {
                    index_results.insert(repo, found.map_err(|e| e.to_string()));
                }
                Done::Oci(chart, found) => {
                    oci_results.insert(chart, found.map_err(|e| e.to_string()));
                }
            }
        }
        let missing = || Outcome::Failed("lookup did not run".into());
        // Releases are moved out of the parsed index for the last key that
        // asks for them and copied only for the others, so a scan holds
        // one copy of each chart's releases, not two.
        let mut askers: BTreeMap<(String, String), usize> = BTreeMap::new();
        for found in sources.values() {
            if let Ok(Source::Index { repository, chart }) = found {
                *askers
                    .entry((repository.clone(), chart.clone()))
                    .or_default() += 1;
            }
        }
        let outcomes = sources
            .into_iter()
            .map(|(key, found)| {
                let outcome = match found {
                    Err(why) => Outcome::NoLookup(why),
                    Ok(Source::Index { repository, chart }) => {
                        match index_results.get_mut(&repository) {
                            Some(Ok(index)) => match index.get(&chart) {
                                Some(_) => {
                                    let left = askers
                                        .get_mut(&(repository.clone(), chart.clone()))
                                        .map(|n| {
                                            *n = n.saturating_sub(1);
                                            *n
                                        })
                                        .unwrap_or(0);
                                    let releases = if left == 0 {
                                        index.remove(&chart).unwrap_or_default()
                                    } else {
                                        index.get(&chart).cloned().unwrap_or_default()
                                    };
                                    Outcome::Releases(releases)
                                }
                                None => Outcome::Failed(format!(
                                    "chart repository {}: no chart `{chart}`",
                                    super::fetch::route::strip_userinfo(&repository)
                                )),
                            },
                            Some(Err(e)) => Outcome::Failed(e.clone()),
                            None => missing(),
                        }
                    }
                    Ok(Source::Oci(chart)) => match oci_results.get(&chart) {
                        Some(Ok(releases)) => Outcome::Releases(releases.clone()),
                        Some(Err(e)) => Outcome::Failed(e.clone()),
                        None => missing(),
                    },
                };
                (key, outcome)
            })
            .collect();
        Lookups(outcomes)
    }

    async fn run(&self, job: Job) -> Done {
        match job {
            Job::Index(repo, charts) => {
                let found = self.helm.index(&repo, &charts).await;
                if let Err(e) = &found {
                    // Said once by the caller, per chart (report line, `chart lookup failed`).
                    tracing::debug!(repo = %e.target.repository, error = %e, "chart repository lookup failed");
                }
                Done::Index(repo, found)
            }
            Job::Oci(chart) => {
                let found = self.oci.versions(&chart).await;
                if let Err(e) = &found {
                    tracing::debug!(repo = %chart.reference(), error = %e, "registry lookup failed");
                }
                Done::Oci(chart, found)
            }
        }
    }

    /// When `release` of `key` was published: from the index when it says,
    /// else (OCI) from the registry, one request per call, so ask only for
    /// the candidates a minimum release age has to judge.
    pub async fn release_time(
        &self,
        key: &ChartKey,
        release: &Release,
    ) -> Result<Option<DateTime<Utc>>, FetchError> {
        if release.created.is_some() {
            return Ok(release.created);
        }
        match source(key.repository.as_deref(), key.chart.as_deref()) {
            Ok(Source::Oci(chart)) => self.oci.release_time(&chart, &release.version).await,
            _ => Ok(None),
        }
    }

    pub fn helm(&self) -> &HelmClient {
        &self.helm
    }

    pub fn oci(&self) -> &OciClient {
        &self.oci
    }

    pub(crate) fn archives(&self) -> &ArchiveCache {
        &self.archives
    }
}

#[cfg(test)]
mod tests;
