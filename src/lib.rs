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
pub mod config;
pub mod slug;
mod text;

// The pipeline, in the order the data flows.
/// One file → one post.
pub mod post;
/// All posts, the listing of each scope, the terms.
pub mod site;
/// One document (RSS, Atom, JSON Feed, OPML, index, post page, RFC 5005 paging).
pub mod feed;
/// Every document of a site, checked.
pub mod render;
/// `feeds/` on disk, and the one atomic write.
mod output;
/// Documents in memory: validators, compressed forms, the byte-budgeted cache.
pub mod store;
/// File events → changes, and the watcher's timing.
mod watch;
/// Apply a change, swap the store (`serve`).
pub mod publish;
/// HTTP: the request path, the stock server and the CPU steering.
pub mod server;
/// WebSub: subscriptions and pushes.
mod hub;

// The commands.
pub mod build;
pub mod cli;
pub mod serve;

pub use build::Build;
pub use config::{Config, Format};
pub use post::{Post, PostError};
pub use site::{ListOptions, Listing, Scope, Site};
