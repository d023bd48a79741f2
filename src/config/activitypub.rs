//! `[activitypub]`: the site, and each category and tag, as ActivityPub actors a Fediverse
//! account can follow (see `crate::activitypub`).

use anyhow::{bail, Result};
use serde::Deserialize;

/// `[activitypub]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActivityPubConfig {
    /// Serve the actors, WebFinger and NodeInfo (`serve` only; `build` writes no ActivityPub
    /// documents). On by default: the point is a site followable as it is. The actors' key is
    /// made on the first start (an RSA 2048 key, ~0.1–1 s) and kept in `hub.state_dir`.
    pub enabled: bool,
    /// The site actor's user name (`@{name}@{host}`). Empty: derived from the site, see
    /// [`ActivityPubConfig::site_name`].
    pub name: String,
    /// Which scopes are actors: the whole site, each category, each tag. Default: all three —
    /// an actor costs nothing until it is asked for (its documents are made on request).
    pub actors: Vec<ActorScope>,
    /// The actors' type. `Service` (the default): Mastodon shows it as an automated account
    /// that posts, which is what a feed is. `Group` makes Mastodon treat it as a group that
    /// boosts its members' posts, which a feed has none of.
    pub actor_type: ActorType,
    /// Failed deliveries in a row (retried with `hub.retry_base_ms` doubling, capped at
    /// 10 minutes) before an inbox is dropped with its followers. 20: about two and a half
    /// hours of a server down.
    pub delivery_attempts: u32,
    /// The least time between two deliveries to one inbox: a burst of new posts reaches a
    /// server at this pace (250: four a second).
    pub delivery_interval_ms: u64,
}

impl Default for ActivityPubConfig {
    fn default() -> Self {
        ActivityPubConfig {
            enabled: true,
            name: String::new(),
            actors: vec![ActorScope::Site, ActorScope::Categories, ActorScope::Tags],
            actor_type: ActorType::Service,
            delivery_attempts: 20,
            delivery_interval_ms: 250,
        }
    }
}

/// A kind of scope `activitypub.actors` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActorScope {
    /// All posts.
    Site,
    Categories,
    Tags,
}

/// `activitypub.actor_type`: the ActivityStreams actor type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ActorType {
    Service,
    Group,
}

impl ActorType {
    /// The `type` of the actor document.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::Service => "Service",
            ActorType::Group => "Group",
        }
    }
}

/// The longest user name: Mastodon's limit for remote accounts is far above; 64 keeps
/// `acct:` URIs readable.
const MAX_NAME: usize = 64;

impl ActivityPubConfig {
    /// Checks the values; errors name the key.
    pub(super) fn validate(&self) -> Result<()> {
        if !(1..=100).contains(&self.delivery_attempts) {
            bail!(
                "activitypub.delivery_attempts: must be between 1 and 100, got {}",
                self.delivery_attempts
            );
        }
        if self.delivery_interval_ms > 60_000 {
            bail!(
                "activitypub.delivery_interval_ms: must be at most 60000, got {}",
                self.delivery_interval_ms
            );
        }
        if self.enabled && self.actors.is_empty() {
            bail!(
                "activitypub.actors: must name at least one of \"site\", \"categories\", \"tags\" \
                 (or set activitypub.enabled = false)"
            );
        }
        if !self.name.is_empty() && !is_user_name(&self.name) {
            bail!(
                "activitypub.name: must be 1 to {MAX_NAME} of a-z, 0-9, '_', '-', '.' (not at \
                 either end), got {:?}",
                self.name
            );
        }
        Ok(())
    }

