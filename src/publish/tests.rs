//! What a publish hands its outlet about posts: which entered, changed or left the listing.

use std::path::Path;
use std::sync::Mutex;

use super::*;

/// An outlet that keeps what it was given.
#[derive(Default)]
struct Kept(Mutex<Vec<Vec<PostChange>>>);

impl Outlet for Kept {
    fn publish(&self, published: Published) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(published.posts);
    }
}

/// (old title, new title) of each change of the last publish.
fn last(kept: &Kept) -> Vec<(Option<String>, Option<String>)> {
    let all = kept.0.lock().unwrap_or_else(PoisonError::into_inner);
    let title = |p: &Option<Arc<crate::post::Post>>| p.as_ref().map(|p| p.title.clone());
    all.last()
        .map(|changes| {
            changes
                .iter()
                .map(|c| (title(&c.old), title(&c.new)))
                .collect()
        })
        .unwrap_or_default()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn posts_that_enter_change_or_leave_are_handed_on() {
    let dir = tempfile::tempdir().unwrap();
    let posts = dir.path().join("posts");
    std::fs::create_dir_all(&posts).unwrap();
    let write = |name: &str, title: &str, date: &str| {
        let text = format!("---\ntitle: {title}\ndate: {date}\n---\nbody\n");
        std::fs::write(posts.join(name), text).unwrap();
    };
    write("a.md", "A", "2026-01-01 10:00:00 +0000");
    let mut config = Config::default_for_test(&posts, &dir.path().join("out"));
    config.hub.state_dir = dir.path().join("state");
    let kept = Arc::new(Kept::default());
    let now = at("2026-02-01T00:00:00Z");
    let (mut p, _) = Publisher::start(
        config,
        ListOptions::default(),
        now,
        None,
        Arc::clone(&kept) as Arc<dyn Outlet>,
    );
    assert_eq!(last(&kept), [], "the first publish names no post");

    let upsert = |name: &str| [Change::Upsert(Path::new(name).to_path_buf())];
    write("b.md", "B", "2026-01-02 10:00:00 +0000");
    p.apply(&upsert("b.md"), now);
    assert_eq!(last(&kept), [(None, Some("B".into()))]);

    write("b.md", "B2", "2026-01-02 10:00:00 +0000");
    p.apply(&upsert("b.md"), now);
    assert_eq!(last(&kept), [(Some("B".into()), Some("B2".into()))]);

    std::fs::remove_file(posts.join("b.md")).unwrap();
    p.apply(&[Change::Remove(Path::new("b.md").to_path_buf())], now);
    assert_eq!(last(&kept), [(Some("B2".into()), None)]);

    // A scheduled post: nothing when written, a new post when its time comes.
    write("c.md", "C", "2026-03-01 10:00:00 +0000");
    let publishes = kept.0.lock().unwrap_or_else(PoisonError::into_inner).len();
    p.apply(&upsert("c.md"), now);
    let after = kept.0.lock().unwrap_or_else(PoisonError::into_inner).len();
    assert!(
        after == publishes || last(&kept).is_empty(),
        "{:?}",
        last(&kept)
    );
    p.tick(at("2026-03-01T10:00:01Z"));
    assert_eq!(last(&kept), [(None, Some("C".into()))]);
}
