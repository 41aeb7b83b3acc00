//! Authenticated registry requests: configured credentials, cached pull
//! tokens, and the Bearer challenge answered with a token from its realm.

use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode, Url};

use super::challenge::{parse_challenge, Challenge, TokenResponse};
use super::{
    lock, OciClient, Registry, DEFAULT_TOKEN_LIFETIME, MAX_JSON_BYTES, TOKEN_EXPIRY_MARGIN,
};
use crate::charts::fetch::route::{is_loopback, Auth};
use crate::charts::fetch::{read_limited, FetchError, FetchErrorKind};
use crate::settings::Secret;

impl OciClient {
    /// A GET with the best credential at hand: a cached token, else the
    /// configured one. A Bearer challenge is answered once with a token.
    pub(super) async fn get(
        &self,
        registry: &Registry,
        url: Url,
        accept: Option<&str>,
    ) -> Result<Response, FetchError> {
        let scope = format!("repository:{}:pull", registry.name);
        let key = format!("{}|{scope}", registry.base);
        let cached = lock(&self.tokens)
            .get(&key)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(token, _)| Auth::Bearer(token.clone()));
        let configured = self.net.routes.auth_for(&registry.base);
        let first = cached.as_ref().or(configured);
        let response = self.send(registry, url.clone(), accept, first).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return checked(registry, response);
        }
        let challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge);
        let auth_error = |m: String| FetchError::new(&registry.routed, FetchErrorKind::Auth(m));
        let Some(Challenge::Bearer {
            realm,
            service,
            scope: asked,
        }) = challenge
        else {
            return Err(auth_error(match configured {
                Some(_) => "the registry rejected the configured credentials".into(),
                None => format!(
                    "the registry requires credentials; none configured for {}",
                    registry.base.host_str().unwrap_or_default()
                ),
            }));
        };
        let (token, lifetime) = self
            .token(
                registry,
                &realm,
                service.as_deref(),
                asked.as_deref().unwrap_or(&scope),
            )
            .await?;
        let token = Secret::new(token);
        let until = Instant::now() + lifetime.saturating_sub(TOKEN_EXPIRY_MARGIN);
        lock(&self.tokens).insert(key, (token.clone(), until));
        let response = self
            .send(registry, url, accept, Some(&Auth::Bearer(token)))
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(auth_error("the registry rejected its own token".into()));
        }
        checked(registry, response)
    }

    async fn send(
        &self,
        registry: &Registry,
        url: Url,
        accept: Option<&str>,
        auth: Option<&Auth>,
    ) -> Result<Response, FetchError> {
        let mut request = self.net.http.get(url);
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        if let Some(auth) = auth {
            request = auth.apply(request);
        }
        request
            .send()
            .await
            .map_err(|e| FetchError::request(&registry.routed, e, self.net.timeout))
    }

    /// Asks the challenge's realm for a pull token. Configured credentials
    /// go along only to a realm on a host they are configured for (or the
    /// registry's own host), and never in clear text to a remote host.
    async fn token(
        &self,
        registry: &Registry,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<(String, Duration), FetchError> {
        let auth_error = |m: String| FetchError::new(&registry.routed, FetchErrorKind::Auth(m));
        let mut url =
            Url::parse(realm).map_err(|e| auth_error(format!("token realm `{realm}`: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(auth_error(format!("token realm `{realm}` is not HTTP")));
        }
        url.query_pairs_mut()
            .extend_pairs(service.map(|s| ("service", s)))
            .append_pair("scope", scope);
        let realm_host = url.host_str().unwrap_or_default();
        let private = url.scheme() == "https" || is_loopback(realm_host);
        let credential = self.net.routes.auth_for(&url).or_else(|| {
            (registry.base.host_str() == Some(realm_host))
                .then(|| self.net.routes.auth_for(&registry.base))
                .flatten()
        });
        let mut request = self.net.http.get(url.clone());
        if let (Some(credential), true) = (credential, private) {
            request = credential.apply(request);
        }
        let shown = format!("{}{}", url.origin().ascii_serialization(), url.path());
        let response = request
            .send()
            .await
            .map_err(|e| FetchError::request(&registry.routed, e, self.net.timeout))?;
        if !response.status().is_success() {
            return Err(auth_error(format!(
                "token endpoint {shown} answered HTTP {}",
                response.status()
            )));
        }
        let body =
            read_limited(&registry.routed, response, MAX_JSON_BYTES, self.net.timeout).await?;
        let answer: TokenResponse = serde_json::from_slice(&body)
            .map_err(|e| auth_error(format!("token endpoint {shown}: {e}")))?;
        let lifetime = answer
            .expires_in
            .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs);
        let token = answer
            .into_token()
            .ok_or_else(|| auth_error(format!("token endpoint {shown} gave no token")))?;
        Ok((token, lifetime))
    }
}

fn checked(registry: &Registry, response: Response) -> Result<Response, FetchError> {
    if response.status().is_success() {
        Ok(response)
    } else {
        Err(FetchError::status(&registry.routed, response.status()))
    }
}
