//! feedsmith: a directory of Jekyll-style posts → RSS 2.0, Atom 1.0 and JSON Feed 1.1 for all
//! posts, every category and every tag, written to `feeds/` and served over HTTP.
//!
//! The data flows one way, and the modules are named after its stages:
//!
//! ```text
//! posts/ ─► post (one file) ─► site (all posts, listing, terms) ─► feed (render one document)
//!                                                                   │
//!                          render (every document, checked) ─► output (feeds/ on disk)
//! ```
//!
//! `build` runs the whole pipeline once; `serve` keeps it running: `publish` swaps each new
//! document set into the `store` that the `server` answers from, and tells the WebSub `hub`
//! which feeds changed so it can push them to its subscribers.

pub mod build;
pub mod cli;
pub mod config;
pub mod feed;
pub mod hub;
pub mod output;
pub mod post;
pub mod publish;
pub mod render;
pub mod serve;
pub mod server;
pub mod site;
pub mod slug;
pub mod store;
pub mod text;
pub mod watch;

pub use build::Build;
pub use config::{Config, Format};
pub use post::{Post, PostError};
pub use site::{ListOptions, Listing, Scope, Site};
