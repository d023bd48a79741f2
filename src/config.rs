//! Configuration: `feedsmith.toml`, loaded once and strictly.
//!
//! Every field has a default, so no file is needed at all. An unknown key or a bad value is an
//! error that names the key — a typo must never silently fall back to a default (SPEC §3).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::FixedOffset;
use serde::Deserialize;
use url::Url;

mod cache;
mod activitypub;
mod feeds;
mod hub;
mod icon;
mod ops;
pub use activitypub::{ActivityPubConfig, ActorScope, ActorType};
pub use cache::CacheConfig;
pub use feeds::{ArchiveScope, ContentMode, FeedsConfig};
pub use hub::HubConfig;
use icon::parse_icon;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub site: SiteConfig,
    pub feeds: FeedsConfig,
    pub paths: PathsConfig,
    pub server: ServerConfig,
    pub hub: HubConfig,
    pub limits: crate::post::Limits,
    pub assets: AssetsConfig,
    pub cache: CacheConfig,
    pub activitypub: ActivityPubConfig,
}

/// `[site]`: what the feeds say about the site.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    pub title: String,
    /// Absolute base URL; `None` means "the server's own address".
    pub url: Option<String>,
    pub description: String,
    pub author: String,
    pub language: String,
    /// Fixed UTC offset for dates written without one (`+08:00`, `-0500`, `UTC`).
    pub timezone: String,
    pub permalink: String,
    /// The site's icon (`<link rel="icon">` on every HTML page): an absolute `http`/`https`
    /// (or `data:image/…`) URL, or a file's path under `posts/`, which is served at the same
    /// path under the site URL.
    pub icon: Option<String>,
    /// The site's logo (Atom `logo`, RSS `<image>`, JSON Feed `icon`): the same forms as
    /// `icon`. Atom wants a wider image than the square icon, so the two are separate.
    pub logo: Option<String>,
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            title: "feedsmith".to_owned(),
            url: None,
            description: String::new(),
            author: String::new(),
            language: "en".to_owned(),
            timezone: "+00:00".to_owned(),
            permalink: DEFAULT_PERMALINK.to_owned(),
            icon: None,
            logo: None,
        }
    }
}

/// Jekyll's default permalink pattern.
pub use crate::post::DEFAULT_PERMALINK;

/// 32 MiB: about 1,700 compressed 100 KB feeds.
pub const DEFAULT_COMPRESSED_BUDGET: usize = 32 << 20;

/// One of the three feed formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    /// The format whose media type is `content_type`, if it is a feed's.
    pub fn of_content_type(content_type: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.content_type() == content_type)
    }

    /// The format of the feed at `route` (`…/rss.xml`, `…/atom.xml`, `…/feed.json`), if it
    /// is a feed's route.
    pub fn of_route(route: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| {
            route
                .strip_suffix(f.file_name())
                .is_some_and(|dir| dir.ends_with('/'))
        })
    }

    /// The document's file name inside a scope directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Rss => "rss.xml",
            Format::Atom => "atom.xml",
            Format::Json => "feed.json",
        }
    }

    /// The media type, as autodiscovery links name it.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml",
            Format::Atom => "application/atom+xml",
            Format::Json => "application/feed+json",
        }
    }

    /// A human name for it.
    pub fn label(self) -> &'static str {
        match self {
            Format::Rss => "RSS",
            Format::Atom => "Atom",
            Format::Json => "JSON Feed",
        }
    }

    /// The `Content-Type` the server sends for it.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }
}

/// `[paths]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathsConfig {
    pub posts: PathBuf,
    pub output: PathBuf,
}

impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig {
            posts: PathBuf::from("posts"),
            output: PathBuf::from("feeds"),
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// `Cache-Control: max-age`, seconds.
    pub max_age: u32,
    /// `Cache-Control: max-age` of archive pages, which change only when an old post does.
    pub archive_max_age: u32,
    /// One log line per request (method, path, status, bytes, µs).
    pub access_log: bool,
    /// How long the watcher waits for a burst of file events to end before republishing.
    pub debounce_ms: u64,
    /// How `serve` sees changes under `posts/`.
    pub watch: WatchMode,
    /// MiB of compressed forms (gzip, br, zstd) kept for reuse; beyond it the forms not read
    /// lately are dropped and made again when asked for.
    pub compressed_cache_mb: u64,
    /// Serve with one event loop per core, each connection on the loop of its client's CPU
    /// (`crate::server::steering`), rather than with one multi-thread runtime (the stock
    /// server). Default: on Linux only, where the sockets can be steered.
    pub steering: bool,
    /// Answer a browser's navigation to a feed with an HTML page of it (`feed/view.rs`); feed
    /// readers get the feed either way.
    pub browser_view: bool,
    /// Where the Prometheus metrics are served (`""`: nowhere); see `config::ops`.
    pub metrics_path: String,
    /// Where the load balancers' health check is answered (`""`: nowhere).
    pub health_path: String,
}

