//! Routes: the keys of the store. A request path is percent-decoded segment by segment into
//! a route; a decoded segment that is `.`/`..` or holds `/` or NUL never names a document, so
//! no request path can reach anything but a document of the store.

use percent_encoding::percent_decode_str;

/// Longest request-target accepted, in bytes as sent (path and query, before decoding); a
/// longer one is answered `414 URI Too Long`. Far longer targets never reach the handler:
/// hyper refuses a request head over the server's head size limit.
pub const MAX_PATH_BYTES: usize = 2048;

/// Why a path names no document.
#[derive(Debug, PartialEq, Eq)]
pub enum PathError {
    /// Malformed: 400.
    Bad,
    /// Longer than [`MAX_PATH_BYTES`]: 414.
    TooLong,
    /// Well-formed but cannot name a document: 404.
    NotFound,
}

/// Decodes a request path into a store route (borrowed when it needs no decoding, which is
/// what feed readers send).
pub fn route_of(raw_path: &str) -> Result<std::borrow::Cow<'_, str>, PathError> {
    if raw_path.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong);
    }
    if !raw_path.starts_with('/') {
        return Err(PathError::Bad);
    }
    let plain = !raw_path.ends_with('/')
        && !raw_path.contains(['%', '\\', '\0'])
        && !raw_path.contains("//")
        && !raw_path.contains("/./")
        && !raw_path.contains("/../")
        && !raw_path.ends_with("/.")
        && !raw_path.ends_with("/..");
    if plain {
        return Ok(std::borrow::Cow::Borrowed(raw_path));
    }
    let mut route = String::with_capacity(raw_path.len());
    let segments: Vec<&str> = raw_path[1..].split('/').collect();
    for (i, seg) in segments.iter().enumerate() {
        let bytes: Vec<u8> = percent_decode_str(seg).collect();
        let decoded = String::from_utf8(bytes).map_err(|_| PathError::Bad)?;
        if decoded.contains('\0') {
            return Err(PathError::Bad);
        }
        if decoded == "." || decoded == ".." || decoded.contains('/') || decoded.contains('\\') {
            return Err(PathError::NotFound);
        }
        if decoded.is_empty() && i + 1 != segments.len() {
            // `//` inside a path names nothing.
            return Err(PathError::NotFound);
        }
        route.push('/');
        route.push_str(&decoded);
    }
    if route.ends_with('/') {
        route.push_str("index.html");
    }
    Ok(std::borrow::Cow::Owned(route))
}
