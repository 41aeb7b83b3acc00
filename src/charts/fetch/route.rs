//! Where a repository is really fetched from (`[[helm.mirrors]]`) and which
//! credentials (`[[helm.credentials]]`) go with a request.
//!
//! Shared by the HTTP index fetcher and the OCI client so both route and
//! authenticate the same way.

use std::fmt;
use std::net::IpAddr;

use reqwest::{RequestBuilder, Url};

use crate::settings::{HelmSettings, Secret};

/// Mirrors and credentials, read once from the settings.
#[derive(Debug, Default)]
pub(crate) struct Routes {
    /// `(from, to)`, longest `from` first so the most specific mirror wins.
    mirrors: Vec<(String, String)>,
    credentials: Vec<Credential>,
}

/// A repository after mirror rewriting: what to fetch, and what to say in
/// logs and errors (both without userinfo).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Routed {
    /// The location to contact, userinfo removed.
    pub url: String,
    /// The repository as the pin names it, userinfo removed.
    pub original: String,
    /// Set when a mirror rewrote the location.
    pub mirror: Option<String>,
}

#[derive(Debug)]
struct Credential {
    host: String,
    /// When the credential names a port, other ports of the host do not get it.
    port: Option<u16>,
    auth: Auth,
}

/// What a request carries; `Debug` never shows the secret.
#[derive(Clone)]
pub(crate) enum Auth {
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Basic { username, .. } => write!(f, "Basic({username}, [redacted])"),
            Auth::Bearer(_) => f.write_str("Bearer([redacted])"),
        }
    }
}

impl Auth {
    /// reqwest marks these headers sensitive, and drops them on redirects
    /// to another host.
    pub fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Auth::Basic { username, password } => {
                request.basic_auth(username, Some(password.expose()))
            }
            Auth::Bearer(token) => request.bearer_auth(token.expose()),
        }
    }
}

impl Routes {
    pub fn new(settings: &HelmSettings) -> Self {
        let mut mirrors: Vec<(String, String)> = settings
            .mirrors
            .iter()
            .map(|m| (normalize(&m.from), normalize(&m.to)))
            .filter(|(from, to)| !from.is_empty() && !to.is_empty())
            .collect();
        mirrors.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        let credentials = settings
            .credentials
            .iter()
            .filter_map(|c| {
                let auth = if !c.token.is_empty() {
                    Auth::Bearer(c.token.clone())
                } else if !c.username.is_empty() {
                    Auth::Basic {
                        username: c.username.clone(),
                        password: c.password.clone(),
                    }
                } else {
                    return None;
                };
                let (host, port) = host_and_port(&c.host)?;
                Some(Credential { host, port, auth })
            })
            .collect();
        Self {
            mirrors,
            credentials,
        }
    }

    /// Rewrites `repository` with the longest matching mirror prefix. A
    /// prefix matches whole path segments only, so `https://a.io` does not
    /// capture `https://a.io.evil.net`.
    pub fn route(&self, repository: &str) -> Routed {
        let clean = strip_userinfo(repository.trim().trim_end_matches('/'));
        let hit = self.mirrors.iter().find_map(|(from, to)| {
            let rest = clean.strip_prefix(from.as_str())?;
            (rest.is_empty() || rest.starts_with('/')).then(|| format!("{to}{rest}"))
        });
        match hit {
            Some(url) => Routed {
                // Shown in errors and logs: never with a password.
                mirror: Some(strip_userinfo(&url)),
                url,
                original: clean,
            },
            None => Routed {
                url: clean.clone(),
                original: clean,
                mirror: None,
            },
        }
    }

    /// The credential configured for the host (and port) of `url`; a
    /// credential naming a port beats one naming only the host. Never over
    /// plain HTTP to another machine: a pin written `http://` (a typo, or a
    /// hostile commit) must not send a password in clear text.
    pub fn auth_for(&self, url: &Url) -> Option<&Auth> {
        let host = url
            .host_str()?
            .trim_matches(['[', ']'])
            .to_ascii_lowercase();
        if url.scheme() != "https" && !is_loopback(&host) {
            return None;
        }
        let port = url.port_or_known_default();
        let same_host = |c: &&Credential| c.host == host;
        self.credentials
            .iter()
            .filter(same_host)
            .find(|c| c.port.is_some() && c.port == port)
            .or_else(|| {
                self.credentials
                    .iter()
                    .filter(same_host)
                    .find(|c| c.port.is_none())
            })
            .map(|c| &c.auth)
    }
}

