//! Deletions while serving: which posts were published, which of them left, and for how long
//! that is announced (RFC 6721 tombstones in the Atom feeds, `410 Gone` at their pages).
//!
//! What was published is kept in `{state_dir}/deletions.json` with the tombstones, so a post
//! removed while `serve` was not running is announced at the next start, and a restart keeps
//! the tombstones it had. `build` neither reads nor writes it (its feeds carry no tombstones).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::feed::{atom_id, modified, page, terms_of, SiteMeta};
use crate::output::Atomic;
use crate::post::Post;
use crate::site::deleted::{Record, Tombstone, Tombstones};
use crate::site::{Delta, Listing, Scope};
use crate::slug::slugify;

/// The deletions file, under the state directory.
pub const DELETIONS_STATE_FILE: &str = "deletions.json";

/// What the deletions file holds.
#[derive(Debug, Default, Deserialize)]
struct Saved {
    /// The site URL the ids were made with.
    base: String,
    published: Vec<Record>,
    tombstones: Vec<Tombstone>,
}

/// [`Saved`], borrowed from the publisher's record to be written.
#[derive(Serialize)]
struct SavedRef<'a> {
    base: &'a str,
    published: Vec<&'a Record>,
    tombstones: Vec<&'a Tombstone>,
}

/// The publisher's record of published posts and of the tombstones of those that left.
pub(super) struct Deletions {
    /// How long a tombstone lasts; `None`: deletions are not tracked at all.
    window: Option<Duration>,
    path: PathBuf,
    /// The posts directory: when a post left is read off it.
    root: PathBuf,
    /// The site URL (saved with the ids, which are made from it).
    base: String,
    /// Every listed post's record, by source.
    published: HashMap<PathBuf, Record>,
    /// How many listed posts have each Atom id (a post moved to another file keeps its id:
    /// it did not leave).
    ids: HashMap<String, usize>,
    tombstones: Tombstones,
    /// The state file is behind what is published.
    dirty: bool,
}

/// What a tombstone needs to know of a listed post.
fn record_of(meta: &SiteMeta, post: &Post) -> Record {
    let mut scopes: BTreeSet<Scope> = terms_of(post)
        .map(|(kind, name)| Scope::Term(kind, slugify(name)))
        .filter(|s| !matches!(s, Scope::Term(_, slug) if slug.is_empty()))
        .collect();
    scopes.insert(Scope::All);
    Record {
        id: atom_id(post, &meta.base),
        route: page::page_route(post),
        scopes,
        source: post.source.clone(),
    }
}

