//! HTTP Signatures as the Fediverse uses them: draft-cavage-http-signatures-12 with
//! `rsa-sha256` (or `hs2019` naming the same thing) and a `Digest` of the body, the way
//! Mastodon signs and checks.
//!
//! ```text
//! Signature: keyId="https://a.example/users/x#main-key",algorithm="rsa-sha256",
//!            headers="(request-target) host date digest content-type",signature="base64…"
//! ```
//!
//! The signing string is one line per name of `headers`, joined by `\n`: `(request-target):
//! post /inbox`, `(created): …`, or `name: value` with the header's values (all of them, in
//! order, joined by `, `). Everything here is a pure function of its inputs: the caller fetches
//! the key (see `inbox`) and says what time it is. RFC 9421 (the newer `Signature-Input`) is
//! not supported: every server that speaks it also speaks this, as Mastodon and Fedify do.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hyper::HeaderMap;
use sha2::{Digest as _, Sha256, Sha512};

/// How far a request's `Date` (or `(created)`) may be from now, either way.
pub const MAX_SKEW: Duration = Duration::from_secs(3600);
/// The headers an outgoing POST signs.
pub const POST_HEADERS: &str = "(request-target) host date digest content-type";
/// The headers an outgoing GET signs.
pub const GET_HEADERS: &str = "(request-target) host date accept";
/// Longest `Signature` header value parsed.
const MAX_HEADER_BYTES: usize = 8 * 1024;

/// Why a request's signature does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Signature header (the request is not signed)")]
    Unsigned,
    #[error("RFC 9421 signatures (Signature-Input) are not supported; sign with draft-cavage-http-signatures-12")]
    Rfc9421,
    #[error("the Signature header is malformed: {0}")]
    Malformed(String),
    #[error("the signature algorithm {0:?} is not supported (rsa-sha256 or hs2019)")]
    Algorithm(String),
    #[error("the signature does not cover {0} (required)")]
    NotCovered(&'static str),
    #[error("the signed header {0} is missing from the request")]
    MissingHeader(String),
    #[error("the Date header is missing or not an HTTP date")]
    BadDate,
    #[error("the request's date is {0} s away from now (more than an hour)")]
    Skew(u64),
    #[error("the signature has expired")]
    Expired,
    #[error("no Digest header with SHA-256 or SHA-512")]
    NoDigest,
    #[error("the Digest header does not match the body")]
    DigestMismatch,
    #[error("the sender's key is unusable: {0}")]
    BadKey(String),
    #[error("the signature does not verify with the key {0}")]
    Invalid(String),
}

/// A parsed `Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    pub key_id: String,
    pub algorithm: Option<String>,
    /// The covered header names, lowercased, in order.
    pub headers: Vec<String>,
    pub signature: Vec<u8>,
    pub created: Option<u64>,
    pub expires: Option<u64>,
}

/// The `Signature` header's value, or that of `Authorization: Signature …`.
pub fn signature_header(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("signature") {
        return v.to_str().ok();
    }
    let auth = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("signature").then_some(rest)
}

