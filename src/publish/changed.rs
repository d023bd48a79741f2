//! What one publish changed, for the shared caches in front of the server to drop (see
//! `crate::cache`): the scopes it re-rendered or removed, and the other documents whose bytes
//! changed or that went away.

use std::collections::BTreeSet;

use crate::cache::keys;
use crate::site::Scope;

/// What one publish changed (routes as the store names them).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changed {
    /// Scopes whose posts changed: their feeds, archive pages, browser views and page may all
    /// differ (an archive page can change while the feed does not).
    pub scopes: Vec<Scope>,
    /// Feeds, lists (index, OPML) and term pages whose bytes changed, or that were removed.
    pub documents: Vec<String>,
    /// Post pages whose bytes changed, that are new, or that were removed.
    pub pages: Vec<String>,
    /// Assets added, replaced or removed.
    pub assets: Vec<String>,
}

impl Changed {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
            && self.documents.is_empty()
            && self.pages.is_empty()
            && self.assets.is_empty()
    }

    /// The surrogate keys of everything that changed: a cache that drops every response
    /// carrying one of them holds nothing this publish replaced.
    pub fn surrogate_keys(&self) -> BTreeSet<String> {
        let scopes = self.scopes.iter().map(keys::scope_key);
        let documents = self.documents.iter().filter_map(|r| keys::route_key(r));
        let pages = self.pages.iter().map(|r| keys::page_key(r).into());
        let assets = self.assets.iter().map(|r| keys::asset_key(r).into());
        scopes
            .chain(documents)
            .chain(pages)
            .chain(assets)
            .map(std::borrow::Cow::into_owned)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::TermKind;

    #[test]
    fn keys_of_a_publish() {
        let changed = Changed {
            scopes: vec![Scope::All, Scope::Term(TermKind::Tag, "rust".into())],
            documents: vec!["/feeds.opml".into(), "/categories/news/index.html".into()],
            pages: vec!["/2024/01/02/hello/index.html".into()],
            assets: vec!["/img/a.png".into()],
        };
        let keys: Vec<String> = changed.surrogate_keys().into_iter().collect();
        assert_eq!(
            keys,
            [
                "asset:/img/a%2Epng",
                "category:news",
                "post:/2024/01/02/hello/",
                "site",
                "tag:rust"
            ]
        );
        assert!(Changed::default().surrogate_keys().is_empty());
        assert!(Changed::default().is_empty());
    }
}
