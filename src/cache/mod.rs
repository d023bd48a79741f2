//! Shared caches in front of `serve` (Varnish, nginx `proxy_cache`, a CDN): what the responses
//! tell them, and how they are told of changes.
//!
//! - [`Policy`]: the `Cache-Control` every cacheable response carries — the reader's
//!   `max-age` (`server.max_age`, `server.archive_max_age`) and the shared caches' own
//!   directives (`[cache]`: `s-maxage`, `stale-while-revalidate`, `stale-if-error`).
//! - [`keys`]: the `Surrogate-Key` of each response, naming the scopes its bytes come from,
//!   so a cache can drop every URL of a scope (its feeds in every format, coding and
//!   representation, archive pages, browser views, term page) with one ban.
//! - [`purge`]: after each publish, one `BAN` per cache naming the keys that changed, sent
//!   from threads of its own (retried, bounded, never holding up a republish).
//!
//! It reads configuration and routes, and is called by the publisher's outlet (`serve`) and the
//! server; it calls neither.

pub mod keys;
pub mod purge;

use hyper::header::HeaderValue;

use crate::config::CacheConfig;

pub use purge::Purger;

/// The `Cache-Control` directives for shared caches, added to each response's `max-age`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// `s-maxage`, when shared caches may hold documents longer (or shorter) than readers.
    pub s_maxage: Option<u32>,
    /// `stale-while-revalidate`; 0 leaves it out.
    pub stale_while_revalidate: u32,
    /// `stale-if-error`; 0 leaves it out.
    pub stale_if_error: u32,
}

impl Policy {
    /// The policy `[cache]` asks for.
    pub fn from_config(config: &CacheConfig) -> Policy {
        Policy {
            s_maxage: config.effective_s_maxage(),
            stale_while_revalidate: config.stale_while_revalidate,
            stale_if_error: config.stale_if_error,
        }
    }

    /// `Cache-Control` for a document readers may keep `max_age` seconds:
    /// `public, max-age=300, s-maxage=86400, stale-while-revalidate=30, stale-if-error=86400`
    /// (the shared caches' directives present only when set).
    pub fn directives(&self, max_age: u32) -> String {
        use std::fmt::Write;
        let mut out = format!("public, max-age={max_age}");
        if let Some(s) = self.s_maxage {
            let _ = write!(out, ", s-maxage={s}");
        }
        if self.stale_while_revalidate > 0 {
            let _ = write!(
                out,
                ", stale-while-revalidate={}",
                self.stale_while_revalidate
            );
        }
        if self.stale_if_error > 0 {
            let _ = write!(out, ", stale-if-error={}", self.stale_if_error);
        }
        out
    }

    /// [`Policy::directives`] as a header value, built once per setting (not per response).
    pub fn header(&self, max_age: u32) -> HeaderValue {
        // Digits, letters, `=`, `,`, `-` and spaces only: always a valid header value.
        HeaderValue::from_str(&self.directives(max_age))
            .unwrap_or_else(|_| HeaderValue::from_static("public, max-age=300"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_alone_without_shared_directives() {
        assert_eq!(Policy::default().directives(300), "public, max-age=300");
    }

    #[test]
    fn defaults_add_stale_directives_and_no_s_maxage() {
        let p = Policy::from_config(&CacheConfig::default());
        assert_eq!(
            p.header(300),
            "public, max-age=300, stale-while-revalidate=30, stale-if-error=86400"
        );
    }

    #[test]
    fn purge_targets_give_shared_caches_a_day() {
        let config = CacheConfig {
            purge: vec!["http://127.0.0.1:6081".into()],
            stale_while_revalidate: 0,
            ..CacheConfig::default()
        };
        let p = Policy::from_config(&config);
        assert_eq!(
            p.header(60),
            "public, max-age=60, s-maxage=86400, stale-if-error=86400"
        );
        // The archive pages' own max-age, with the same shared directives.
        assert_eq!(
            p.header(86_400),
            "public, max-age=86400, s-maxage=86400, stale-if-error=86400"
        );
    }
}
