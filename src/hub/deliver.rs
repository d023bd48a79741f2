//! The hub's outgoing requests: verification of intent (WebSub §5.3), denial notices (§5.2)
//! and content distribution (§7), each one blocking call with a bound on its whole duration,
//! made from the hub's worker threads.
//!
//! Every connection goes through [`AddressFilter`], which refuses a callback whose host
//! resolves to an address the policy forbids *when it is resolved for the connection* — a
//! name cannot pass a check and then resolve elsewhere. Redirects are not followed and no
//! proxy from the environment is used, so a request reaches the callback's own host or none.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};
use url::Url;

use super::request::{self, Mode};
use crate::store::Document;

/// The settings of every request feedsmith makes (the hub's, ActivityPub's, the pings of
/// external hubs, the purges of caches): statuses are answers, not errors; no redirect is
/// followed and no proxy from the environment used; the whole request ends within `timeout`;
/// the `User-Agent` says what it is for (`WebSub hub`, `cache purge`…).
pub fn outgoing(
    timeout: Duration,
    what: &str,
) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(timeout))
        .proxy(None)
        .user_agent(format!(
            "{}/{} ({what}; +{})",
            crate::feed::GENERATOR,
            crate::feed::VERSION,
            crate::feed::GENERATOR_URI
        ))
}

/// Most bytes of a verification answer read (the challenge is 64).
const MAX_ECHO_BYTES: u64 = 4096;

/// Resolves like the default resolver, then refuses the connection when any address is one
/// the callback policy forbids (a name resolving to both a public and a private address is
/// refused as a whole).
#[derive(Debug)]
pub struct AddressFilter {
    pub allow_private: bool,
    inner: DefaultResolver,
}

impl AddressFilter {
    pub fn new(allow_private: bool) -> AddressFilter {
        AddressFilter {
            allow_private,
            inner: DefaultResolver::default(),
        }
    }

    /// The first forbidden address of `addrs`, if any.
    pub fn forbidden<'a>(
        &self,
        addrs: impl IntoIterator<Item = &'a std::net::SocketAddr>,
    ) -> Option<std::net::IpAddr> {
        addrs
            .into_iter()
            .map(std::net::SocketAddr::ip)
            .find(|ip| !request::allowed(*ip, self.allow_private))
    }
}

impl Resolver for AddressFilter {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let addrs = self.inner.resolve(uri, config, timeout)?;
        if let Some(ip) = self.forbidden(addrs.iter()) {
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("the callback resolves to {ip}, a private or link-local address"),
            )));
        }
        Ok(addrs)
    }
}

/// How a delivery went.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// A 2xx.
    Delivered,
    /// `410 Gone`: the subscriber has deleted the subscription (WebSub §7).
    Gone,
    /// Anything else, with why: retried later.
    Failed(String),
}

/// The HTTP client of the hub.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
}

impl Client {
    /// A client whose every request (resolve, connect, send, read) ends within `timeout`.
    pub fn new(timeout: Duration, allow_private: bool) -> Client {
        Client::named(timeout, allow_private, "WebSub hub")
    }

    /// [`Client::new`], saying in its `User-Agent` what it is for (`WebSub hub`,
    /// `ActivityPub`).
    pub fn named(timeout: Duration, allow_private: bool, what: &str) -> Client {
        let config = outgoing(timeout, what).build();
        Client {
            agent: ureq::Agent::with_parts(
                config,
                DefaultConnector::new(),
                AddressFilter::new(allow_private),
            ),
        }
    }

