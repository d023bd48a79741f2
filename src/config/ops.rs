//! `server.metrics_path` and `server.health_path`: where `serve` answers Prometheus and the
//! load balancers. Both live under `/.feedsmith/` by default, a directory no post, page or
//! asset can take (hidden names under `posts/` are neither posts nor assets, and slugs never
//! start with a dot), so a site is free to publish `/metrics` or `/healthz` of its own.

use anyhow::{bail, Result};

use super::ServerConfig;

/// The default `server.metrics_path`.
pub const METRICS_PATH: &str = "/.feedsmith/metrics";
/// The default `server.health_path`.
pub const HEALTH_PATH: &str = "/.feedsmith/healthz";

/// Checks both paths: empty (off), or an absolute path of plain characters, not the hub's
/// route, not the site's root, and not each other.
pub(super) fn validate(server: &ServerConfig) -> Result<()> {
    for (key, path) in [
        ("server.metrics_path", &server.metrics_path),
        ("server.health_path", &server.health_path),
    ] {
        if path.is_empty() {
            continue;
        }
        let plain = path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b));
        let dots = path.split('/').any(|seg| seg == "." || seg == "..");
        if !path.starts_with('/') || path == "/" || !plain || dots || path.contains("//") {
            bail!(
                "{key}: must be \"\" (off) or a path like \"/.feedsmith/metrics\" (letters, \
                 digits, - . _ ~ and /; no . or .. segments), got {path:?}"
            );
        }
        if path == "/hub" {
            bail!("{key}: {path:?} is the WebSub hub's route");
        }
    }
    if !server.metrics_path.is_empty() && server.metrics_path == server.health_path {
        bail!("server.health_path: the same path as server.metrics_path");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn paths_default_off_the_feed_namespace_and_are_checked() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.server.metrics_path, "/.feedsmith/metrics");
        assert_eq!(c.server.health_path, "/.feedsmith/healthz");
        let c = Config::from_toml("[server]\nmetrics_path = \"/metrics\"\nhealth_path = \"\"\n")
            .unwrap();
        assert_eq!(c.server.metrics_path, "/metrics");
        assert_eq!(c.server.health_path, "");
        for (toml, key) in [
            ("metrics_path = \"metrics\"", "server.metrics_path"),
            ("metrics_path = \"/\"", "server.metrics_path"),
            ("metrics_path = \"/a/../b\"", "server.metrics_path"),
            ("metrics_path = \"/m?x=1\"", "server.metrics_path"),
            ("health_path = \"/hub\"", "server.health_path"),
            (
                "health_path = \"/.feedsmith/metrics\"",
                "server.health_path",
            ),
        ] {
            let err = Config::from_toml(&format!("[server]\n{toml}\n")).unwrap_err();
            assert!(format!("{err:#}").contains(key), "{toml}: {err:#}");
        }
    }
}
