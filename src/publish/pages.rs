//! Post pages: which post's page is at each permalink (the newest post claiming a route gets
//! it), and since when pages look the way this process renders them.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

use super::{system_time, Publisher};
use crate::feed::{page, SiteMeta};
use crate::output;
use crate::post::{ParseContext, Post};

/// Orders the posts claiming one page route: newest first, then by path.
pub(super) type ClaimOrder = (std::cmp::Reverse<DateTime<Utc>>, Arc<std::path::Path>);

/// The route a listed post's page claims (the bytes live in the store).
pub(super) struct PageClaim {
    pub(super) route: Arc<str>,
    /// Newest first: the newest post claiming a route gets it.
    pub(super) order: ClaimOrder,
}

/// Where `serve` keeps the post pages' epoch (see [`page_epoch`]).
pub const PAGE_EPOCH_FILE: &str = "page-epoch";

/// A post every page renderer is tried on: its page changes when the page template, the
/// site's settings or the renderer do, and then every post page has changed.
const CANARY_POST: &str = "---\ntitle: Canary <&>\ndate: 2021-12-21 08:10:27 +0800\n\
categories: c\ntags: [t, 标签]\nauthor: {name: A, email: a@example.com}\n\
source_url: https://example.org/a\nimage: /i.png\n---\n<p>Body <a href=\"/x\">link</a></p>\n";

/// The time since which post pages look the way this process renders them: kept in
/// `{state_dir}/page-epoch` with a hash of the canary page, and moved to now when that hash
/// changes (new settings, new version). A post page's `Last-Modified` is never earlier, so a
/// page whose bytes changed because the site did never answers `If-Modified-Since` with 304.
/// If the file cannot be read or written, the epoch is now: more full responses, never a
/// stale one.
pub fn page_epoch(meta: &SiteMeta, ctx: &ParseContext, state_dir: &std::path::Path) -> SystemTime {
    let now = SystemTime::now();
    let Ok(canary) = crate::post::parse_post(
        std::path::Path::new("canary.md"),
        CANARY_POST.as_bytes(),
        crate::post::body::Markup::Html,
        ctx,
    ) else {
        return now;
    };
    let hash = format!(
        "{:032x}",
        crate::store::content_hash(&page::render(meta, &canary))
    );
    let path = state_dir.join(PAGE_EPOCH_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let mut parts = text.split_whitespace();
        if parts.next() == Some(hash.as_str()) {
            if let Some(secs) = parts.next().and_then(|t| t.parse::<u64>().ok()) {
                return (UNIX_EPOCH + Duration::from_secs(secs)).min(now);
            }
        }
    }
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let saved = output::Atomic::STATE.write(&path, format!("{hash} {secs}\n").as_bytes());
    if let Err(e) = saved {
        tracing::warn!(
            "{}: not written ({e}); post pages get Last-Modified = now at every start",
            path.display()
        );
    }
    UNIX_EPOCH + Duration::from_secs(secs)
}

impl Publisher {
    /// The post whose page is at `route` (the newest post claiming it).
    fn page_winner(&self, route: &str) -> Option<&Arc<Post>> {
        self.claims
            .get(route)
            .and_then(|c| c.first())
            .and_then(|(_, src)| self.listing.get(src))
    }

    /// Re-renders the pages of the posts that entered, left or changed in the listing, and
    /// drops pages no post claims any more. Two posts claiming one permalink: the newer one
    /// gets it. Returns the pages to upsert (route, post, Last-Modified) and the routes to
    /// remove.
    #[allow(clippy::type_complexity)]
    pub(super) fn refresh_pages(
        &mut self,
        changed: &BTreeSet<PathBuf>,
    ) -> (Vec<(String, Arc<Post>, SystemTime)>, Vec<String>) {
        let mut dirty: BTreeSet<String> = BTreeSet::new();
        for source in changed {
            if let Some(old) = self.pages.remove(source.as_path()) {
                if let Some(c) = self.claims.get_mut(&*old.route) {
                    c.remove(&old.order);
                }
                dirty.insert(old.route.to_string());
            }
            if let Some(post) = self.listing.get(source) {
                // One allocation of the path and of the route, shared by both maps.
                let route: Arc<str> = Arc::from(page::page_route(post));
                let path: Arc<std::path::Path> = Arc::from(source.as_path());
                let order = (
                    std::cmp::Reverse(post.date.with_timezone(&Utc)),
                    Arc::clone(&path),
                );
                self.claims
                    .entry(Arc::clone(&route))
                    .or_default()
                    .insert(order.clone());
                dirty.insert(route.to_string());
                self.pages.insert(path, PageClaim { route, order });
            }
        }
        let mut upserts = Vec::new();
        let mut removals = Vec::new();
        for route in dirty {
            if let Some(claims) = self.claims.get(route.as_str()).filter(|c| c.len() > 1) {
                let mut sources = claims.iter().map(|(_, src)| src.display().to_string());
                let winner = sources.next().unwrap_or_default();
                tracing::warn!(
                    "{winner}: its permalink {route} is also claimed by {}; the newest post's \
                     page is served there (give the others a `permalink`)",
                    sources.collect::<Vec<_>>().join(", ")
                );
            }
            match self.page_winner(&route) {
                Some(post) => {
                    if page::is_reserved_route(&route) {
                        tracing::warn!(
                            "{}: its permalink {route} is the address of a feed or site \
                             document, which is served there instead of the post's page",
                            post.source.display()
                        );
                    }
                    // The page changed when its post's dates say, when its file did, or when
                    // the site's pages did: whichever is latest.
                    let t = system_time(&post.updated.max(post.date).with_timezone(&Utc))
                        .max(post.modified.unwrap_or(UNIX_EPOCH))
                        .max(self.page_epoch);
                    upserts.push((route, Arc::clone(post), t));
                }
                None => {
                    self.claims.remove(route.as_str());
                    removals.push(route);
                }
            }
        }
        (upserts, removals)
    }
}
