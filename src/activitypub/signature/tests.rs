use super::*;
use hyper::header::HeaderValue;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};

const KEY_A: &str = include_str!("../testdata/key-a.pem");
const PUB_A: &str = include_str!("../testdata/key-a.pub.pem");
const PUB_A_PKCS1: &str = include_str!("../testdata/key-a.pkcs1.pub.pem");
const KEY_B: &str = include_str!("../testdata/key-b.pem");
const PUB_B: &str = include_str!("../testdata/key-b.pub.pem");
const KEY_ID: &str = "http://127.0.0.1:9/actor#main-key";

fn signer(pem: &str) -> impl Fn(&[u8]) -> Result<Vec<u8>, std::convert::Infallible> {
    let key = rsa::PrivateKey::from_pkcs8_pem(pem).unwrap();
    let signing = rsa::pkcs1v15::SigningKey::<Sha256>::new(key);
    move |data: &[u8]| Ok(signing.sign(data).to_vec())
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_780_000_000)
}

const BODY: &[u8] = br#"{"type":"Follow","actor":"http://127.0.0.1:9/actor"}"#;

/// A request as an inbox receives it: the signed headers, as sent.
fn signed_post(body: &[u8], key: &str, at: SystemTime) -> HeaderMap {
    let url = url::Url::parse("http://127.0.0.1:8080/ap/site/inbox").unwrap();
    let signed = sign_post(
        &url,
        body,
        "application/activity+json",
        KEY_ID,
        at,
        signer(key),
    )
    .unwrap();
    let mut h = HeaderMap::new();
    for (name, value) in signed.headers {
        h.append(name, HeaderValue::from_str(&value).unwrap());
    }
    h
}

fn req(headers: &HeaderMap) -> Request<'_> {
    Request {
        method: "POST",
        target: "/ap/site/inbox",
        headers,
    }
}

/// Every check, as the inbox makes them, with key A.
fn check(headers: &HeaderMap, body: &[u8], at: SystemTime) -> Result<(), SignatureError> {
    let r = req(headers);
    let (params, text) = check_request(&r, Some(body), at)?;
    assert_eq!(params.key_id, KEY_ID);
    verify(PUB_A, &params.key_id, &text, &params.signature)
}