/// `server.watch`: kernel file events (falling back to polling when they fail), or polling
/// only (network file systems, where no events arrive for changes made on another machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchMode {
    Auto,
    Poll,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_age: 300,
            archive_max_age: 86_400,
            access_log: true,
            debounce_ms: 20,
            watch: WatchMode::Auto,
            compressed_cache_mb: (DEFAULT_COMPRESSED_BUDGET >> 20) as u64,
            steering: cfg!(target_os = "linux"),
            browser_view: true,
            metrics_path: ops::METRICS_PATH.to_owned(),
            health_path: ops::HEALTH_PATH.to_owned(),
        }
    }
}

/// `[assets]`: the files beside the posts that are served and copied as they are (see
/// `crate::site::assets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssetsConfig {
    /// Largest asset served and copied; a bigger file is reported and left out. The default
    /// (256 MiB) holds an hour-long podcast episode or a short video.
    pub max_bytes: u64,
}

impl Default for AssetsConfig {
    fn default() -> Self {
        AssetsConfig {
            max_bytes: 256 << 20,
        }
    }
}

/// `[limits]`: [`crate::post::Limits`], read as they are (every field has its default).
fn validate_limits(l: &crate::post::Limits) -> Result<()> {
    for (key, value) in [
        ("limits.max_post_bytes", l.max_post_bytes),
        (
            "limits.max_front_matter_bytes",
            l.max_front_matter_bytes as u64,
        ),
        ("limits.max_terms", l.max_terms as u64),
        ("limits.max_feed_bytes_per_post", l.max_feed_bytes_per_post),
    ] {
        if value == 0 {
            bail!("{key}: must be at least 1");
        }
    }
    Ok(())
}

/// The default config file, read when present in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "feedsmith.toml";

impl Config {
    /// The parse context that matches these settings.
    pub fn parse_context(&self) -> crate::post::ParseContext {
        crate::post::ParseContext {
            site_url: self.site_url(),
            timezone: self.timezone(),
            permalink: self.site.permalink.clone(),
            compact: false,
            dict: None,
            limits: self.limits,
            assets: std::sync::Arc::default(),
            lead_image: self.feeds.lead_image,
            excerpt_separator: self.feeds.excerpt_separator.clone(),
        }
    }

