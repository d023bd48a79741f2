//! Actors' WebFinger names (`acct:{name}@{host}`), one rule both ways.
//!
//! - The site's actor is `activitypub.name` (default: from the site, see
//!   [`crate::config::ActivityPubConfig::site_name`]).
//! - A tag's actor is its slug (`@rust@example.com`), or `tag-{slug}` when that is the
//!   site's name.
//! - A category's actor is its slug too, unless a tag's actor has it or it is the site's name:
//!   then `category-{slug}`. Tags win because there are more of them and they are what a
//!   reader follows by topic.
//!
//! A name can thus change when a tag of the same slug appears; an actor's id (its URL,
//! `/ap/categories/{slug}`) never does, and that is what a follower's server keeps.

use crate::site::{Scope, TermKind};

/// The name of `scope`'s actor. `is_actor` says which scopes are actors now.
pub fn name_of(scope: &Scope, site: &str, is_actor: impl Fn(&Scope) -> bool) -> String {
    match scope {
        Scope::All => site.to_owned(),
        Scope::Term(TermKind::Tag, slug) if slug == site => format!("tag-{slug}"),
        Scope::Term(TermKind::Tag, slug) => slug.clone(),
        Scope::Term(TermKind::Category, slug) => {
            let tag = Scope::Term(TermKind::Tag, slug.clone());
            if slug == site || is_actor(&tag) {
                format!("category-{slug}")
            } else {
                slug.clone()
            }
        }
    }
}

/// The scope whose actor is named `name`, if any.
pub fn scope_named(name: &str, site: &str, is_actor: impl Fn(&Scope) -> bool) -> Option<Scope> {
    let term = |kind, slug: &str| Scope::Term(kind, slug.to_owned());
    let mut candidates = vec![
        Scope::All,
        term(TermKind::Tag, name),
        term(TermKind::Category, name),
    ];
    if let Some(slug) = name.strip_prefix("tag-") {
        candidates.push(term(TermKind::Tag, slug));
    }
    if let Some(slug) = name.strip_prefix("category-") {
        candidates.push(term(TermKind::Category, slug));
    }
    candidates
        .into_iter()
        .find(|s| is_actor(s) && name_of(s, site, &is_actor) == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> Scope {
        Scope::Term(TermKind::Tag, s.into())
    }
    fn category(s: &str) -> Scope {
        Scope::Term(TermKind::Category, s.into())
    }

    #[test]
    fn collisions_resolve_one_way_and_back() {
        let actors = [
            Scope::All,
            tag("rust"),
            tag("news"),
            category("rust"),
            category("news"),
            category("travel"),
        ];
        let is_actor = |s: &Scope| actors.contains(s);
        let expect = [
            (Scope::All, "news"),
            (tag("rust"), "rust"),
            (tag("news"), "tag-news"),
            (category("rust"), "category-rust"),
            (category("news"), "category-news"),
            (category("travel"), "travel"),
        ];
        for (scope, name) in expect {
            assert_eq!(name_of(&scope, "news", is_actor), name, "{scope:?}");
            assert_eq!(scope_named(name, "news", is_actor), Some(scope));
        }
        for unknown in ["tag-rust", "category-travel", "travel2", "tag-", ""] {
            assert_eq!(scope_named(unknown, "news", is_actor), None, "{unknown}");
        }
    }

    #[test]
    fn a_category_keeps_its_slug_when_tags_are_not_actors() {
        let actors = [Scope::All, category("rust")];
        let is_actor = |s: &Scope| actors.contains(s);
        assert_eq!(name_of(&category("rust"), "news", is_actor), "rust");
        assert_eq!(
            scope_named("rust", "news", is_actor),
            Some(category("rust"))
        );
        // The site is not an actor: its name is nobody's.
        assert_eq!(
            scope_named("news", "news", |s: &Scope| *s != Scope::All),
            None
        );
    }
}