#[test]
fn signed_then_verified() {
    let h = signed_post(BODY, KEY_A, now());
    assert_eq!(check(&h, BODY, now()), Ok(()));
    let sig = h.get("signature").unwrap().to_str().unwrap();
    assert!(sig.contains(r#"algorithm="rsa-sha256""#), "{sig}");
    assert!(
        sig.contains(&format!(r#"headers="{POST_HEADERS}""#)),
        "{sig}"
    );
    assert_eq!(h.get("host").unwrap(), "127.0.0.1:8080");
    assert_eq!(
        h.get("digest").unwrap().to_str().unwrap(),
        digest(BODY),
        "SHA-256 of the body"
    );
    // A PKCS#1 PEM of the same key verifies too.
    let (params, text) = check_request(&req(&h), Some(BODY), now()).unwrap();
    assert_eq!(
        verify(PUB_A_PKCS1, KEY_ID, &text, &params.signature),
        Ok(())
    );
}

#[test]
fn another_key_does_not_verify() {
    let h = signed_post(BODY, KEY_B, now());
    assert_eq!(
        check(&h, BODY, now()),
        Err(SignatureError::Invalid(KEY_ID.into()))
    );
    let (params, text) = check_request(&req(&h), Some(BODY), now()).unwrap();
    assert_eq!(verify(PUB_B, KEY_ID, &text, &params.signature), Ok(()));
}

#[test]
fn a_tampered_header_fails() {
    for (name, value) in [
        ("host", "evil.example"),
        ("content-type", "text/plain"),
        // A minute later: within the hour, but not the date signed.
        ("date", "Thu, 28 May 2026 20:27:40 GMT"),
    ] {
        let mut h = signed_post(BODY, KEY_A, now());
        h.insert(name, HeaderValue::from_static(value));
        let got = check(&h, BODY, now());
        assert_eq!(got, Err(SignatureError::Invalid(KEY_ID.into())), "{name}");
    }
    // Another request target: a signature for one inbox is not one for another.
    let h = signed_post(BODY, KEY_A, now());
    let other = Request {
        method: "POST",
        target: "/ap/tags/rust/inbox",
        headers: &h,
    };
    let (params, text) = check_request(&other, Some(BODY), now()).unwrap();
    assert!(verify(PUB_A, KEY_ID, &text, &params.signature).is_err());
}

#[test]
fn a_tampered_body_fails_its_digest() {
    let h = signed_post(BODY, KEY_A, now());
    let mut tampered = BODY.to_vec();
    tampered[2] = b'X';
    assert_eq!(
        check(&h, &tampered, now()),
        Err(SignatureError::DigestMismatch)
    );
    // A digest replaced to match the new body breaks the signature instead.
    let mut h2 = h.clone();
    h2.insert("digest", HeaderValue::from_str(&digest(&tampered)).unwrap());
    assert!(matches!(
        check(&h2, &tampered, now()),
        Err(SignatureError::Invalid(_))
    ));
    // No digest at all, or one in an algorithm not checked.
    let mut h3 = h.clone();
    h3.remove("digest");
    assert!(matches!(
        check(&h3, BODY, now()),
        Err(SignatureError::NoDigest) | Err(SignatureError::MissingHeader(_))
    ));
    h3.insert("digest", HeaderValue::from_static("MD5=abc"));
    assert_eq!(check(&h3, BODY, now()), Err(SignatureError::NoDigest));
}

#[test]
fn the_date_must_be_within_an_hour() {
    let h = signed_post(BODY, KEY_A, now());
    let later = |s: u64| now() + Duration::from_secs(s);
    assert_eq!(check(&h, BODY, later(3599)), Ok(()));
    assert_eq!(
        check(&h, BODY, later(3601)),
        Err(SignatureError::Skew(3601))
    );
    let earlier = now() - Duration::from_secs(3700);
    assert_eq!(check(&h, BODY, earlier), Err(SignatureError::Skew(3700)));
    let mut h2 = h.clone();
    h2.insert("date", HeaderValue::from_static("yesterday"));
    assert_eq!(check(&h2, BODY, now()), Err(SignatureError::BadDate));
}

#[test]
fn listed_headers_must_be_present() {
    let mut h = signed_post(BODY, KEY_A, now());
    h.remove("content-type");
    assert_eq!(
        check(&h, BODY, now()),
        Err(SignatureError::MissingHeader("content-type".into()))
    );
}

#[test]
fn unsigned_and_uncovered_requests_are_refused() {
    let mut h = signed_post(BODY, KEY_A, now());
    let sig = h.remove("signature").unwrap();
    assert_eq!(check(&h, BODY, now()), Err(SignatureError::Unsigned));
    // An RFC 9421 signature is named as such (the sender may try draft-cavage next).
    let mut h9421 = h.clone();
    h9421.insert(
        "signature-input",
        HeaderValue::from_static("sig1=(\"@method\");keyid=\"k\""),
    );
    h9421.insert("signature", HeaderValue::from_static("sig1=:AAAA:"));
    assert_eq!(check(&h9421, BODY, now()), Err(SignatureError::Rfc9421));
    // The same value under `Authorization: Signature …` is accepted.
    let auth = format!("Signature {}", sig.to_str().unwrap());
    h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    assert_eq!(check(&h, BODY, now()), Ok(()));
    // A signature that does not cover the digest of a body, or the request target.
    let sig = sig.to_str().unwrap();
    for (from, to, missing) in [
        ("digest content-type", "content-type", "digest"),
        ("(request-target) host", "host", "(request-target)"),
        ("host date digest", "host digest", "date"),
    ] {
        let mut h = signed_post(BODY, KEY_A, now());
        let narrowed = sig.replace(from, to);
        h.insert("signature", HeaderValue::from_str(&narrowed).unwrap());
        assert_eq!(
            check(&h, BODY, now()),
            Err(SignatureError::NotCovered(missing))
        );
    }
}

#[test]
fn header_names_are_case_insensitive_and_values_joined() {
    // Names in `headers=` in capitals, parameters in another order, `hs2019`.
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("a.example"));
    h.insert(
        "date",
        HeaderValue::from_static("Thu, 28 May 2026 20:26:40 GMT"),
    );
    h.append("x-multi", HeaderValue::from_static("one"));
    h.append("x-multi", HeaderValue::from_static(" two "));
    let names: Vec<String> = ["(request-target)", "host", "date", "x-multi"]
        .map(String::from)
        .to_vec();
    let r = Request {
        method: "GET",
        target: "/x?y=1",
        headers: &h,
    };
    let text = signing_string(&r, &names, None, None).unwrap();
    assert_eq!(
        text,
        "(request-target): get /x?y=1\nhost: a.example\ndate: Thu, 28 May 2026 20:26:40 GMT\nx-multi: one, two"
    );
    let sig = BASE64.encode(signer(KEY_A)(text.as_bytes()).unwrap());
    let value = format!(
        "signature=\"{sig}\", Headers=\"(Request-Target) HOST Date X-Multi\", ALGORITHM=\"hs2019\", keyId=\"{KEY_ID}\""
    );
    h.insert("Signature", HeaderValue::from_str(&value).unwrap());
    let r = Request {
        method: "GET",
        target: "/x?y=1",
        headers: &h,
    };
    let (params, got) = check_request(&r, None, now()).unwrap();
    assert_eq!(got, text);
    assert_eq!(params.algorithm.as_deref(), Some("hs2019"));
    assert_eq!(verify(PUB_A, KEY_ID, &got, &params.signature), Ok(()));
}

#[test]
fn created_may_stand_for_date() {
    let mut h = HeaderMap::new();
    h.insert("digest", HeaderValue::from_str(&digest(BODY)).unwrap());
    let created = now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let names: Vec<String> = ["(request-target)", "(created)", "digest"]
        .map(String::from)
        .to_vec();
    let text = signing_string(&req(&h), &names, Some(created), None).unwrap();
    assert!(text.contains(&format!("(created): {created}")), "{text}");
    let sig = BASE64.encode(signer(KEY_A)(text.as_bytes()).unwrap());
    let value = format!(
        "keyId=\"{KEY_ID}\",algorithm=\"hs2019\",created={created},expires={},headers=\"(request-target) (created) digest\",signature=\"{sig}\"",
        created + 300
    );
    h.insert("signature", HeaderValue::from_str(&value).unwrap());
    assert_eq!(check(&h, BODY, now()), Ok(()));
    assert_eq!(
        check(&h, BODY, now() + Duration::from_secs(301)),
        Err(SignatureError::Expired)
    );
}

#[test]
fn malformed_headers_are_named() {
    for (value, what) in [
        ("", "no keyId"),
        (r#"keyId="k""#, "no signature"),
        (r#"keyId="k",signature="!!!""#, "not base64"),
        (r#"keyId="k"#, "unterminated"),
        (r#"keyId="k" signature="AAAA""#, "separated by commas"),
        (r#"keyId"#, "without `=`"),
        (
            r#"keyId="k",signature="AAAA",headers="""#,
            "headers is empty",
        ),
        (r#"keyId="k",signature="AAAA",created=soon"#, "non-numeric"),
    ] {
        match parse(value) {
            Err(SignatureError::Malformed(why)) => assert!(why.contains(what), "{value}: {why}"),
            other => panic!("{value}: {other:?}"),
        }
    }
    assert_eq!(
        parse(r#"keyId="k",algorithm="rsa-sha512",signature="AAAA""#),
        Err(SignatureError::Algorithm("rsa-sha512".into()))
    );
    let p = parse(r#"keyId="k",signature="AAAA""#).unwrap();
    assert_eq!(p.headers, ["date"], "the default list");
    assert!(parse(&"x".repeat(9000)).is_err());
}

#[test]
fn keys_that_are_not_rsa_pem_are_refused() {
    let bad = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----";
    assert!(matches!(
        verify(bad, "k", "text", b"sig"),
        Err(SignatureError::BadKey(_))
    ));
    assert!(matches!(
        verify("", "k", "text", b"sig"),
        Err(SignatureError::BadKey(_))
    ));
    assert!(verify(PUB_A, "k", "text", b"short").is_err());
}

#[test]
fn signed_gets_cover_the_target_and_accept() {
    let url = url::Url::parse("https://a.example/users/x?page=1").unwrap();
    let s = sign_get(
        &url,
        "application/activity+json",
        KEY_ID,
        now(),
        signer(KEY_A),
    )
    .unwrap();
    let mut h = HeaderMap::new();
    for (name, value) in s.headers {
        h.insert(name, HeaderValue::from_str(&value).unwrap());
    }
    assert_eq!(h.get("host").unwrap(), "a.example");
    let r = Request {
        method: "GET",
        target: "/users/x?page=1",
        headers: &h,
    };
    let (params, text) = check_request(&r, None, now()).unwrap();
    assert!(
        text.ends_with("accept: application/activity+json"),
        "{text}"
    );
    assert_eq!(verify(PUB_A, KEY_ID, &text, &params.signature), Ok(()));
}
