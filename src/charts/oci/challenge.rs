//! Registry authentication: the `WWW-Authenticate: Bearer` challenge and
//! the token endpoint it points to (Docker token protocol, which ghcr.io,
//! Docker Hub, ECR Public, ACR and `registry:2` all speak).

use std::collections::HashMap;

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Challenge {
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    /// `Basic …` or anything else: only configured credentials help.
    Other(String),
}

/// Parses `Bearer realm="…",service="…",scope="repository:x:pull"`. Values
/// may be quoted (and then hold commas, as multi-action scopes do) or bare.
pub(super) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Some(Challenge::Other(scheme.to_owned()));
    }
    let mut params = parse_params(params);
    let realm = params.remove("realm")?;
    Some(Challenge::Bearer {
        realm,
        service: params.remove("service"),
        scope: params.remove("scope"),
    })
}

fn parse_params(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                value.push(c);
            }
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
}

/// The token endpoint's answer: `token`, or OAuth2's `access_token`.
#[derive(Debug, serde::Deserialize)]
pub(super) struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

impl TokenResponse {
    pub fn into_token(self) -> Option<String> {
        self.token
            .filter(|t| !t.is_empty())
            .or(self.access_token.filter(|t| !t.is_empty()))
    }
}

/// `Link: </v2/x/tags/list?last=b&n=2>; rel="next"` → the target, if a
/// next page is announced.
pub(super) fn next_link(header: &str) -> Option<&str> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("rel") && v.trim().trim_matches('"') == "next"
            })
        });
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then_some(target)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_with_quoted_commas_and_bare_values() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.io/token",service="registry.io",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.io/token".into(),
                service: Some("registry.io".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        let c = parse_challenge("bearer realm=https://a/t, service=s");
        assert!(
            matches!(c, Some(Challenge::Bearer { ref realm, ref service, scope: None })
            if realm == "https://a/t" && service.as_deref() == Some("s"))
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="x""#),
            Some(Challenge::Other("Basic".into()))
        );
        assert_eq!(parse_challenge("Bearer service=x"), None);
        assert_eq!(parse_challenge(""), Some(Challenge::Other(String::new())));
    }

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?last=x&n=2>; rel="next""#),
            Some("/v2/a/tags/list?last=x&n=2")
        );
        assert_eq!(
            next_link(r#"<https://a/p>; rel=prev, <https://a/n>; rel=next"#),
            Some("https://a/n")
        );
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn token_or_access_token() {
        let t: TokenResponse = serde_json::from_str(r#"{"access_token":"b","token":""}"#).unwrap();
        assert_eq!(t.into_token().as_deref(), Some("b"));
        let t: TokenResponse = serde_json::from_str(r#"{"token":"a","access_token":"b"}"#).unwrap();
        assert_eq!(t.into_token().as_deref(), Some("a"));
    }
}
