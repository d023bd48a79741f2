//! Content codings: which ones the server sends, and how a document is compressed into each.

use std::io::Write;

/// A content coding the server can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    Identity,
    Gzip,
    Brotli,
    Zstd,
}

impl Coding {
    /// The `Content-Encoding` token.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Identity => "identity",
            Coding::Gzip => "gzip",
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
        }
    }

    /// Suffix that makes an encoded representation's ETag differ from the identity one.
    pub(super) fn etag_suffix(self) -> &'static str {
        match self {
            Coding::Identity => "",
            Coding::Gzip => "-gz",
            Coding::Brotli => "-br",
            Coding::Zstd => "-zst",
        }
    }
}

/// Compression levels: fast enough that compressing a 100 KB feed takes about a millisecond,
/// so it never dominates a rebuild, while keeping most of the size win.
pub const GZIP_LEVEL: u32 = 6;
pub const BROTLI_QUALITY: u32 = 5;
pub const ZSTD_LEVEL: i32 = 3;

/// Compresses `raw` with `coding`.
pub fn compress(coding: Coding, raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = match coding {
        Coding::Identity => raw.to_vec(),
        Coding::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(raw.len() / 3),
                flate2::Compression::new(GZIP_LEVEL),
            );
            enc.write_all(raw)?;
            enc.finish()?
        }
        Coding::Brotli => {
            let mut out = Vec::with_capacity(raw.len() / 3);
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, 22);
                w.write_all(raw)?;
                w.flush()?;
            }
            out
        }
        Coding::Zstd => zstd::bulk::compress(raw, ZSTD_LEVEL)?,
    };
    // Kept for the life of the document version: without the spare capacity of the guess
    // (a third of the input) or of zstd's worst-case bound (more than the input).
    out.shrink_to_fit();
    Ok(out)
}