/// `oci://` for scheme-less references (Argo CD writes OCI repositories as
/// `ghcr.io/org/charts`), no trailing slash.
fn normalize(location: &str) -> String {
    let location = location.trim().trim_end_matches('/');
    if location.is_empty() || location.contains("://") {
        location.to_owned()
    } else {
        format!("oci://{location}")
    }
}

/// `https://user:pass@host/x` → `https://host/x`, for anything printed or
/// fetched (credentials come from the settings, never from a pin).
pub(crate) fn strip_userinfo(location: &str) -> String {
    let Some(start) = location.find("://").map(|i| i + 3) else {
        return location.to_owned();
    };
    let authority_end = location[start..]
        .find(['/', '?', '#'])
        .map_or(location.len(), |i| start + i);
    match location[start..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &location[..start], &location[start + at + 1..]),
        None => location.to_owned(),
    }
}

/// `ghcr.io`, `https://ghcr.io/`, `127.0.0.1:5000`, `[::1]:5000` →
/// lowercase host and optional port.
fn host_and_port(written: &str) -> Option<(String, Option<u16>)> {
    let rest = written.trim();
    let rest = rest.find("://").map_or(rest, |i| &rest[i + 3..]);
    let authority = rest.split('/').next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(p)),
            _ => (authority, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse().ok()?),
        None => None,
    };
    Some((host.to_ascii_lowercase(), port))
}

/// Loopback registries and repositories (tests, a port-forward, a local
/// mirror) are the only ones reached over plain HTTP without a mirror
/// saying `http://`.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_matches(['[', ']']);
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{HelmCredential, HelmMirror};
    use std::time::Duration;

    fn settings(mirrors: &[(&str, &str)], creds: &[(&str, &str)]) -> HelmSettings {
        HelmSettings {
            mirrors: mirrors
                .iter()
                .map(|(f, t)| HelmMirror {
                    from: (*f).into(),
                    to: (*t).into(),
                })
                .collect(),
            credentials: creds
                .iter()
                .map(|(host, token)| HelmCredential {
                    host: (*host).into(),
                    username: String::new(),
                    password: Secret::default(),
                    password_file: None,
                    token: Secret::new(*token),
                    token_file: None,
                })
                .collect(),
            timeout: Duration::from_secs(1),
            keyring: None,
        }
    }

    #[test]
    fn longest_mirror_prefix_wins_on_segment_boundaries() {
        let routes = Routes::new(&settings(
            &[
                ("https://a.io", "http://m/a"),
                ("https://a.io/deep/", "http://m/deep"),
                ("ghcr.io/org", "http://127.0.0.1:5000/org"),
            ],
            &[],
        ));
        let url = |r: &str| routes.route(r).url;
        assert_eq!(url("https://a.io/charts"), "http://m/a/charts");
        assert_eq!(url("https://a.io/deep/x/"), "http://m/deep/x");
        assert_eq!(url("https://a.io.evil.net/x"), "https://a.io.evil.net/x");
        assert_eq!(url("oci://ghcr.io/org/c"), "http://127.0.0.1:5000/org/c");
        let routed = routes.route("https://u:p@a.io");
        assert_eq!(routed.original, "https://a.io");
        assert_eq!(routed.mirror.as_deref(), Some("http://m/a"));
    }

    #[test]
    fn credentials_match_exact_host_and_port() {
        let routes = Routes::new(&settings(
            &[],
            &[
                ("a.io", "t1"),
                ("127.0.0.1:5000", "t2"),
                ("https://B.io/", "t3"),
            ],
        ));
        let token = |u: &str| match routes.auth_for(&Url::parse(u).unwrap()) {
            Some(Auth::Bearer(s)) => Some(s.expose().to_owned()),
            _ => None,
        };
        assert_eq!(token("https://a.io/x").as_deref(), Some("t1"));
        assert_eq!(token("https://sub.a.io/x"), None);
        assert_eq!(token("http://a.io/x"), None, "never in clear text");
        assert_eq!(token("http://127.0.0.1:5000/v2/").as_deref(), Some("t2"));
        assert_eq!(token("http://127.0.0.1:5001/v2/"), None);
        assert_eq!(token("https://b.io").as_deref(), Some("t3"));
    }

    #[test]
    fn userinfo_is_removed_and_loopback_is_recognised() {
        assert_eq!(strip_userinfo("https://u:p@h/x@y"), "https://h/x@y");
        assert_eq!(strip_userinfo("oci://h/x"), "oci://h/x");
        assert!(is_loopback("127.0.0.1") && is_loopback("[::1]") && is_loopback("LOCALHOST"));
        assert!(!is_loopback("ghcr.io"));
        assert_eq!(
            format!("{:?}", Auth::Bearer(Secret::new("s3cr3t"))),
            "Bearer([redacted])"
        );
    }
}