/// Parses `keyId="…",algorithm="…",headers="…",signature="…"` (parameters in any order,
/// names case-insensitive, unknown ones ignored).
pub fn parse(value: &str) -> Result<Params, SignatureError> {
    let bad = |why: &str| SignatureError::Malformed(why.to_owned());
    if value.len() > MAX_HEADER_BYTES {
        return Err(bad("longer than 8 KiB"));
    }
    let (mut key_id, mut algorithm, mut headers, mut signature) = (None, None, None, None);
    let (mut created, mut expires) = (None, None);
    let mut rest = value.trim();
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once('=')
            .ok_or_else(|| bad("a parameter without `=`"))?;
        let name = name.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (val, after) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted
                .find('"')
                .ok_or_else(|| bad("an unterminated quoted value"))?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            // `created` and `expires` are bare integers.
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        let after = after.trim_start();
        rest = match after.strip_prefix(',') {
            Some(r) => r.trim_start(),
            None if after.is_empty() => after,
            None => return Err(bad("parameters must be separated by commas")),
        };
        let number = |v: &str| v.parse::<u64>().map_err(|_| bad("a non-numeric timestamp"));
        match name.as_str() {
            "keyid" => key_id = Some(val.to_owned()),
            "algorithm" => algorithm = Some(val.to_ascii_lowercase()),
            "headers" => headers = Some(val.to_owned()),
            "signature" => signature = Some(val.to_owned()),
            "created" => created = Some(number(val)?),
            "expires" => expires = Some(number(val)?),
            _ => {}
        }
    }
    let key_id = key_id
        .filter(|k| !k.is_empty())
        .ok_or_else(|| bad("no keyId"))?;
    let signature = signature.ok_or_else(|| bad("no signature"))?;
    let signature = BASE64
        .decode(signature.trim())
        .map_err(|_| bad("the signature is not base64"))?;
    if let Some(a) = &algorithm {
        if a != "rsa-sha256" && a != "hs2019" {
            return Err(SignatureError::Algorithm(a.clone()));
        }
    }
    // The draft's default is `(created)`; Mastodon's (and older drafts') is `date`.
    let headers = headers.unwrap_or_else(|| "date".to_owned());
    let headers: Vec<String> = headers
        .split_ascii_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    if headers.is_empty() {
        return Err(bad("headers is empty"));
    }
    Ok(Params {
        key_id,
        algorithm,
        headers,
        signature,
        created,
        expires,
    })
}

/// The request a signature covers.
pub struct Request<'a> {
    /// `POST`, `GET`…
    pub method: &'a str,
    /// The path and query as sent (`/ap/site/inbox`).
    pub target: &'a str,
    pub headers: &'a HeaderMap,
}

/// The signing string of `req` for the covered `names`.
pub fn signing_string(
    req: &Request<'_>,
    names: &[String],
    created: Option<u64>,
    expires: Option<u64>,
) -> Result<String, SignatureError> {
    let mut lines = Vec::with_capacity(names.len());
    for name in names {
        let line = match name.as_str() {
            "(request-target)" => format!(
                "(request-target): {} {}",
                req.method.to_ascii_lowercase(),
                req.target
            ),
            "(created)" => format!(
                "(created): {}",
                created.ok_or_else(|| SignatureError::MissingHeader(name.clone()))?
            ),
            "(expires)" => format!(
                "(expires): {}",
                expires.ok_or_else(|| SignatureError::MissingHeader(name.clone()))?
            ),
            _ => {
                let values: Vec<&str> = req
                    .headers
                    .get_all(name.as_str())
                    .iter()
                    .map(|v| v.to_str().map(str::trim))
                    .collect::<Result<_, _>>()
                    .map_err(|_| SignatureError::MissingHeader(name.clone()))?;
                if values.is_empty() {
                    return Err(SignatureError::MissingHeader(name.clone()));
                }
                format!("{name}: {}", values.join(", "))
            }
        };
        lines.push(line);
    }
    Ok(lines.join("\n"))
}