    /// Parses a TOML document; errors name the offending key.
    pub fn from_toml(text: &str) -> Result<Config> {
        let config: Config =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))?;
        config.validate()?;
        Ok(config)
    }

    /// Loads `path`; errors name the file and the key.
    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let config: Config = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        config
            .validate()
            .with_context(|| format!("invalid config file {}", path.display()))?;
        Ok(config)
    }

    /// Loads `--config PATH` if given, else `feedsmith.toml` if it exists, else the defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Config> {
        match explicit {
            Some(path) => Config::from_file(path),
            None => {
                let default = Path::new(DEFAULT_CONFIG_FILE);
                if default.is_file() {
                    Config::from_file(default)
                } else {
                    Ok(Config::default())
                }
            }
        }
    }

    /// Checks every value whose type alone does not make it valid.
    pub fn validate(&self) -> Result<()> {
        parse_timezone(&self.site.timezone).context("site.timezone")?;
        if let Some(url) = &self.site.url {
            parse_site_url(url).context("site.url")?;
        }
        let p = self.site.permalink.as_str();
        if !p.starts_with('/') && !crate::post::PERMALINK_STYLES.contains(&p) {
            bail!(
                "site.permalink: must start with '/' or be one of {}, got {p:?}",
                crate::post::PERMALINK_STYLES.join(", ")
            );
        }
        if let Some(icon) = &self.site.icon {
            parse_icon(icon).context("site.icon")?;
        }
        if let Some(logo) = &self.site.logo {
            parse_icon(logo).context("site.logo")?;
        }
        validate_limits(&self.limits)?;
        if self.assets.max_bytes == 0 {
            bail!("assets.max_bytes: must be at least 1");
        }
        if self.site.title.trim().is_empty() {
            bail!("site.title: must not be empty");
        }
        let days = self.feeds.tombstone_days;
        if !(days.is_finite() && (0.0..=36_500.0).contains(&days)) {
            bail!("feeds.tombstone_days: must be between 0 and 36500, got {days}");
        }
        if self.feeds.formats.is_empty() {
            bail!("feeds.formats: must list at least one of \"rss\", \"atom\", \"json\"");
        }
        let mut seen = self.feeds.formats.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != self.feeds.formats.len() {
            bail!("feeds.formats: lists a format twice");
        }
        if self.feeds.archive && self.feeds.limit > 0 && self.feeds.archive_page > self.feeds.limit
        {
            bail!(
                "feeds.archive_page: must be at most feeds.limit ({}), got {}: only complete pages \
                 are archived, and a larger page could leave the posts beyond the feed in none",
                self.feeds.limit,
                self.feeds.archive_page
            );
        }
        if let Some(f) = self
            .feeds
            .archive_formats
            .iter()
            .find(|f| !self.feeds.formats.contains(f))
        {
            bail!(
                "feeds.archive_formats: {} is not in feeds.formats",
                f.file_name()
            );
        }
        if self.server.debounce_ms == 0 || self.server.debounce_ms > 60_000 {
            bail!(
                "server.debounce_ms: must be between 1 and 60000, got {}",
                self.server.debounce_ms
            );
        }
        if self.paths.posts.as_os_str().is_empty() {
            bail!("paths.posts: must not be empty");
        }
        if self.paths.output.as_os_str().is_empty() {
            bail!("paths.output: must not be empty");
        }
        self.hub.validate()?;
        ops::validate(&self.server)?;
        self.cache.validate()?;
        self.activitypub.validate()?;
        Ok(())
    }

    /// The site timezone as a fixed offset (validated at load).
    pub fn timezone(&self) -> FixedOffset {
        parse_timezone(&self.site.timezone).unwrap_or_else(|_| utc())
    }

    /// The formats to write, in a fixed order.
    pub fn formats(&self) -> Vec<Format> {
        Format::ALL
            .into_iter()
            .filter(|f| self.feeds.formats.contains(f))
            .collect()
    }

    /// The site's base URL: `site.url`, or else the server's own address.
    pub fn site_url(&self) -> Url {
        self.site
            .url
            .as_deref()
            .and_then(|u| parse_site_url(u).ok())
            .unwrap_or_else(|| own_address_url(self.server.listen))
    }

    /// A default config pointing at the given directories, for tests.
    pub fn default_for_test(posts: &Path, output: &Path) -> Config {
        let mut config = Config::default();
        config.site.url = Some("https://example.com".to_owned());
        config.paths.posts = posts.to_path_buf();
        config.paths.output = output.to_path_buf();
        config
    }
}

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).expect("zero offset is valid")
}

/// The URL of a listening address: `http://127.0.0.1:8080`, `http://[::1]:8080`.
pub fn own_address_url(addr: SocketAddr) -> Url {
    let host = if addr.ip().is_unspecified() {
        // 0.0.0.0 is not an address a reader can follow; name the loopback instead.
        "localhost".to_owned()
    } else {
        match addr.ip() {
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        }
    };
    Url::parse(&format!("http://{host}:{}/", addr.port())).expect("socket address forms a URL")
}

