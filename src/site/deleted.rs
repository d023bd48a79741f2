//! Tombstones: the posts that left the site, remembered for a while so that the Atom feeds
//! they were in can say so (RFC 6721 `at:deleted-entry`) and their pages answer `410 Gone`.
//!
//! A mirror that synced a post cannot tell a post that left from one that merely fell off
//! the end of a feed; a tombstone tells it. They live in the listing, beside the posts, so
//! every feed rendered from a listing carries the same ones.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Scope;

/// A published post, as much of it as a tombstone needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Its Atom `<id>` (the `ref` of its tombstone).
    pub id: String,
    /// Its page's decoded route.
    pub route: String,
    /// The scopes it was listed in (all posts, its categories and tags).
    pub scopes: BTreeSet<Scope>,
    /// Its file, under the posts directory (when it left is read off the file system: see
    /// `feed::modified::removal_time`). Empty in files written before it was kept.
    #[serde(default)]
    pub source: std::path::PathBuf,
}

/// A post that left the site at `when`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    #[serde(flatten)]
    pub record: Record,
    /// RFC 3339, as the feeds say it.
    #[serde(with = "rfc3339")]
    pub when: DateTime<Utc>,
}

/// `DateTime<Utc>` as an RFC 3339 string (chrono's own serde support is not compiled in).
mod rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// The tombstones of a site, by Atom id.
pub type Tombstones = BTreeMap<String, Tombstone>;

/// The tombstones of `scope`, the most recent deletion first (then by id: deterministic).
pub fn in_scope<'a>(all: &'a Tombstones, scope: &Scope) -> Vec<&'a Tombstone> {
    let mut out: Vec<&Tombstone> = all
        .values()
        .filter(|t| t.record.scopes.contains(scope))
        .collect();
    out.sort_by(|a, b| {
        b.when
            .cmp(&a.when)
            .then_with(|| a.record.id.cmp(&b.record.id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::TermKind;

    fn stone(id: &str, secs: i64, scopes: &[Scope]) -> (String, Tombstone) {
        let record = Record {
            id: id.into(),
            route: format!("/{id}.html"),
            scopes: scopes.iter().cloned().collect(),
            source: Default::default(),
        };
        let when = DateTime::from_timestamp(secs, 0).unwrap();
        (id.into(), Tombstone { record, when })
    }

    #[test]
    fn a_scope_gets_its_own_tombstones_newest_first() {
        let tag = Scope::Term(TermKind::Tag, "rust".into());
        let all: Tombstones = [
            stone("a", 10, &[Scope::All, tag.clone()]),
            stone("b", 20, &[Scope::All]),
            stone("c", 15, &[Scope::All, tag.clone()]),
        ]
        .into_iter()
        .collect();
        let ids = |s: &Scope| -> Vec<String> {
            in_scope(&all, s)
                .iter()
                .map(|t| t.record.id.clone())
                .collect()
        };
        assert_eq!(ids(&Scope::All), ["b", "c", "a"]);
        assert_eq!(ids(&tag), ["c", "a"]);
        assert!(ids(&Scope::Term(TermKind::Category, "x".into())).is_empty());
    }

    #[test]
    fn a_tombstone_round_trips_through_json() {
        let (_, t) = stone("tag:example.com,2000:a&b", 10, &[Scope::All]);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<Tombstone>(&json).unwrap(), t);
    }
}