/// Checks what can be checked without the key: the parameters cover the request target, a
/// date and (with a body) the digest; the date is within [`MAX_SKEW`] of `now`; the digest
/// matches `body`. Returns the parameters and the signing string to verify.
pub fn check_request(
    req: &Request<'_>,
    body: Option<&[u8]>,
    now: SystemTime,
) -> Result<(Params, String), SignatureError> {
    let value = signature_header(req.headers).ok_or(SignatureError::Unsigned)?;
    if req.headers.contains_key("signature-input") {
        return Err(SignatureError::Rfc9421);
    }
    let params = parse(value)?;
    let covers = |n: &str| params.headers.iter().any(|h| h == n);
    if !covers("(request-target)") {
        return Err(SignatureError::NotCovered("(request-target)"));
    }
    let now_s = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if covers("date") {
        let date = req
            .headers
            .get(hyper::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .ok_or(SignatureError::BadDate)?;
        let skew = match date.duration_since(now) {
            Ok(ahead) => ahead,
            Err(e) => e.duration(),
        };
        if skew > MAX_SKEW {
            return Err(SignatureError::Skew(skew.as_secs()));
        }
    } else if covers("(created)") {
        let created = params
            .created
            .ok_or_else(|| SignatureError::MissingHeader("(created)".into()))?;
        let skew = created.abs_diff(now_s);
        if skew > MAX_SKEW.as_secs() {
            return Err(SignatureError::Skew(skew));
        }
    } else {
        return Err(SignatureError::NotCovered("date"));
    }
    if params.expires.is_some_and(|e| e < now_s) {
        return Err(SignatureError::Expired);
    }
    if let Some(body) = body {
        if !covers("digest") {
            return Err(SignatureError::NotCovered("digest"));
        }
        check_digest(req.headers, body)?;
    }
    let text = signing_string(req, &params.headers, params.created, params.expires)?;
    Ok((params, text))
}

/// Whether the `Digest` header (`SHA-256=base64`, possibly among others) matches `body`.
pub fn check_digest(headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
    let mut found = false;
    for value in headers.get_all("digest") {
        let value = value.to_str().map_err(|_| SignatureError::NoDigest)?;
        for item in value.split(',') {
            let Some((alg, b64)) = item.trim().split_once('=') else {
                continue;
            };
            let expected = match alg.to_ascii_lowercase().as_str() {
                "sha-256" => Sha256::digest(body).to_vec(),
                "sha-512" => Sha512::digest(body).to_vec(),
                _ => continue,
            };
            found = true;
            // A digest that does not decode matches nothing.
            if BASE64.decode(b64.trim()).ok().as_deref() != Some(expected.as_slice()) {
                return Err(SignatureError::DigestMismatch);
            }
        }
    }
    if found {
        Ok(())
    } else {
        Err(SignatureError::NoDigest)
    }
}

/// Verifies `signature` over `text` with the sender's public key in PEM (SPKI or PKCS#1, at
/// least 2048 bits: [`super::key::verify_sha256`]).
pub fn verify(
    public_pem: &str,
    key_id: &str,
    text: &str,
    signature: &[u8],
) -> Result<(), SignatureError> {
    super::verify_sha256(public_pem, text.as_bytes(), signature).map_err(|e| match e {
        super::KeyError::BadSignature => SignatureError::Invalid(key_id.to_owned()),
        other => SignatureError::BadKey(other.to_string()),
    })
}

/// `SHA-256=base64` of a body.
pub fn digest(body: &[u8]) -> String {
    format!("SHA-256={}", BASE64.encode(Sha256::digest(body)))
}

/// The `Host` a URL is reached at: its host, and its port unless it is the scheme's default.
pub fn host_of(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

/// The headers of an outgoing request, signed: send each as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub headers: Vec<(&'static str, String)>,
}

/// Signs a POST of `body` to `url` as `key_id`, `sign` making the RSA signature of the
/// signing string (the actor key's `sign_sha256`): `Host`, `Date`, `Digest`, `Content-Type`
/// and `Signature` covering all of them and `(request-target)`.
pub fn sign_post<E>(
    url: &url::Url,
    body: &[u8],
    content_type: &str,
    key_id: &str,
    now: SystemTime,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Signed, E> {
    let headers = vec![
        ("host", host_of(url)),
        ("date", httpdate::fmt_http_date(now)),
        ("digest", digest(body)),
        ("content-type", content_type.to_owned()),
    ];
    sign_headers("post", url, headers, POST_HEADERS, key_id, sign)
}

/// Signs a GET of `url` (an actor document, for servers that want signed fetches).
pub fn sign_get<E>(
    url: &url::Url,
    accept: &str,
    key_id: &str,
    now: SystemTime,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Signed, E> {
    let headers = vec![
        ("host", host_of(url)),
        ("date", httpdate::fmt_http_date(now)),
        ("accept", accept.to_owned()),
    ];
    sign_headers("get", url, headers, GET_HEADERS, key_id, sign)
}

fn sign_headers<E>(
    method: &str,
    url: &url::Url,
    mut headers: Vec<(&'static str, String)>,
    names: &str,
    key_id: &str,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Signed, E> {
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let mut text = format!("(request-target): {method} {target}");
    for (name, value) in &headers {
        text.push('\n');
        text.push_str(name);
        text.push_str(": ");
        text.push_str(value);
    }
    let signature = BASE64.encode(sign(text.as_bytes())?);
    headers.push((
        "signature",
        format!(
            "keyId=\"{key_id}\",algorithm=\"rsa-sha256\",headers=\"{names}\",signature=\"{signature}\""
        ),
    ));
    Ok(Signed { headers })
}

#[cfg(test)]
mod tests;
