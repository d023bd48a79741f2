//! Post pages: which post's page is at each permalink (the newest post claiming a route gets
//! it).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use super::Publisher;
use crate::feed::{modified, page};
use crate::post::Post;

/// Orders the posts claiming one page route: newest first, then by path.
pub(super) type ClaimOrder = (std::cmp::Reverse<DateTime<Utc>>, Arc<std::path::Path>);

/// The route a listed post's page claims (the bytes live in the store).
pub(super) struct PageClaim {
    pub(super) route: Arc<str>,
    /// Newest first: the newest post claiming a route gets it.
    pub(super) order: ClaimOrder,
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
                    // The page changed when its post's dates say or when its file did,
                    // whichever is later.
                    let t = modified::post_time(post);
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