    /// The site actor's user name: `activitypub.name`, else the first label of the site's
    /// host (`news` for `news.example.com`, `example` for `example.com`), else — a host that
    /// is an IP address or has no letters — a slug of the title, else `site`.
    pub fn site_name(&self, site_url: &url::Url, title: &str) -> String {
        if !self.name.is_empty() {
            return self.name.clone();
        }
        let from_host = match site_url.host() {
            Some(url::Host::Domain(d)) => d.split('.').next().map(str::to_ascii_lowercase),
            _ => None,
        };
        let from_title = || {
            let slug = crate::slug::slugify(title);
            Some(slug).filter(|s| is_user_name(s))
        };
        from_host
            .filter(|h| is_user_name(h) && h.bytes().any(|b| b.is_ascii_alphabetic()))
            .filter(|h| h != "localhost" && h != "www")
            .or_else(from_title)
            .unwrap_or_else(|| "site".to_owned())
    }

    /// Whether scopes of this kind are actors.
    pub fn has(&self, scope: ActorScope) -> bool {
        self.actors.contains(&scope)
    }
}

/// Whether `name` is a user name every Fediverse server accepts in `acct:` (Mastodon's rule:
/// ASCII letters, digits and `_`, with `.` and `-` inside).
pub fn is_user_name(name: &str) -> bool {
    let ok = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    let bytes = name.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            bytes.len() <= MAX_NAME
                && ok(first)
                && ok(last)
                && bytes.iter().all(|&b| ok(b) || b == b'.' || b == b'-')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn defaults_are_every_scope_as_a_service() {
        let c = Config::from_toml("").unwrap().activitypub;
        assert!(c.enabled);
        assert!(
            c.has(ActorScope::Site) && c.has(ActorScope::Categories) && c.has(ActorScope::Tags)
        );
        assert_eq!(c.actor_type, ActorType::Service);
        let c = Config::from_toml(
            "[activitypub]\nenabled = false\nname = \"news\"\nactors = [\"site\", \"tags\"]\n\
             actor_type = \"Group\"\n",
        )
        .unwrap()
        .activitypub;
        assert!(!c.enabled && !c.has(ActorScope::Categories) && c.has(ActorScope::Tags));
        assert_eq!(c.actor_type.as_str(), "Group");
        assert_eq!(c.site_name(&url("https://example.com/"), "x"), "news");
    }

    #[test]
    fn bad_values_are_named() {
        for toml in [
            "[activitypub]\nname = \"News Site\"\n",
            "[activitypub]\nname = \"-news\"\n",
            "[activitypub]\nactors = [\"posts\"]\n",
            "[activitypub]\nactor_type = \"Person\"\n",
            "[activitypub]\nenable = true\n",
            "[activitypub]\nactors = []\n",
            "[activitypub]\ndelivery_attempts = 0\n",
            "[activitypub]\ndelivery_interval_ms = 60001\n",
        ] {
            let err = Config::from_toml(toml).unwrap_err();
            let msg = format!("{err:#}");
            let key = toml.lines().nth(1).unwrap().split(' ').next().unwrap();
            assert!(msg.contains(key), "{toml}: {msg}");
        }
    }

    #[test]
    fn the_site_name_comes_from_the_host_then_the_title() {
        let c = ActivityPubConfig::default();
        assert_eq!(c.site_name(&url("https://news.example.com/"), "T"), "news");
        assert_eq!(
            c.site_name(&url("https://Example.com:8443/"), "T"),
            "example"
        );
        assert_eq!(
            c.site_name(&url("http://127.0.0.1:8080/"), "My Blog"),
            "my-blog"
        );
        assert_eq!(c.site_name(&url("http://localhost:8080/"), "Blog"), "blog");
        assert_eq!(c.site_name(&url("http://[::1]:8080/"), "厦门日报"), "site");
    }

    #[test]
    fn user_names() {
        for ok in ["news", "a", "rust_lang", "a.b-c", "x1"] {
            assert!(is_user_name(ok), "{ok}");
        }
        for bad in ["", "News", "a b", ".a", "a-", "厦门", &"a".repeat(65)] {
            assert!(!is_user_name(bad), "{bad}");
        }
    }
}
