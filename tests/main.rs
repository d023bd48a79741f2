//! The integration tests, as one binary: one module per capability, all sharing `common`
//! (temp sites, the real `feedsmith` binary started on an ephemeral port, HTTP helpers).
//!
//! Run one area with `cargo test --test main server::`, one test by its name.

mod common;

mod activitypub;
mod activitypub_follow;
mod archive;
mod assets;
mod build;
mod cache;
mod content_urls;
mod deletions;
mod faults;
mod fuzz_regressions;
mod hub;
mod media;
mod ops;
mod pages;
mod props;
mod replicas;
mod roundtrip;
mod server;
mod view;
mod watch;
