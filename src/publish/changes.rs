//! Which posts a publish changed, for those that follow posts rather than feeds (ActivityPub
//! delivery): each source a batch touched, as it was listed before and as it is now.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use crate::post::Post;
use crate::site::Listing;

/// A post that entered the listing (`old` none: new, or a scheduled post whose time came),
/// changed (both: it was read again, which need not mean its content differs) or left it
/// (`new` none).
#[derive(Debug, Clone)]
pub struct PostChange {
    pub old: Option<Arc<Post>>,
    pub new: Option<Arc<Post>>,
}

/// The changes of the posts `touched`: `before` holds their listed versions before the batch
/// (none for a post that was not listed), `listing` the listing after it. A post listed as the
/// very same version before and after is no change.
pub(super) fn post_changes(
    mut before: HashMap<PathBuf, Arc<Post>>,
    touched: &BTreeSet<PathBuf>,
    listing: &Listing,
) -> Vec<PostChange> {
    touched
        .iter()
        .filter_map(|source| {
            let old = before.remove(source);
            let new = listing.get(source).cloned();
            let same = match (&old, &new) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            };
            (!same).then_some(PostChange { old, new })
        })
        .collect()
}
