//! Renders the whole document set of a listing: every scope × every format, plus OPML and the
//! index page — each parsed back before it is accepted.
//!
//! Documents are rendered in parallel; a document that fails its check is left out of the set
//! and reported, so the caller keeps publishing the previous version of it.

use std::collections::BTreeMap;

use bytes::Bytes;
use rayon::prelude::*;

use crate::config::Format;
use crate::feed::{self, verify, FeedSpec, SiteMeta};
use crate::site::{Listing, Scope};

/// A rendered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    pub content_type: &'static str,
    /// Shared with the store: cloning a `Doc` does not copy the bytes.
    pub bytes: Bytes,
}

/// Content types of the non-feed documents.
pub const OPML_TYPE: &str = "text/x-opml; charset=utf-8";
pub const HTML_TYPE: &str = "text/html; charset=utf-8";

/// The outcome of rendering: documents by route, and the routes that failed with why.
#[derive(Debug, Default)]
pub struct Rendered {
    pub docs: BTreeMap<String, Doc>,
    pub failures: BTreeMap<String, String>,
}

/// Renders and checks one feed document.
pub fn render_feed(
    meta: &SiteMeta,
    listing: &Listing,
    scope: &Scope,
    format: Format,
) -> Result<Doc, String> {
    let spec = FeedSpec::new(meta, listing, scope, format);
    let bytes = feed::render(&spec, format)?;
    let expect = verify::Expect {
        titles: spec.items.iter().map(|p| p.title.as_str()).collect(),
        self_url: &spec.self_url,
    };
    verify::feed(format, &bytes, &expect)?;
    Ok(Doc {
        content_type: format.content_type(),
        bytes: Bytes::from(bytes),
    })
}

/// Renders the given scopes in every configured format.
pub fn render_scopes(meta: &SiteMeta, listing: &Listing, scopes: &[Scope]) -> Rendered {
    let jobs: Vec<(&Scope, Format)> = scopes
        .iter()
        .flat_map(|s| meta.formats.iter().map(move |f| (s, *f)))
        .collect();
    let results: Vec<(String, Result<Doc, String>)> = jobs
        .into_par_iter()
        .map(|(scope, format)| {
            (
                feed::route(scope, format),
                render_feed(meta, listing, scope, format),
            )
        })
        .collect();
    let mut out = Rendered::default();
    for (route, r) in results {
        match r {
            Ok(doc) => {
                out.docs.insert(route, doc);
            }
            Err(e) => {
                out.failures.insert(route, e);
            }
        }
    }
    out
}

/// Renders the OPML list and the index page.
pub fn render_lists(meta: &SiteMeta, listing: &Listing, out: &mut Rendered) {
    match feed::render_opml(meta, listing).and_then(|b| verify::well_formed_xml(&b).map(|()| b)) {
        Ok(bytes) => {
            out.docs.insert(
                feed::OPML_ROUTE.to_owned(),
                Doc {
                    content_type: OPML_TYPE,
                    bytes: Bytes::from(bytes),
                },
            );
        }
        Err(e) => {
            out.failures.insert(feed::OPML_ROUTE.to_owned(), e);
        }
    }
    match feed::render_index(meta, listing) {
        Ok(bytes) => {
            out.docs.insert(
                feed::INDEX_ROUTE.to_owned(),
                Doc {
                    content_type: HTML_TYPE,
                    bytes: Bytes::from(bytes),
                },
            );
        }
        Err(e) => {
            out.failures.insert(feed::INDEX_ROUTE.to_owned(), e);
        }
    }
}

/// Renders every document of the site.
pub fn render_all(meta: &SiteMeta, listing: &Listing) -> Rendered {
    let mut out = render_scopes(meta, listing, &listing.scopes());
    render_lists(meta, listing, &mut out);
    out
}