impl Deletions {
    /// Records the posts of `listing`, announces those the state file says were published
    /// and are not listed now (deleted since the last run, at `now`), keeps the file's
    /// unexpired tombstones, and hands them to `listing`.
    pub(super) fn start(
        window: Option<Duration>,
        root: &Path,
        state_dir: &Path,
        meta: &SiteMeta,
        listing: &mut Listing,
        now: DateTime<Utc>,
    ) -> Deletions {
        let mut d = Deletions {
            window,
            path: state_dir.join(DELETIONS_STATE_FILE),
            root: root.to_owned(),
            base: meta.base.clone(),
            published: HashMap::new(),
            ids: HashMap::new(),
            tombstones: Tombstones::new(),
            dirty: false,
        };
        let Some(window) = window else {
            return d;
        };
        for post in listing.iter() {
            d.list(post.source.clone(), record_of(meta, post));
        }
        let mut saved: Saved = match std::fs::read(&d.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!("{}: not read ({e}); no tombstones kept", d.path.display());
                Saved::default()
            }),
            Err(_) => Saved::default(),
        };
        if saved.base != meta.base {
            // Every entry's id changed with the site's URL (an ephemeral default address, or
            // a move): that is not every post deleted.
            if !saved.base.is_empty() {
                tracing::info!(
                    "{}: written for {}, not {}; earlier deletions are not announced",
                    d.path.display(),
                    saved.base,
                    meta.base
                );
            }
            saved = Saved::default();
        }
        for t in saved.tombstones {
            if t.when + window > now && !d.ids.contains_key(&t.record.id) {
                d.tombstones.insert(t.record.id.clone(), t);
            }
        }
        // Nothing listed where posts were: more likely an unmounted volume's empty mount point
        // than every post deleted (while serving, such a tree is held back the same way).
        // Nothing is announced, and the record stays until something is listed.
        let vanished = listing.is_empty() && !saved.published.is_empty();
        if vanished {
            tracing::warn!(
                "no posts, where {} were published: not announced as deleted",
                saved.published.len()
            );
            saved.published.clear();
        }
        for record in saved.published {
            if !d.ids.contains_key(&record.id) && !d.tombstones.contains_key(&record.id) {
                let id = record.id.clone();
                let when = d.left_at(&record, now);
                d.tombstones.insert(id, Tombstone { record, when });
            }
        }
        listing.tombstones = Arc::new(d.tombstones.clone());
        if !vanished {
            d.save();
        }
        d
    }

    /// When the post of `record` left, by its file's directory (in whole seconds: the feeds say
    /// `when` so, and so does the feed's `updated`), so that every replica watching the same
    /// posts announces the same time.
    fn left_at(&self, record: &Record, now: DateTime<Utc>) -> DateTime<Utc> {
        let t = modified::removal_time(&self.root, &record.source, now.into());
        DateTime::<Utc>::from(t).trunc_subsecs(0)
    }

    fn list(&mut self, source: PathBuf, record: Record) {
        *self.ids.entry(record.id.clone()).or_default() += 1;
        self.published.insert(source, record);
    }

    fn unlist(&mut self, source: &Path) -> Option<Record> {
        let record = self.published.remove(source)?;
        if let Some(n) = self.ids.get_mut(&record.id) {
            *n -= 1;
            if *n == 0 {
                self.ids.remove(&record.id);
            }
        }
        Some(record)
    }

    /// Follows a change of the listing: the posts of `delta` that left get a tombstone, those
    /// that came back lose theirs, and tombstones older than the window expire. The scopes
    /// whose tombstones changed join `delta`, and `listing` gets the new set.
    pub(super) fn apply(
        &mut self,
        meta: &SiteMeta,
        listing: &mut Listing,
        delta: &mut Delta,
        now: DateTime<Utc>,
    ) {
        let Some(window) = self.window else {
            return;
        };
        let mut changed = false;
        let mut left = Vec::new();
        for source in &delta.posts {
            let old = self.unlist(source);
            let new = listing.get(source).map(|p| record_of(meta, p));
            changed |= old != new;
            if let Some(new) = new {
                if let Some(t) = self.tombstones.remove(&new.id) {
                    // Back again: published as before, no longer announced as deleted.
                    delta.scopes.extend(t.record.scopes);
                }
                self.list(source.clone(), new);
            }
            left.extend(old);
        }
        for record in left {
            if !self.ids.contains_key(&record.id) {
                delta.scopes.extend(record.scopes.iter().cloned());
                let id = record.id.clone();
                let when = self.left_at(&record, now);
                self.tombstones.insert(id, Tombstone { record, when });
            }
        }
        let expired: Vec<String> = self
            .tombstones
            .values()
            .filter(|t| t.when + window <= now)
            .map(|t| t.record.id.clone())
            .collect();
        for id in expired {
            if let Some(t) = self.tombstones.remove(&id) {
                delta.scopes.extend(t.record.scopes);
                changed = true;
            }
        }
        let tombstones_changed = *listing.tombstones != self.tombstones;
        if tombstones_changed {
            listing.tombstones = Arc::new(self.tombstones.clone());
        }
        // Written after the swap ([`Deletions::flush`]): readers first, the disk after.
        self.dirty |= changed || tombstones_changed;
    }

    /// Writes the state file if [`Deletions::apply`] changed what it holds. At 100,000 posts it
    /// is some 20 MB: written only when a post comes, goes or changes its id, page or terms.
    pub(super) fn flush(&mut self) {
        if std::mem::take(&mut self.dirty) {
            self.save();
        }
    }

    /// When the next tombstone expires.
    pub(super) fn next_expiry(&self) -> Option<DateTime<Utc>> {
        let window = self.window?;
        self.tombstones.values().map(|t| t.when + window).min()
    }

    /// The page routes that answer `410 Gone`.
    pub(super) fn gone_routes(&self) -> impl Iterator<Item = String> + '_ {
        self.tombstones.values().map(|t| t.record.route.clone())
    }

    /// Writes the state file (atomically). A failure is logged: the tombstones still hold
    /// while this process runs.
    fn save(&self) {
        let mut published: Vec<&Record> = self.published.values().collect();
        published.sort_by(|a, b| (&a.id, &a.route).cmp(&(&b.id, &b.route)));
        let saved = SavedRef {
            base: &self.base,
            published,
            tombstones: self.tombstones.values().collect(),
        };
        let bytes = match serde_json::to_vec(&saved) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("{}: not written ({e})", self.path.display());
                return;
            }
        };
        if let Err(e) = Atomic::STATE.write(&self.path, &bytes) {
            tracing::warn!(
                "{}: not written ({e}); deletions made before the next start are not \
                 announced",
                self.path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::post::{body::Markup, parse_post};
    use crate::site::{ListOptions, TermKind};

    fn post(config: &Config, name: &str, front: &str) -> Arc<Post> {
        let text = format!("---\ntitle: {name}\ndate: 2024-01-01\n{front}\n---\nbody\n");
        let ctx = config.parse_context();
        Arc::new(parse_post(Path::new(name), text.as_bytes(), Markup::Markdown, &ctx).unwrap())
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000 + secs, 0).unwrap()
    }

    fn ids(listing: &Listing) -> Vec<&str> {
        listing.tombstones.keys().map(String::as_str).collect()
    }

    struct Fixture {
        config: Config,
        meta: SiteMeta,
        state: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Fixture {
            let config = Config::default_for_test(Path::new("p"), Path::new("o"));
            let meta = SiteMeta::from_config(&config);
            let state = tempfile::tempdir().unwrap();
            Fixture {
                config,
                meta,
                state,
            }
        }

        fn listing(&self, posts: &[(&str, &str)]) -> Listing {
            let posts = posts.iter().map(|(n, f)| post(&self.config, n, f));
            Listing::new(posts, at(0), ListOptions::default())
        }

        fn start(&self, listing: &mut Listing, now: DateTime<Utc>) -> Deletions {
            let window = Some(Duration::days(1));
            Deletions::start(
                window,
                Path::new("/nonexistent-feedsmith-posts"),
                self.state.path(),
                &self.meta,
                listing,
                now,
            )
        }
    }

    const A: &str = "https://example.com/2024/01/01/a.html";

    #[test]
    fn a_post_that_leaves_gets_a_tombstone_until_it_comes_back() {
        let f = Fixture::new();
        let mut listing = f.listing(&[("a.md", "tags: t"), ("b.md", "")]);
        let mut d = f.start(&mut listing, at(0));
        assert!(ids(&listing).is_empty());

        let mut delta = listing.remove(Path::new("a.md"));
        d.apply(&f.meta, &mut listing, &mut delta, at(10));
        assert_eq!(ids(&listing), [A]);
        let t = &listing.tombstones[A];
        assert_eq!(t.when, at(10));
        assert_eq!(t.record.route, "/2024/01/01/a.html");
        // Its tag left with it: the scope is still named, to be rendered (or removed).
        assert!(delta
            .scopes
            .contains(&Scope::Term(TermKind::Tag, "t".into())));
        assert_eq!(d.gone_routes().collect::<Vec<_>>(), ["/2024/01/01/a.html"]);
        assert_eq!(d.next_expiry(), Some(at(10) + Duration::days(1)));

        let mut delta = listing.upsert(post(&f.config, "a.md", "tags: t"), at(20));
        d.apply(&f.meta, &mut listing, &mut delta, at(20));
        assert!(ids(&listing).is_empty());
        assert_eq!(d.gone_routes().count(), 0);
    }

    #[test]
    fn a_post_moved_to_another_file_with_its_id_did_not_leave() {
        let f = Fixture::new();
        let mut listing = f.listing(&[("a.md", "id: story-1")]);
        let mut d = f.start(&mut listing, at(0));
        let mut delta = listing.remove(Path::new("a.md"));
        delta.extend(listing.upsert(post(&f.config, "moved/a.md", "id: story-1"), at(5)));
        d.apply(&f.meta, &mut listing, &mut delta, at(5));
        assert!(ids(&listing).is_empty());
    }

    #[test]
    fn tombstones_expire_after_the_window() {
        let f = Fixture::new();
        let mut listing = f.listing(&[("a.md", ""), ("b.md", "")]);
        let mut d = f.start(&mut listing, at(0));
        let mut delta = listing.remove(Path::new("a.md"));
        d.apply(&f.meta, &mut listing, &mut delta, at(10));
        let mut delta = Delta::default();
        let just_before = at(10) + Duration::days(1) - Duration::seconds(1);
        d.apply(&f.meta, &mut listing, &mut delta, just_before);
        assert_eq!(ids(&listing), [A]);
        assert!(delta.is_empty());
        d.apply(
            &f.meta,
            &mut listing,
            &mut delta,
            at(10) + Duration::days(1),
        );
        assert!(ids(&listing).is_empty());
        assert!(delta.scopes.contains(&Scope::All));
        assert_eq!(d.next_expiry(), None);
    }

    #[test]
    fn the_state_file_carries_tombstones_and_deletions_across_runs() {
        let f = Fixture::new();
        let mut listing = f.listing(&[("a.md", ""), ("b.md", ""), ("c.md", "")]);
        let mut d = f.start(&mut listing, at(0));
        let mut delta = listing.remove(Path::new("a.md"));
        d.apply(&f.meta, &mut listing, &mut delta, at(10));
        d.flush();
        // Stopped; c.md deleted meanwhile; started again.
        let mut listing = f.listing(&[("b.md", "")]);
        f.start(&mut listing, at(100));
        let c = "https://example.com/2024/01/01/c.html";
        assert_eq!(ids(&listing), [A, c]);
        assert_eq!(listing.tombstones[A].when, at(10));
        assert_eq!(listing.tombstones[c].when, at(100));
        // An empty posts/ (an unmounted volume): nothing announced, the record kept.
        let mut empty = f.listing(&[]);
        f.start(&mut empty, at(150));
        assert_eq!(ids(&empty), [A, c], "b is not announced");
        let mut listing = f.listing(&[("b.md", "")]);
        f.start(&mut listing, at(160));
        assert_eq!(ids(&listing), [A, c]);
        // Another site URL: other ids, not every post deleted.
        let mut other = Fixture::new();
        other.meta.base = "https://other.example".into();
        other.state = f.state;
        let mut listing = other.listing(&[]);
        other.start(&mut listing, at(200));
        assert!(ids(&listing).is_empty());
    }
}
