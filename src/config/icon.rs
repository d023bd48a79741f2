//! `site.icon` and `site.logo`: the site's icon (linked from every HTML page and every feed)
//! and logo (every feed) — an absolute URL, or a file under `posts/`, served (by the post
//! assets) at the same path under the site URL. Read strictly, as every key is: a path that
//! would leave `posts/` or name a hidden file is an error, not a broken link on every page.

use anyhow::{bail, Context, Result};
use url::Url;

use super::Config;

/// `site.icon`, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Icon {
    /// An absolute URL, used as it is.
    Url(String),
    /// A file's path relative to `posts/` (`/`-separated, no leading `/`).
    Path(String),
}

/// Reads `site.icon`: an absolute `http`/`https` URL, a `data:image/…` URL (an icon with no
/// file at all), or the path of a file under `posts/` (a leading `/` is allowed: post assets
/// are served at their path under the site root). A path must stay inside `posts/` and name
/// no hidden file, which the site would not serve.
pub fn parse_icon(text: &str) -> Result<Icon> {
    let t = text.trim();
    if t.is_empty() {
        bail!("must not be empty (leave it out for no icon)");
    }
    if t.contains(char::is_control) {
        bail!("must not hold control characters, got {t:?}");
    }
    if t.starts_with("data:") {
        if !t.starts_with("data:image/") {
            bail!("a data: URL must be an image (data:image/…), got {t:?}");
        }
        return Ok(Icon::Url(t.to_owned()));
    }
    // `scheme:` before any `/` makes it a URL; anything else is a path.
    if t.split_once(':').is_some_and(|(s, _)| !s.contains('/')) {
        let url = Url::parse(t).with_context(|| format!("not an absolute URL: {t:?}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
            bail!("must be an http or https URL with a host, got {t:?}");
        }
        return Ok(Icon::Url(url.to_string()));
    }
    if t.starts_with("//") {
        bail!("a URL needs its scheme (https://…), got {t:?}");
    }
    let path = t.trim_start_matches('/');
    if path.is_empty() || path.ends_with('/') {
        bail!("must name a file under the posts directory, got {t:?}");
    }
    for seg in path.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." || seg.contains(['\\', '\0']) {
            bail!("must be a plain path inside the posts directory, got {t:?}");
        }
        if seg.starts_with('.') {
            bail!("hidden files under the posts directory are not served, got {t:?}");
        }
    }
    Ok(Icon::Path(path.to_owned()))
}

impl Config {
    /// The absolute URL of `site.icon`, if set: the URL as given, or a path under `posts/`
    /// resolved against the site URL (where post assets are served).
    pub fn icon_url(&self) -> Option<String> {
        self.image_url(self.site.icon.as_deref()?)
    }

    /// The absolute URL of `site.logo`, if set, resolved as [`Config::icon_url`] is.
    pub fn logo_url(&self) -> Option<String> {
        self.image_url(self.site.logo.as_deref()?)
    }

    fn image_url(&self, text: &str) -> Option<String> {
        let icon = parse_icon(text).ok()?;
        Some(match icon {
            Icon::Url(url) => url,
            Icon::Path(path) => format!(
                "{}/{}",
                self.site_url().as_str().trim_end_matches('/'),
                crate::slug::encode_path(&path).trim_start_matches('/')
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_icon_is_a_url_or_a_path_under_posts() {
        let icon = |text: &str| {
            let c = Config::from_toml(&format!(
                "[site]\nurl = \"https://example.com/blog/\"\nicon = {text:?}\n"
            ));
            c.map(|c| c.icon_url().unwrap_or_default())
                .map_err(|e| format!("{e:#}"))
        };
        assert_eq!(Config::from_toml("").unwrap().icon_url(), None);
        assert_eq!(
            icon("https://cdn.example.org/i.png?v=2").unwrap(),
            "https://cdn.example.org/i.png?v=2"
        );
        assert_eq!(
            icon("images/icon.png").unwrap(),
            "https://example.com/blog/images/icon.png"
        );
        assert_eq!(
            icon("/favicon.ico").unwrap(),
            "https://example.com/blog/favicon.ico"
        );
        assert_eq!(
            icon("图标 1.png").unwrap(),
            "https://example.com/blog/%E5%9B%BE%E6%A0%87%201.png"
        );
        assert!(icon("data:image/svg+xml,<svg/>").is_ok());
        let logo = Config::from_toml(
            "[site]\nurl = \"https://example.com/\"\nlogo = \"images/logo.png\"\n",
        );
        assert_eq!(
            logo.unwrap().logo_url().as_deref(),
            Some("https://example.com/images/logo.png")
        );
        let bad = Config::from_toml("[site]\nlogo = \"../logo.png\"\n").unwrap_err();
        assert!(format!("{bad:#}").contains("site.logo"), "{bad:#}");
        for bad in [
            "",
            "../icon.png",
            "a/../../icon.png",
            "//cdn.example.org/i.png",
            "ftp://example.org/i.png",
            "javascript:alert(1)",
            "data:text/html,<script>",
            ".hidden/icon.png",
            "images/",
            "a\\b.png",
            "i\n.png",
        ] {
            let err = icon(bad).unwrap_err();
            assert!(err.contains("site.icon"), "{bad:?}: {err}");
        }
    }
}