/// Parses an absolute `http`/`https` URL with a host.
pub fn parse_http_url(text: &str) -> Result<Url> {
    let url = Url::parse(text).with_context(|| format!("not an absolute URL: {text:?}"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        bail!("must be an http or https URL, got {text:?}");
    }
    if url.host_str().is_none_or(str::is_empty) {
        bail!("has no host: {text:?}");
    }
    Ok(url)
}

/// Parses a base URL: [`parse_http_url`] with no query or fragment (the site's URL, a cache to
/// purge).
pub fn parse_site_url(text: &str) -> Result<Url> {
    let url = parse_http_url(text)?;
    if url.query().is_some() || url.fragment().is_some() {
        bail!("must not have a query or fragment: {text:?}");
    }
    Ok(url)
}

/// Parses `+08:00`, `+0800`, `-05`, `Z`, `UTC`.
pub fn parse_timezone(text: &str) -> Result<FixedOffset> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("utc") || t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("gmt")
    {
        return Ok(utc());
    }
    match crate::post::date::parse_offset(t) {
        Some(offset) => Ok(offset),
        None => bail!("expected a fixed UTC offset like \"+08:00\" or \"UTC\", got {text:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tombstone_days_is_a_window_or_off() {
        let days = |toml: &str| Config::from_toml(&format!("[feeds]\n{toml}\n"));
        let window = |toml: &str| days(toml).unwrap().feeds.tombstone_window();
        assert_eq!(window(""), Some(chrono::Duration::days(30)));
        assert_eq!(
            window("tombstone_days = 1"),
            Some(chrono::Duration::days(1))
        );
        assert_eq!(
            window("tombstone_days = 0.5"),
            Some(chrono::Duration::hours(12))
        );
        assert_eq!(window("tombstone_days = 0"), None);
        let err = days("tombstone_days = -1").unwrap_err();
        assert!(
            format!("{err:#}").contains("feeds.tombstone_days"),
            "{err:#}"
        );
    }

    #[test]
    fn empty_file_gives_defaults() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.feeds.limit, 50);
        assert_eq!(c.site.permalink, DEFAULT_PERMALINK);
        assert_eq!(c.server.max_age, 300);
        assert_eq!(c.formats(), Format::ALL.to_vec());
        assert_eq!(c.site_url().as_str(), "http://127.0.0.1:8080/");
        assert!(c.hub.enabled);
        assert_eq!(c.hub.lease_seconds, 864_000);
        assert!(!c.hub.allow_private_callbacks);
        assert_eq!(c.hub.state_dir, Path::new(".feedsmith"));
    }

    #[test]
    fn hub_section_parses() {
        let c = Config::from_toml(
            r#"
[hub]
enabled = false
lease_seconds = 60
min_lease_seconds = 1
max_lease_seconds = 120
max_subscriptions_per_topic = 3
max_subscriptions = 5
allow_private_callbacks = true
state_dir = "/var/lib/feedsmith"
timeout_ms = 500
delivery_attempts = 2
retry_base_ms = 10
"#,
        )
        .unwrap();
        assert!(!c.hub.enabled);
        assert_eq!(c.hub.min_lease_seconds, 1);
        assert_eq!(c.hub.max_subscriptions, 5);
        assert!(c.hub.allow_private_callbacks);
        assert_eq!(c.hub.state_dir, Path::new("/var/lib/feedsmith"));
    }

    #[test]
    fn assets_section_is_strict() {
        assert_eq!(Config::from_toml("").unwrap().assets.max_bytes, 256 << 20);
        let c = Config::from_toml("[assets]\nmax_bytes = 1024\n").unwrap();
        assert_eq!(c.assets.max_bytes, 1024);
        let zero = Config::from_toml("[assets]\nmax_bytes = 0\n").unwrap_err();
        assert!(format!("{zero:#}").contains("assets.max_bytes"), "{zero:#}");
        let typo = Config::from_toml("[assets]\nmax_byte = 10\n").unwrap_err();
        assert!(format!("{typo:#}").contains("max_byte"), "{typo:#}");
    }

    #[test]
    fn full_example_parses() {
        let c = Config::from_toml(
            r#"
[site]
title = "My site"
url = "https://example.com"
description = "d"
author = "a"
language = "zh-CN"
timezone = "+08:00"
permalink = "/:year/:title/"
[feeds]
limit = 0
content = "summary"
formats = ["json", "rss"]
[paths]
posts = "p"
output = "o"
[server]
listen = "0.0.0.0:9000"
max_age = 60
"#,
        )
        .unwrap();
        assert_eq!(c.timezone().local_minus_utc(), 8 * 3600);
        assert_eq!(c.feeds.content, ContentMode::Summary);
        assert_eq!(c.formats(), vec![Format::Rss, Format::Json]);
        assert_eq!(c.site_url().as_str(), "https://example.com/");
    }

    #[test]
    fn archives_default_to_the_whole_site_in_atom() {
        use crate::feed::SiteMeta;
        use crate::site::{Scope, TermKind};
        let tag = Scope::Term(TermKind::Tag, "t".into());
        let category = Scope::Term(TermKind::Category, "c".into());
        let meta = SiteMeta::from_config(&Config::from_toml("").unwrap());
        assert_eq!(meta.archive_page_of(&Scope::All, Format::Atom), Some(25));
        for (scope, format) in [
            (&Scope::All, Format::Rss),
            (&Scope::All, Format::Json),
            (&tag, Format::Atom),
            (&category, Format::Atom),
        ] {
            assert_eq!(
                meta.archive_page_of(scope, format),
                None,
                "{scope:?} {format:?}"
            );
        }
        // No Atom written: the first format that is.
        let c = Config::from_toml("[feeds]\nformats = [\"json\", \"rss\"]\n").unwrap();
        assert_eq!(c.feeds.archived_formats(), vec![Format::Rss]);
        // Chosen.
        let c = Config::from_toml(
            "[feeds]\narchive_scopes = [\"site\", \"tags\"]\narchive_formats = [\"rss\", \"json\"]\n",
        )
        .unwrap();
        let meta = SiteMeta::from_config(&c);
        assert_eq!(meta.archive_page_of(&tag, Format::Json), Some(25));
        assert_eq!(meta.archive_page_of(&tag, Format::Atom), None);
        assert_eq!(meta.archive_page_of(&category, Format::Rss), None);
        // Off, and a format not written.
        let meta = SiteMeta::from_config(&Config::from_toml("[feeds]\narchive = false\n").unwrap());
        assert_eq!(meta.archive_page_of(&Scope::All, Format::Atom), None);
        let err = Config::from_toml("[feeds]\nformats = [\"rss\"]\narchive_formats = [\"atom\"]\n")
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("feeds.archive_formats"),
            "{err:#}"
        );
        let err = Config::from_toml("[feeds]\narchive_scopes = [\"posts\"]\n").unwrap_err();
        assert!(format!("{err:#}").contains("archive_scopes"), "{err:#}");
    }

    #[test]
    fn archive_pages_default_to_half_the_limit_and_never_exceed_it() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.feeds.archive_page_size(), Some(25));
        let c = Config::from_toml("[feeds]\nlimit = 5\n").unwrap();
        assert_eq!(c.feeds.archive_page_size(), Some(3));
        let c = Config::from_toml("[feeds]\nlimit = 5\narchive_page = 5\n").unwrap();
        assert_eq!(c.feeds.archive_page_size(), Some(5));
        let c = Config::from_toml("[feeds]\nlimit = 0\n").unwrap();
        assert_eq!(c.feeds.archive_page_size(), None);
        let c = Config::from_toml("[feeds]\narchive = false\n").unwrap();
        assert_eq!(c.feeds.archive_page_size(), None);
        let err = Config::from_toml("[feeds]\nlimit = 5\narchive_page = 6\n").unwrap_err();
        assert!(format!("{err:#}").contains("feeds.archive_page"), "{err:#}");
        assert_eq!(c.server.archive_max_age, 86_400);
        assert_eq!(c.server.compressed_cache_mb, 32);
        let c = Config::from_toml("[server]\ncompressed_cache_mb = 0\n").unwrap();
        assert_eq!(c.server.compressed_cache_mb, 0);
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::from_toml("[site]\ntitel = \"x\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("titel"), "{err:#}");
        let err = Config::from_toml("[sight]\n").unwrap_err();
        assert!(format!("{err:#}").contains("sight"), "{err:#}");
    }

    #[test]
    fn bad_values_are_named() {
        for (toml, key) in [
            ("[site]\ntimezone = \"Mars/Base\"\n", "site.timezone"),
            ("[site]\nurl = \"example.com\"\n", "site.url"),
            ("[site]\nurl = \"ftp://example.com\"\n", "site.url"),
            ("[site]\npermalink = \"x\"\n", "site.permalink"),
            ("[feeds]\nformats = []\n", "feeds.formats"),
            ("[hub]\nlease_seconds = 10\n", "hub.lease_seconds"),
            ("[hub]\nmin_lease_seconds = 0\n", "hub.min_lease_seconds"),
            (
                "[hub]\nmax_lease_seconds = 99999999999\n",
                "hub.max_lease_seconds",
            ),
            ("[hub]\nmax_subscriptions = 0\n", "hub.max_subscriptions"),
            (
                "[hub]\nmax_subscriptions_per_topic = 0\n",
                "hub.max_subscriptions_per_topic",
            ),
            ("[hub]\nstate_dir = \"\"\n", "hub.state_dir"),
            ("[hub]\ntimeout_ms = 1\n", "hub.timeout_ms"),
            ("[hub]\ndelivery_attempts = 0\n", "hub.delivery_attempts"),
            ("[hub]\nretry_base_ms = 0\n", "hub.retry_base_ms"),
            ("[limits]\nmax_post_bytes = 0\n", "limits.max_post_bytes"),
            (
                "[limits]\nmax_front_matter_bytes = 0\n",
                "limits.max_front_matter_bytes",
            ),
            ("[limits]\nmax_terms = 0\n", "limits.max_terms"),
            (
                "[limits]\nmax_feed_bytes_per_post = 0\n",
                "limits.max_feed_bytes_per_post",
            ),
        ] {
            let err = Config::from_toml(toml).unwrap_err();
            assert!(format!("{err:#}").contains(key), "{toml}: {err:#}");
        }
        for toml in [
            "[feeds]\nlimit = -1\n",
            "[feeds]\ncontent = \"some\"\n",
            "[feeds]\nformats = [\"xml\"]\n",
            "[server]\nlisten = \"nowhere\"\n",
            "[hub]\nenabled = \"yes\"\n",
            "[hub]\nlease_seconds = -1\n",
            "[hub]\nhub_url = \"x\"\n",
            "[limits]\nmax_post_bytes = -5\n",
            "[limits]\nmax_tags = 5\n",
        ] {
            let err = Config::from_toml(toml).unwrap_err();
            let msg = format!("{err:#}");
            let key = toml.lines().nth(1).unwrap().split(' ').next().unwrap();
            assert!(msg.contains(key), "{toml}: {msg}");
        }
    }

    #[test]
    fn limits_section_parses_and_reaches_the_post_reader() {
        let c = Config::from_toml(
            "[limits]\nmax_post_bytes = 1000\nmax_front_matter_bytes = 100\nmax_terms = 3\n\
             max_feed_bytes_per_post = 5000\n",
        )
        .unwrap();
        let l = c.parse_context().limits;
        assert_eq!(
            (l.max_post_bytes, l.max_front_matter_bytes, l.max_terms),
            (1000, 100, 3)
        );
        assert_eq!(l.max_feed_bytes_per_post, 5000);
        let d = Config::from_toml("").unwrap().limits;
        assert_eq!(d, crate::post::Limits::default());
        assert_eq!(d.max_post_bytes, 10 * 1024 * 1024);
    }

    #[test]
    fn watch_mode_is_auto_or_poll() {
        assert_eq!(Config::from_toml("").unwrap().server.watch, WatchMode::Auto);
        let c = Config::from_toml("[server]\nwatch = \"poll\"\n").unwrap();
        assert_eq!(c.server.watch, WatchMode::Poll);
        let err = Config::from_toml("[server]\nwatch = \"inotify\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("watch"), "{err:#}");
    }

    #[test]
    fn steering_is_on_by_default_on_linux_and_a_bool() {
        let default = Config::from_toml("").unwrap().server.steering;
        assert_eq!(default, cfg!(target_os = "linux"));
        let c = Config::from_toml("[server]\nsteering = false\n").unwrap();
        assert!(!c.server.steering);
        let err = Config::from_toml("[server]\nsteering = \"off\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("steering"), "{err:#}");
    }

    #[test]
    fn permalink_styles_are_accepted_by_name() {
        for style in crate::post::PERMALINK_STYLES {
            let c = Config::from_toml(&format!("[site]\npermalink = \"{style}\"\n"))
                .unwrap_or_else(|e| panic!("{style}: {e:#}"));
            assert_eq!(c.site.permalink, style);
        }
        let err = Config::from_toml("[site]\npermalink = \"prettty\"\n").unwrap_err();
        assert!(format!("{err:#}").contains("site.permalink"), "{err:#}");
    }

    #[test]
    fn timezone_forms() {
        assert_eq!(parse_timezone("UTC").unwrap().local_minus_utc(), 0);
        assert_eq!(parse_timezone("+0800").unwrap().local_minus_utc(), 28800);
        assert_eq!(parse_timezone("-05:30").unwrap().local_minus_utc(), -19800);
        assert!(parse_timezone("+25:00").is_err());
    }
}
