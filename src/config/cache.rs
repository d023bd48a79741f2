//! `[cache]`: how shared caches in front of `serve` (Varnish, nginx, a CDN) may hold the
//! documents, and which of them to tell when documents change (see `crate::cache`).

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use url::Url;

/// `[cache]`: the shared-cache half of `Cache-Control`, and the caches purged on change.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// `s-maxage`, seconds: how long a shared cache may hold a document without asking.
    /// Unset: a day ([`PURGED_S_MAXAGE`]) when `purge` names caches — they are told of every
    /// change, so holding long costs no staleness — and none otherwise (shared caches use
    /// `max-age`, as browsers do).
    pub s_maxage: Option<u32>,
    /// `stale-while-revalidate`, seconds: a cache may answer with a just-expired copy while it
    /// fetches the new one. Short: it is how late an unpurged edit may be seen beyond
    /// `max-age`. 0 leaves it out.
    pub stale_while_revalidate: u32,
    /// `stale-if-error`, seconds: a cache may answer with an expired copy while `serve` is
    /// down or failing. Generous: old feeds beat no feeds. 0 leaves it out.
    pub stale_if_error: u32,
    /// Caches to tell of every change (`http://127.0.0.1:6081`): each gets one `BAN` request
    /// per republish naming the surrogate keys that changed (see `deploy/varnish.vcl`).
    pub purge: Vec<String>,
    /// Bound on each purge request (connect, send, answer), milliseconds.
    pub purge_timeout_ms: u64,
    /// Attempts at each purge before it is given up (logged; the cache then serves the old
    /// copy until it expires).
    pub purge_attempts: u32,
}

/// The `s-maxage` used when caches are purged and none is set: a day.
pub const PURGED_S_MAXAGE: u32 = 86_400;

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            s_maxage: None,
            stale_while_revalidate: 30,
            stale_if_error: 86_400,
            purge: Vec::new(),
            purge_timeout_ms: 2_000,
            purge_attempts: 5,
        }
    }
}

/// The longest any of the durations may be: a year.
const MAX_SECONDS: u32 = 365 * 86_400;

impl CacheConfig {
    /// The `s-maxage` in effect (see [`CacheConfig::s_maxage`]).
    pub fn effective_s_maxage(&self) -> Option<u32> {
        self.s_maxage
            .or_else(|| (!self.purge.is_empty()).then_some(PURGED_S_MAXAGE))
    }

    /// The purge targets, parsed (checked by [`CacheConfig::validate`]).
    pub fn purge_urls(&self) -> Vec<Url> {
        self.purge
            .iter()
            .filter_map(|u| super::parse_site_url(u).ok())
            .collect()
    }

    /// Checks the values; errors name the key.
    pub fn validate(&self) -> Result<()> {
        for (key, value) in [
            ("cache.s_maxage", self.s_maxage.unwrap_or(0)),
            ("cache.stale_while_revalidate", self.stale_while_revalidate),
            ("cache.stale_if_error", self.stale_if_error),
        ] {
            if value > MAX_SECONDS {
                bail!("{key}: must be at most {MAX_SECONDS} (a year), got {value}");
            }
        }
        for (i, url) in self.purge.iter().enumerate() {
            super::parse_site_url(url).with_context(|| format!("cache.purge[{i}]"))?;
        }
        if !(100..=60_000).contains(&self.purge_timeout_ms) {
            bail!(
                "cache.purge_timeout_ms: must be between 100 and 60000, got {}",
                self.purge_timeout_ms
            );
        }
        if !(1..=20).contains(&self.purge_attempts) {
            bail!(
                "cache.purge_attempts: must be between 1 and 20, got {}",
                self.purge_attempts
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn defaults_keep_shared_caches_on_max_age_without_purge_targets() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.cache.effective_s_maxage(), None);
        assert_eq!(c.cache.stale_while_revalidate, 30);
        assert_eq!(c.cache.stale_if_error, 86_400);
        assert!(c.cache.purge.is_empty());
    }

    #[test]
    fn purge_targets_lengthen_s_maxage_unless_set() {
        let c = Config::from_toml("[cache]\npurge = [\"http://127.0.0.1:6081\"]\n").unwrap();
        assert_eq!(c.cache.effective_s_maxage(), Some(86_400));
        assert_eq!(c.cache.purge_urls().len(), 1);
        let c = Config::from_toml("[cache]\npurge = [\"http://127.0.0.1:6081\"]\ns_maxage = 600\n")
            .unwrap();
        assert_eq!(c.cache.effective_s_maxage(), Some(600));
        let c = Config::from_toml("[cache]\ns_maxage = 0\n").unwrap();
        assert_eq!(c.cache.effective_s_maxage(), Some(0));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (toml, key) in [
            ("purge = [\"ftp://127.0.0.1/\"]", "cache.purge[0]"),
            (
                "purge = [\"http://a/\", \"127.0.0.1:6081\"]",
                "cache.purge[1]",
            ),
            ("purge = [\"http://a/?x=1\"]", "cache.purge[0]"),
            ("stale_if_error = 99999999", "cache.stale_if_error"),
            ("s_maxage = 99999999", "cache.s_maxage"),
            ("purge_timeout_ms = 5", "cache.purge_timeout_ms"),
            ("purge_attempts = 0", "cache.purge_attempts"),
            ("purge_method = \"PURGE\"", "purge_method"),
        ] {
            let err = Config::from_toml(&format!("[cache]\n{toml}\n")).unwrap_err();
            assert!(format!("{err:#}").contains(key), "{toml}: {err:#}");
        }
    }
}
