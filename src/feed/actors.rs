//! Where the ActivityPub actors are (`serve` with `activitypub.enabled`): their addresses, which
//! pages and feeds link, and which actor a post's `Article` is attributed to. The actors
//! themselves are served by `crate::activitypub`.

use super::{term_scope, terms_of, SiteMeta};
use crate::post::Post;
use crate::site::{Scope, TermKind};

/// Where the ActivityPub actors live: `/ap/site`, `/ap/categories/{slug}`, `/ap/tags/{slug}`.
pub const ACTOR_PREFIX: &str = "/ap";

/// The path of `scope`'s ActivityPub actor (decoded): `/ap/site`, `/ap/tags/{slug}`. Its id
/// does not depend on its WebFinger name, so a rename never loses its followers.
pub fn actor_path(scope: &Scope) -> String {
    match scope {
        Scope::All => format!("{ACTOR_PREFIX}/site"),
        Scope::Term(..) => format!("{ACTOR_PREFIX}{}", scope.dir()),
    }
}

/// The URL of `scope`'s ActivityPub actor, when scopes of its kind are actors.
pub fn actor_url(meta: &SiteMeta, scope: &Scope) -> Option<String> {
    use crate::config::ActorScope;
    let kind = match scope {
        Scope::All => ActorScope::Site,
        Scope::Term(TermKind::Category, _) => ActorScope::Categories,
        Scope::Term(TermKind::Tag, _) => ActorScope::Tags,
    };
    meta.actors
        .contains(&kind)
        .then(|| meta.url(&actor_path(scope)))
}

/// The actor a post's ActivityPub `Article` is attributed to: the site's, else (when the site
/// is not an actor) that of the post's first category or tag that is one. `None`: the post
/// has no `Article`.
pub fn author_actor(meta: &SiteMeta, post: &Post) -> Option<String> {
    actor_url(meta, &Scope::All).or_else(|| {
        terms_of(post)
            .filter_map(|(kind, name)| term_scope(kind, name))
            .find_map(|scope| actor_url(meta, &scope))
    })
}