    /// The agent, for requests of other kinds (ActivityPub's), under the same guard.
    pub fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    /// Verification of intent: `GET callback?hub.mode=…&hub.topic=…&hub.challenge=…
    /// [&hub.lease_seconds=…]`, keeping the callback's own query. Verified when the answer is
    /// a 2xx whose body is the challenge (surrounding whitespace aside).
    pub fn verify(
        &self,
        callback: &Url,
        mode: Mode,
        topic: &str,
        lease_seconds: Option<u64>,
    ) -> Result<(), CallbackError> {
        let challenge = challenge()?;
        let mut url = callback.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("hub.mode", mode.as_str());
            q.append_pair("hub.topic", topic);
            q.append_pair("hub.challenge", &challenge);
            if let Some(lease) = lease_seconds {
                q.append_pair("hub.lease_seconds", &lease.to_string());
            }
        }
        let mut resp = self.agent.get(url.as_str()).call()?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(CallbackError::Status(status));
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_ECHO_BYTES)
            .read_to_vec()
            .map_err(CallbackError::Answer)?;
        if body.trim_ascii() != challenge.as_bytes() {
            return Err(CallbackError::NoEcho);
        }
        Ok(())
    }

    /// Denial notice: `GET callback?hub.mode=denied&hub.topic=…&hub.reason=…`. The answer does
    /// not matter.
    pub fn deny(&self, callback: &Url, topic: &str, reason: &str) -> Result<u16, CallbackError> {
        let mut url = callback.clone();
        url.query_pairs_mut()
            .append_pair("hub.mode", "denied")
            .append_pair("hub.topic", topic)
            .append_pair("hub.reason", reason);
        let resp = self.agent.get(url.as_str()).call()?;
        Ok(resp.status().as_u16())
    }

    /// Content distribution: `POST` the whole document with its `Content-Type`, `Link`
    /// headers for the hub and the topic, and `X-Hub-Signature` when there is a secret.
    pub fn deliver(
        &self,
        callback: &Url,
        doc: &Document,
        hub_url: &str,
        self_url: &str,
        secret: Option<&str>,
    ) -> Delivery {
        let bytes = doc.identity_bytes();
        let body: &[u8] = &bytes;
        let mut req = self
            .agent
            .post(callback.as_str())
            .header("Content-Type", doc.content_type)
            .header("Link", format!("<{hub_url}>; rel=\"hub\""))
            .header("Link", format!("<{self_url}>; rel=\"self\""));
        if let Some(secret) = secret {
            req = req.header("X-Hub-Signature", signature(secret.as_bytes(), body));
        }
        match req.send(body) {
            Ok(resp) => match resp.status().as_u16() {
                200..=299 => Delivery::Delivered,
                410 => Delivery::Gone,
                s => Delivery::Failed(format!("the callback answered {s}")),
            },
            Err(e) => Delivery::Failed(e.to_string()),
        }
    }
}

/// Why a request to a subscriber's callback did not do what it was for.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// No answer: refused, timed out, a private address, a TLS failure…
    #[error(transparent)]
    Request(#[from] ureq::Error),
    #[error("the callback answered {0}")]
    Status(u16),
    #[error("reading the answer: {0}")]
    Answer(ureq::Error),
    #[error("the callback did not echo the challenge")]
    NoEcho,
    #[error("no randomness for a challenge: {0}")]
    NoRandomness(getrandom::Error),
}

/// `X-Hub-Signature` of a body: `sha256=` and the hex HMAC-SHA256 of it keyed with the secret.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A fresh random challenge: 32 bytes from the OS, in hex.
pub fn challenge() -> Result<String, CallbackError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(CallbackError::NoRandomness)?;
    Ok(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc_4231() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn challenges_are_fresh() {
        let a = challenge().unwrap();
        let b = challenge().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn the_filter_refuses_forbidden_addresses() {
        let addrs = |list: &[&str]| -> Vec<std::net::SocketAddr> {
            list.iter().map(|a| a.parse().unwrap()).collect()
        };
        let strict = AddressFilter::new(false);
        assert_eq!(
            strict.forbidden(&addrs(&["127.0.0.1:80", "[::1]:80"])),
            None
        );
        assert_eq!(strict.forbidden(&addrs(&["93.184.216.34:443"])), None);
        assert_eq!(
            strict.forbidden(&addrs(&["93.184.216.34:443", "10.0.0.7:443"])),
            Some("10.0.0.7".parse().unwrap())
        );
        assert_eq!(
            strict.forbidden(&addrs(&["[fe80::1]:80"])),
            Some("fe80::1".parse().unwrap())
        );
        let open = AddressFilter::new(true);
        assert_eq!(
            open.forbidden(&addrs(&["10.0.0.7:443", "[fd00::1]:1"])),
            None
        );
        assert!(open.forbidden(&addrs(&["0.0.0.0:80"])).is_some());
    }

    #[test]
    fn a_private_name_is_refused_when_resolved() {
        // `localhost` resolves to loopback, which is allowed; a literal private address in the
        // URI goes through the same resolver and is refused before any connection is made.
        let filter = AddressFilter::new(false);
        let config = ureq::config::Config::default();
        let uri: ureq::http::Uri = "http://10.9.8.7:9/cb".parse().unwrap();
        let err = filter
            .resolve(&uri, &config, NextTimeout::default())
            .unwrap_err();
        assert!(err.to_string().contains("10.9.8.7"), "{err}");
        let uri: ureq::http::Uri = "http://127.0.0.1:9/cb".parse().unwrap();
        assert!(filter
            .resolve(&uri, &config, NextTimeout::default())
            .is_ok());
    }
}
