//! ActivityPub: the site, and each category and tag, as an actor a Fediverse account can
//! follow (`@news@example.com`), whose posts are `Article`s.
//!
//! What a remote server GETs is answered here: WebFinger, NodeInfo, the actors, their outboxes
//! and each post as an `Article` (negotiated on the post's own URL). The actors share one key
//! ([`key::ActorKey`]), kept in the state directory (`hub.state_dir`).

pub mod key;
pub mod signature;

pub use key::{verify_sha256, ActorKey, KeyError, KEY_FILE};
pub mod followers;

/// How many followers an actor has (placeholder until the `ap` branch's lands).
pub trait FollowerCount: Send + Sync {
    fn followers(&self, actor: &str) -> usize;
}
pub mod delivery;
pub mod remote;
