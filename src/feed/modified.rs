//! When a document's content last changed, read off the posts it is made of: the dates they
//! carry, their files' modification times, the deletions it announces. That is the
//! document's `Last-Modified`.
//!
//! No clock of the process enters it, nor anything a replica has of its own (its settings
//! file's time, its state). Every replica serving the same posts (one shared directory, or
//! copies that keep modification times) says the same `Last-Modified` for the same bytes, and
//! says it again after a restart, with nothing saved for it. An edit moves it forward even
//! when the post's `updated` does not change, because the post's file changed.
//!
//! What it cannot see: bytes that change with no newer post (new settings, a new version of
//! feedsmith rendering differently, an item leaving a feed because its tag was removed while
//! an older item stays newest). Those keep their `Last-Modified` and get a new `ETag`: a
//! client that revalidates with `If-None-Match`, as feed readers do, gets the new bytes at
//! once; one that sends only `If-Modified-Since` gets them with the next newer change.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, TimeZone};

use super::FeedSpec;
use crate::post::Post;
use crate::site::deleted::{Tombstone, Tombstones};
use crate::site::{Listing, Scope};

/// `t` as a [`SystemTime`], in whole seconds (HTTP dates have no finer grain); the Unix epoch
/// for a time before it.
pub fn system_time<Tz: TimeZone>(t: &DateTime<Tz>) -> SystemTime {
    u64::try_from(t.timestamp()).map_or(UNIX_EPOCH, |s| UNIX_EPOCH + Duration::from_secs(s))
}

/// `t` in whole seconds.
pub fn whole_seconds(t: SystemTime) -> SystemTime {
    t.duration_since(UNIX_EPOCH).map_or(UNIX_EPOCH, |d| {
        UNIX_EPOCH + Duration::from_secs(d.as_secs())
    })
}

/// When `post` last changed: its `updated` (or `date`, if later), or its file's modification
/// time, whichever is later.
pub fn post_time(post: &Post) -> SystemTime {
    let dated = system_time(&post.updated.max(post.date));
    post.modified.map_or(dated, |m| dated.max(whole_seconds(m)))
}

/// The latest of `times`; for none, the date an empty feed says ([`super::epoch`]).
fn latest(times: impl Iterator<Item = SystemTime>) -> SystemTime {
    times.fold(of_nothing(), SystemTime::max)
}

/// The time of a document made of no post (an empty site's, the XSLT stylesheet):
/// 2000-01-01, the `updated` of an empty feed.
pub fn of_nothing() -> SystemTime {
    system_time(&super::epoch())
}

fn tombstone_time(t: &Tombstone) -> SystemTime {
    system_time(&t.when)
}

/// When a post last left `scope`, by the tombstones remembered (the Unix epoch if none).
pub fn removed_from(tombstones: &Tombstones, scope: &Scope) -> SystemTime {
    tombstones
        .values()
        .filter(|t| t.record.scopes.contains(scope))
        .map(tombstone_time)
        .max()
        .unwrap_or(UNIX_EPOCH)
}

/// A feed document's time (an archive page's, a feed's browser view's): its items and the
/// last deletion in its scope (in every format: an RSS or JSON feed loses the item without
/// saying so).
pub fn of_spec(spec: &FeedSpec<'_>) -> SystemTime {
    let items = spec.items.iter().map(|p| post_time(p));
    latest(items.chain(std::iter::once(spec.removed)))
}

/// The time of a document that lists a whole scope (a term's page): every post in the scope
/// and every deletion announced in it.
pub fn of_scope(listing: &Listing, scope: &Scope) -> SystemTime {
    let deleted = listing
        .tombstones
        .values()
        .filter(|t| t.record.scopes.contains(scope))
        .map(tombstone_time);
    let posts = listing.scope_oldest_first(scope).map(|p| post_time(p));
    latest(posts.chain(deleted))
}

/// The time of a document made from the whole site (the index, the OPML list): every post and
/// every deletion.
pub fn of_site(listing: &Listing) -> SystemTime {
    let deleted = listing.tombstones.values().map(tombstone_time);
    latest(listing.iter().map(|p| post_time(p)).chain(deleted))
}

/// When the post file `rel` under `root` left, as the file system says: its own time if it
/// is still there (it left the site by an edit), else the time of the nearest directory above
/// it, up to `root`, that still exists (removing or renaming a file updates its directory's).
/// In whole seconds, never after `now`; `now` if not even `root` is there. Every process
/// watching the same directory reads the same time, so their tombstones — and the feeds that
/// announce them — are the same bytes.
pub fn removal_time(root: &Path, rel: &Path, now: SystemTime) -> SystemTime {
    let mut at = Some(rel);
    while let Some(rel) = at {
        let path = root.join(rel);
        if let Ok(t) = std::fs::metadata(&path).and_then(|m| m.modified()) {
            return whole_seconds(t.min(now));
        }
        if rel.as_os_str().is_empty() {
            break;
        }
        at = rel.parent();
    }
    whole_seconds(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::post::body::Markup;

    fn post(updated: &str, modified: Option<u64>) -> Post {
        let text = format!("---\ntitle: t\ndate: 2024-01-02\nupdated: {updated}\n---\nx\n");
        let ctx = Config::default().parse_context();
        let mut p = crate::post::parse_post(
            std::path::Path::new("a.md"),
            text.as_bytes(),
            Markup::Markdown,
            &ctx,
        )
        .unwrap();
        p.modified = modified.map(|s| UNIX_EPOCH + Duration::from_millis(s));
        p
    }

    #[test]
    fn a_post_changed_at_its_latest_date_or_file_time_in_whole_seconds() {
        let dated = post("2024-03-04T05:06:07Z", None);
        assert_eq!(
            post_time(&dated),
            UNIX_EPOCH + Duration::from_secs(1_709_528_767)
        );
        // A file written after the date: the file's time, without its milliseconds.
        let later = post("2024-03-04T05:06:07Z", Some(1_800_000_000_999));
        assert_eq!(
            post_time(&later),
            UNIX_EPOCH + Duration::from_secs(1_800_000_000)
        );
        // A file older than `updated` (copied, checked out): the date.
        let older = post("2024-03-04T05:06:07Z", Some(1_000_000_000_000));
        assert_eq!(post_time(&older), post_time(&dated));
    }

    #[test]
    fn a_removed_file_is_dated_by_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("posts");
        std::fs::create_dir_all(root.join("2024")).unwrap();
        let rel = Path::new("2024/gone.md");
        std::fs::write(root.join(rel), "x").unwrap();
        let now = SystemTime::now() + Duration::from_secs(60);
        let file_time = std::fs::metadata(root.join(rel))
            .unwrap()
            .modified()
            .unwrap();
        // Still there (it left by an edit): its own time.
        assert_eq!(removal_time(&root, rel, now), whole_seconds(file_time));
        std::fs::remove_file(root.join(rel)).unwrap();
        let dir_time = std::fs::metadata(root.join("2024"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(removal_time(&root, rel, now), whole_seconds(dir_time));
        // Its directory gone too: the next one up, the root.
        std::fs::remove_dir(root.join("2024")).unwrap();
        let top = std::fs::metadata(&root).unwrap().modified().unwrap();
        assert_eq!(removal_time(&root, rel, now), whole_seconds(top));
        // Never after now; and not above the root: now.
        assert_eq!(removal_time(&root, rel, UNIX_EPOCH), UNIX_EPOCH);
        std::fs::remove_dir(&root).unwrap();
        assert_eq!(removal_time(&root, rel, now), whole_seconds(now));
    }
}
