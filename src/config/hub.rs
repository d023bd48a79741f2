//! `[hub]`: the WebSub hub built into `serve` (see `crate::hub`), and the external hubs every
//! feed advertises beside it or instead of it (pinged after each change, see `crate::hub::ping`).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// `[hub]`: the WebSub hub built into `serve` (see `crate::hub`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubConfig {
    /// Serve a hub at `/hub` and advertise it in every feed (`serve` only).
    pub enabled: bool,
    /// External WebSub hubs (absolute `http`/`https` URLs), advertised in every feed beside
    /// the built-in one (or alone) and told of every changed feed (`hub.mode=publish`).
    pub external: Vec<String>,
    /// Lease granted when a subscriber asks for none, seconds.
    pub lease_seconds: u64,
    /// Shortest lease granted; shorter requests are raised to it.
    pub min_lease_seconds: u64,
    /// Longest lease granted; longer requests are cut to it.
    pub max_lease_seconds: u64,
    /// Subscriptions one feed may have.
    pub max_subscriptions_per_topic: usize,
    /// Subscriptions the hub holds in all.
    pub max_subscriptions: usize,
    /// Whether callbacks may be on private (10/8, 172.16/12, 192.168/16, fc00::/7) or
    /// link-local (169.254/16, fe80::/10) addresses. Loopback is always allowed.
    pub allow_private_callbacks: bool,
    /// Where the subscriptions are kept across restarts (not under `paths.output`).
    pub state_dir: PathBuf,
    /// Bound on each outgoing request (verification, delivery, a ping of an external hub),
    /// milliseconds.
    pub timeout_ms: u64,
    /// Attempts at delivering one update before the subscriber is dropped (and at pinging an
    /// external hub before that ping is given up).
    pub delivery_attempts: u32,
    /// Wait before the first retry, doubled after every failure (capped), milliseconds.
    pub retry_base_ms: u64,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            enabled: true,
            external: Vec::new(),
            lease_seconds: 864_000,
            min_lease_seconds: 300,
            max_lease_seconds: 2_592_000,
            max_subscriptions_per_topic: 1_000,
            max_subscriptions: 10_000,
            allow_private_callbacks: false,
            state_dir: PathBuf::from(".feedsmith"),
            timeout_ms: 10_000,
            delivery_attempts: 5,
            retry_base_ms: 1_000,
        }
    }
}

/// The longest lease `hub.max_lease_seconds` may allow: one year.
pub const MAX_LEASE_LIMIT: u64 = 365 * 24 * 3600;

impl HubConfig {
    /// Checks the values; errors name the key.
    pub(super) fn validate(&self) -> Result<()> {
        let h = self;
        for (i, url) in h.external.iter().enumerate() {
            parse_external(url).with_context(|| format!("hub.external[{i}]"))?;
            if h.external[..i].contains(url) {
                bail!("hub.external[{i}]: {url:?} is listed twice");
            }
        }
        if h.min_lease_seconds == 0 {
            bail!("hub.min_lease_seconds: must be at least 1");
        }
        if h.max_lease_seconds < h.min_lease_seconds || h.max_lease_seconds > MAX_LEASE_LIMIT {
            bail!(
                "hub.max_lease_seconds: must be between hub.min_lease_seconds ({}) and {MAX_LEASE_LIMIT}, got {}",
                h.min_lease_seconds,
                h.max_lease_seconds
            );
        }
        if h.lease_seconds < h.min_lease_seconds || h.lease_seconds > h.max_lease_seconds {
            bail!(
                "hub.lease_seconds: must be between hub.min_lease_seconds ({}) and hub.max_lease_seconds ({}), got {}",
                h.min_lease_seconds,
                h.max_lease_seconds,
                h.lease_seconds
            );
        }
        if h.max_subscriptions == 0 {
            bail!("hub.max_subscriptions: must be at least 1");
        }
        if h.max_subscriptions_per_topic == 0 {
            bail!("hub.max_subscriptions_per_topic: must be at least 1");
        }
        if h.state_dir.as_os_str().is_empty() {
            bail!("hub.state_dir: must not be empty");
        }
        if !(100..=300_000).contains(&h.timeout_ms) {
            bail!(
                "hub.timeout_ms: must be between 100 and 300000, got {}",
                h.timeout_ms
            );
        }
        if !(1..=20).contains(&h.delivery_attempts) {
            bail!(
                "hub.delivery_attempts: must be between 1 and 20, got {}",
                h.delivery_attempts
            );
        }
        if !(1..=3_600_000).contains(&h.retry_base_ms) {
            bail!(
                "hub.retry_base_ms: must be between 1 and 3600000, got {}",
                h.retry_base_ms
            );
        }
        Ok(())
    }
}

/// An external hub's URL: absolute `http`/`https` with a host, no fragment, no user name or
/// password (it is published in every feed). Loopback and private addresses are allowed: the
/// operator chose it.
pub fn parse_external(text: &str) -> Result<url::Url> {
    let url = super::parse_http_url(text)?;
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        bail!("must have no fragment, user name or password (it is published): {text:?}");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn external_hubs_are_absolute_http_urls_listed_once() {
        let c = Config::from_toml(
            "[hub]\nexternal = [\"https://pubsubhubbub.appspot.com/\", \"http://127.0.0.1:9/hub\"]\n",
        )
        .unwrap();
        assert_eq!(c.hub.external.len(), 2);
        assert!(Config::from_toml("").unwrap().hub.external.is_empty());
        for bad in [
            "\"hub.example\"",
            "\"ftp://hub.example/\"",
            "\"https://user:secret@hub.example/\"",
            "\"https://hub.example/#x\"",
            "\"https://a.example/\", \"https://a.example/\"",
        ] {
            let err = Config::from_toml(&format!("[hub]\nexternal = [{bad}]\n")).unwrap_err();
            assert!(
                format!("{err:#}").contains("hub.external["),
                "{bad}: {err:#}"
            );
        }
        let err = Config::from_toml("[hub]\nexternal = \"https://a.example/\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("external"), "{err:#}");
    }
}
