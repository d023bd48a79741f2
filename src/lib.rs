//! feedsmith: a directory of Jekyll-style posts → RSS 2.0, Atom 1.0 and JSON Feed 1.1 for all
//! posts, every category and every tag, written to `feeds/` and served over HTTP.
//!
//! The data flows one way, and the modules are named after its stages; none imports from a
//! stage after it:
//!
//! ```text
//! posts/ ─► post ─► site ─► feed ─► render ─┬─► output (feeds/ on disk)
//!  (one file) (all posts,  (one document    └─► store  (documents in memory: bytes,
//!             listing,      in a format,                validators, compressed forms)
//!             terms)        checked)                         │
//!                                                            ▼
//!        watch ─────────────────────────────────────────► publish ─► server (HTTP) / hub (WebSub)
//!  (file events → changes)                              (apply a change, swap the store)
//! ```
//!
//! `build` runs the pipeline once; `serve` wires it to keep running. `config` (settings, read
//! once) and `slug`/`text` (small helpers) are used by every stage.

// Helpers every stage uses.
mod accept;
mod config;
/// What `serve` counts: the Prometheus metrics.
mod metrics;
mod slug;
mod text;

// The pipeline, in the order the data flows.
/// One file → one post.
mod post;
/// All posts, the listing of each scope, the terms.
mod site;
/// One document (RSS, Atom, JSON Feed, OPML, index, post page, RFC 5005 paging).
mod feed;
/// Every document of a site, checked.
mod render;
/// `feeds/` on disk, and the one atomic write.
mod output;
/// Documents in memory: validators, compressed forms, the byte-budgeted cache.
mod store;
/// File events → changes, and the watcher's timing.
mod watch;
/// Shared caches in front of `serve`: `Cache-Control`, surrogate keys, purges on change.
mod cache;
/// Apply a change, swap the store (`serve`).
mod publish;
/// HTTP: the request path, the stock server and the CPU steering.
mod server;
/// The push engine: queue, scheduler, worker threads (the hub's and ActivityPub's).
mod push;
/// WebSub: subscriptions and pushes.
mod hub;
/// ActivityPub: the site, categories and tags as actors; posts as `Article`s.
mod activitypub;

// The commands.
mod build;
mod cli;
mod serve;

// The API: what the binary needs.
pub use build::{ping, Build};
pub use cli::{BuildArgs, BuildCmd, CheckArgs, Cli, Command, ServeArgs};
pub use config::{Config, Format};
pub use output::SyncReport;
pub use post::{Post, PostError};
pub use serve::run as serve;
pub use site::{ListOptions, Listing, Scope, Site};

/// The inner pieces the integration tests and the fuzz harness (`fuzz/src/lib.rs`) drive
/// directly: parse one post, render one site, answer one request without a socket. Not a
/// stable API. Each name is re-exported one by one, by stage, so every other item stays
/// private to its stage.
#[doc(hidden)]
pub mod internals {
    pub mod config {
        pub use crate::config::{ArchiveScope, Config, ContentMode, DEFAULT_PERMALINK};
    }
    pub mod slug {
        pub use crate::slug::{encode_path, slugify};
    }
    pub mod post {
        pub use crate::post::{classify, parse_post, FileKind, ParseContext, Post};
        pub mod body {
            pub use crate::post::body::Markup;
        }
    }
    pub mod site {
        pub use crate::site::{ListOptions, Listing, Scope};
    }
    pub mod feed {
        pub use crate::feed::{render, route, scope_page_route, scope_paging, FeedSpec, SiteMeta};
        pub mod paging {
            pub use crate::feed::paging::{
                looks_like_archive, parse_feed_route, parse_route, route,
            };
        }
        pub mod page {
            pub use crate::feed::page::{page_route, render};
        }
    }
    pub mod render {
        pub use crate::render::{
            archive_jobs, render_archive_jobs, render_site, Doc, Fragments, Rendered,
        };
    }
    pub mod store {
        pub use crate::store::{compress, content_hash, etag_for, Coding, Document, Store};
    }
    pub mod publish {
        pub use crate::publish::{Outlet, Published, Publisher};
    }
    pub mod activitypub {
        pub use crate::activitypub::{
            article, verify_sha256, ActivityPub, ActorKey, FollowerCount, Job, KeyError, KEY_FILE,
        };
    }
    pub mod server {
        pub use crate::server::navigation::wants_view;
        pub use crate::server::{serve, Archives, State, HEADER_READ_TIMEOUT, SHUTDOWN_GRACE};
        pub mod conditional {
            pub use crate::server::conditional::{negotiate, Preconditions};
        }
        pub mod handler {
            pub use crate::server::handler::{
                handle, handle_fetched, render_page, route_of, Handled, MAX_PATH_BYTES,
            };
        }
    }
}
