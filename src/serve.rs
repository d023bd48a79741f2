//! `feedsmith serve`: bind, build, write, then serve the store over HTTP until SIGINT/SIGTERM.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::config::{own_address_url, Config};
use crate::publish::{Publisher, Report};
use crate::site::ListOptions;

/// Logs a publish: what was built, what failed, how long it took.
pub fn log_report(what: &str, r: &Report) {
    for (route, why) in &r.failures {
        tracing::error!("not published {route}: {why} (previous version kept)");
    }
    for e in &r.sync.errors {
        tracing::error!("{e}");
    }
    tracing::info!(
        "{what}: {} posts, {} documents ({} rendered, {} written, {} removed) in {} ms",
        r.posts,
        r.documents,
        r.rendered,
        r.sync.written,
        r.sync.removed,
        r.elapsed.as_millis()
    );
}

/// Runs the server; returns when it has shut down.
pub fn run(mut config: Config, opts: ListOptions) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listen = config.server.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let own = own_address_url(addr);
        if config.site.url.is_none() {
            config.site.url = Some(own.to_string());
        }
        if !config.paths.posts.is_dir() {
            anyhow::bail!(
                "posts directory {} does not exist",
                config.paths.posts.display()
            );
        }
        let access_log = config.server.access_log;
        let (publisher, report) = tokio::task::block_in_place(|| {
            Publisher::start(config, opts, chrono::Utc::now(), access_log)
        });
        for e in publisher.site.errors.values() {
            tracing::warn!("skipped {e}");
        }
        log_report("initial build", &report);
        let state = Arc::clone(&publisher.state);
        let feed_url = format!("{}rss.xml", own);
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on {own}");
            let _ = writeln!(
                out,
                "serving {} documents; subscribe to {feed_url}",
                report.documents
            );
            let _ = out.flush();
        }
        crate::server::serve(listener, state, crate::server::shutdown_signal()).await?;
        tracing::info!("shut down cleanly");
        drop(publisher);
        Ok(())
    })
}
