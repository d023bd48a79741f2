//! Post assets in the store: looked up by route like documents, after them (a document at the
//! same route wins). A small text-like asset is an ordinary [`Document`] in memory (its ETag,
//! 304s and compressed forms come from the document machinery); any other asset is served
//! from its copy in the output directory, and the store holds only its validators and where
//! the copy is.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;

use super::document::{etag_for, Document, Representation};
use super::encodings::Coding;

/// One asset, as the server answers it.
#[derive(Debug, Clone)]
pub enum Asset {
    /// Kept in memory and answered as a document.
    Memory(Arc<Document>),
    /// Answered from a file.
    File(Arc<FileAsset>),
}

/// An asset answered from its copy in the output directory, which only feedsmith writes
/// (atomically): the hash was taken from the copy's bytes as they were written.
#[derive(Debug)]
pub struct FileAsset {
    /// The validators (ETag, `Last-Modified`) and content type; no bytes.
    pub doc: Document,
    /// The copy.
    pub path: PathBuf,
    /// Its length in bytes.
    pub len: u64,
    /// The copy's mtime, exactly (`doc` has it in whole seconds, no later than now): with
    /// `len`, how a reader tells that the copy was replaced since this was published.
    pub modified: SystemTime,
}

impl FileAsset {
    /// The copy at `path`, of `len` bytes whose hash is `hash`, with the mtime `modified`;
    /// `last_modified` is what `Last-Modified` says.
    pub fn new(
        content_type: &'static str,
        path: PathBuf,
        len: u64,
        hash: u128,
        modified: SystemTime,
        last_modified: SystemTime,
    ) -> FileAsset {
        let mut doc = Document::new(content_type, Bytes::new(), last_modified, None);
        doc.hash = hash;
        doc.identity = Representation::new(Bytes::new(), etag_for(hash, Coding::Identity));
        FileAsset {
            doc,
            path,
            len,
            modified,
        }
    }
}
