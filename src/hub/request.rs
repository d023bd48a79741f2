//! A subscriber's request to the hub (WebSub §5.1): the form body parsed strictly, and the
//! checks that need nothing but the request itself — the callback's shape and, for an IP
//! literal, its address class (a host name is checked when it is resolved, see
//! [`super::deliver`]).
//!
//! Everything here is a pure function of its input, so hostile requests are unit-tested here
//! and the hub only ever sees a [`HubRequest`] that is well-formed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use percent_encoding::percent_decode;
use url::{Host, Url};

/// Largest request body read, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest `hub.callback` and `hub.topic`, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// `hub.secret` "MUST be less than 200 bytes in length" (WebSub §5.1).
pub const MAX_SECRET_BYTES: usize = 199;

/// `hub.mode` of a subscriber request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Subscribe,
    Unsubscribe,
}

impl Mode {
    /// The `hub.mode` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Subscribe => "subscribe",
            Mode::Unsubscribe => "unsubscribe",
        }
    }
}

/// A well-formed subscription request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubRequest {
    pub mode: Mode,
    /// As the subscriber wrote it (echoed back in the verification).
    pub topic: String,
    pub callback: Url,
    /// As asked for, before bounding (`None`: the hub's default).
    pub lease_seconds: Option<u64>,
    /// `None` when absent or empty: deliveries are then not signed.
    pub secret: Option<String>,
}

/// Whether a `Content-Type` names a form body (parameters such as `charset` are allowed).
pub fn is_form(content_type: Option<&str>) -> bool {
    crate::accept::content_type_is(content_type, &["application/x-www-form-urlencoded"])
}

/// Why a subscriber's request is refused: the reason, sent back with a `400`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequest(pub String);

impl From<String> for BadRequest {
    fn from(why: String) -> BadRequest {
        BadRequest(why)
    }
}

impl From<&str> for BadRequest {
    fn from(why: &str) -> BadRequest {
        BadRequest(why.to_owned())
    }
}

/// Decodes an `application/x-www-form-urlencoded` body: `+` is a space, `%XX` a byte, and the
/// decoded bytes must be UTF-8 (a secret or URL must not be silently altered). Empty pairs
/// (`a=1&&b=2`) are skipped.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, BadRequest> {
    let decode = |part: &[u8]| -> Result<String, BadRequest> {
        let plus: Vec<u8> = part
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        let bytes: Vec<u8> = percent_decode(&plus).collect();
        String::from_utf8(bytes).map_err(|_| BadRequest::from("the form is not UTF-8"))
    };
    let mut pairs = Vec::new();
    for part in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match part.iter().position(|&b| b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &b""[..]),
        };
        pairs.push((decode(name)?, decode(value)?));
    }
    Ok(pairs)
}

/// Parses and checks a subscription request body. The error is the reason, for a `400`.
pub fn parse(body: &[u8]) -> Result<HubRequest, BadRequest> {
    let pairs = parse_form(body)?;
    let mut mode = None;
    let mut topic = None;
    let mut callback = None;
    let mut lease = None;
    let mut secret = None;
    for (name, value) in pairs {
        let slot = match name.as_str() {
            "hub.mode" => &mut mode,
            "hub.topic" => &mut topic,
            "hub.callback" => &mut callback,
            "hub.lease_seconds" => &mut lease,
            "hub.secret" => &mut secret,
            // Other parameters are extensions (WebSub §5.1): ignored.
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(format!("{name} is given more than once").into());
        }
    }
    let mode = match mode.as_deref() {
        Some("subscribe") => Mode::Subscribe,
        Some("unsubscribe") => Mode::Unsubscribe,
        Some(other) => {
            return Err(format!(
                "hub.mode must be \"subscribe\" or \"unsubscribe\", got {:?}",
                truncate(other)
            )
            .into())
        }
        None => return Err(BadRequest::from("hub.mode is missing")),
    };
    let topic = topic.ok_or("hub.topic is missing")?;
    if topic.is_empty() || topic.len() > MAX_URL_BYTES {
        return Err(format!("hub.topic must be a URL of 1 to {MAX_URL_BYTES} bytes").into());
    }
    if topic.chars().any(char::is_control) {
        // URL parsing drops tabs and newlines; the topic is echoed and logged as given.
        return Err(BadRequest::from(
            "hub.topic must not contain control characters",
        ));
    }
    if Url::parse(&topic).is_err() {
        return Err(format!("hub.topic is not an absolute URL: {:?}", truncate(&topic)).into());
    }
    let callback = parse_callback(&callback.ok_or("hub.callback is missing")?)?;
    let lease_seconds = match lease.as_deref() {
        None | Some("") => None,
        Some(text) => Some(parse_lease(text)?),
    };
    let secret = secret.filter(|s| !s.is_empty());
    if let Some(s) = &secret {
        if s.len() > MAX_SECRET_BYTES {
            return Err(format!("hub.secret must be less than 200 bytes, got {}", s.len()).into());
        }
    }
    Ok(HubRequest {
        mode,
        topic,
        callback,
        lease_seconds,
        secret,
    })
}

/// `hub.lease_seconds`: ASCII digits only; a number too large for `u64` means "the longest".
fn parse_lease(text: &str) -> Result<u64, BadRequest> {
    if !text.bytes().all(|b| b.is_ascii_digit()) || text.len() > 40 {
        return Err(format!(
            "hub.lease_seconds must be a whole number of seconds, got {:?}",
            truncate(text)
        )
        .into());
    }
    Ok(text.parse::<u64>().unwrap_or(u64::MAX))
}

/// Checks a callback URL: absolute `http`/`https` with a host, no user name or password, no
/// fragment, at most [`MAX_URL_BYTES`], and acceptable to the HTTP client.
pub fn parse_callback(text: &str) -> Result<Url, BadRequest> {
    if text.is_empty() || text.len() > MAX_URL_BYTES {
        return Err(format!("hub.callback must be a URL of 1 to {MAX_URL_BYTES} bytes").into());
    }
    let url = Url::parse(text).map_err(|e| {
        BadRequest(format!(
            "hub.callback is not an absolute URL ({e}): {:?}",
            truncate(text)
        ))
    })?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!(
            "hub.callback must be an http or https URL, got {:?}",
            url.scheme()
        )
        .into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(BadRequest::from("hub.callback has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(BadRequest::from(
            "hub.callback must not hold a user name or password",
        ));
    }
    if url.fragment().is_some() {
        return Err(BadRequest::from("hub.callback must not have a fragment"));
    }
    if url.as_str().len() > MAX_URL_BYTES {
        return Err(format!("hub.callback is longer than {MAX_URL_BYTES} bytes").into());
    }
    if ureq::http::Uri::try_from(url.as_str()).is_err() {
        return Err(format!(
            "hub.callback is not a URL the hub can request: {:?}",
            truncate(text)
        )
        .into());
    }
    Ok(url)
}

/// The callback's address when its host is an IP literal (checked at once; a name is
/// checked when it is resolved).
pub fn literal_ip(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        Host::Domain(_) => None,
    }
}

/// Bounds a requested lease to `[min, max]`; `None` takes the default.
pub fn bound_lease(requested: Option<u64>, default: u64, min: u64, max: u64) -> u64 {
    requested.unwrap_or(default).clamp(min, max)
}

/// What kind of address a callback resolves to, for the callback policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrClass {
    /// Routable on the Internet (documentation ranges included: they reach nothing).
    Public,
    /// 127/8, ::1: this machine; always allowed (a subscriber on the same host, tests).
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, 100.64/10 (shared CGN space), fc00::/7, fec0::/10.
    Private,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    /// Never a callback: unspecified (0/8, ::), multicast, broadcast, 240/4.
    Unusable,
}

/// Classifies an address. IPv6 forms that carry an IPv4 address (`::ffff:a.b.c.d`, NAT64
/// `64:ff9b::/96`, 6to4 `2002::/16`) are classified by that address, so a private network
/// cannot be reached through them.
pub fn classify(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        AddrClass::Loopback
    } else if a == 0 || ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        AddrClass::Unusable
    } else if ip.is_link_local() {
        AddrClass::LinkLocal
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        AddrClass::Private
    } else {
        AddrClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let seg = ip.segments();
    let embedded = if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 well-known prefix: the last 32 bits.
        Some(Ipv4Addr::from(u128::from(ip) as u32))
    } else if seg[0] == 0x2002 {
        // 6to4: bits 16..48.
        Some(Ipv4Addr::new(
            (seg[1] >> 8) as u8,
            seg[1] as u8,
            (seg[2] >> 8) as u8,
            seg[2] as u8,
        ))
    } else {
        None
    };
    if let Some(v4) = embedded {
        return match classify_v4(v4) {
            AddrClass::Loopback => AddrClass::Private,
            other => other,
        };
    }
    if ip.is_loopback() {
        AddrClass::Loopback
    } else if ip.is_unspecified() || ip.is_multicast() {
        AddrClass::Unusable
    } else if seg[0] & 0xffc0 == 0xfe80 {
        AddrClass::LinkLocal
    } else if seg[0] & 0xfe00 == 0xfc00 || seg[0] & 0xffc0 == 0xfec0 {
        AddrClass::Private
    } else {
        AddrClass::Public
    }
}

/// Whether the hub may contact `ip`.
pub fn allowed(ip: IpAddr, allow_private: bool) -> bool {
    match classify(ip) {
        AddrClass::Public | AddrClass::Loopback => true,
        AddrClass::Private | AddrClass::LinkLocal => allow_private,
        AddrClass::Unusable => false,
    }
}

/// A short, printable excerpt of hostile input for an error message.
fn truncate(text: &str) -> String {
    const MAX: usize = 100;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "http%3A%2F%2F127.0.0.1%3A8080%2Frss.xml";

    fn body(extra: &str) -> Vec<u8> {
        format!("hub.mode=subscribe&hub.topic={TOPIC}&hub.callback=http%3A%2F%2Fsub.example%2Fcb{extra}")
            .into_bytes()
    }

    #[test]
    fn a_full_request_parses() {
        let r = parse(&body(
            "&hub.lease_seconds=3600&hub.secret=s3cr%2Bt+x&x.other=1",
        ))
        .unwrap();
        assert_eq!(r.mode, Mode::Subscribe);
        assert_eq!(r.topic, "http://127.0.0.1:8080/rss.xml");
        assert_eq!(r.callback.as_str(), "http://sub.example/cb");
        assert_eq!(r.lease_seconds, Some(3600));
        assert_eq!(r.secret.as_deref(), Some("s3cr+t x"));
        let r = parse(
            b"hub.callback=https://sub.example/cb?id=1%262&hub.mode=unsubscribe&hub.topic=https://x/rss.xml",
        )
        .unwrap();
        assert_eq!(r.mode, Mode::Unsubscribe);
        assert_eq!(r.lease_seconds, None);
        assert_eq!(r.secret, None);
        assert_eq!(r.callback.query(), Some("id=1&2"));
        // An empty secret is no secret.
        assert_eq!(parse(&body("&hub.secret=")).unwrap().secret, None);
    }

    #[test]
    fn malformed_requests_are_refused() {
        let long_secret = format!("&hub.secret={}", "s".repeat(200));
        for (b, why) in [
            (b"".to_vec(), "mode is missing"),
            (
                b"hub.topic=http://x/rss.xml&hub.callback=http://y/".to_vec(),
                "mode is missing",
            ),
            (body("&hub.mode=subscribe"), "more than once"),
            (
                b"hub.mode=publish&hub.topic=http://x/&hub.callback=http://y/".to_vec(),
                "hub.mode must be",
            ),
            (
                b"hub.mode=subscribe&hub.callback=http://y/".to_vec(),
                "topic is missing",
            ),
            (
                b"hub.mode=subscribe&hub.topic=rss.xml&hub.callback=http://y/".to_vec(),
                "topic is not",
            ),
            (
                format!("hub.mode=subscribe&hub.topic={TOPIC}").into_bytes(),
                "callback is missing",
            ),
            (
                b"hub.mode=subscribe&hub.topic=http://x/rss.xml%0A%0Dforged&hub.callback=http://y/"
                    .to_vec(),
                "control characters",
            ),
            (body("&hub.lease_seconds=abc"), "lease_seconds"),
            (body("&hub.lease_seconds=-5"), "lease_seconds"),
            (body("&hub.lease_seconds=%2B5"), "lease_seconds"),
            (long_secret.clone().into_bytes(), "mode is missing"),
            (body(&long_secret), "less than 200 bytes"),
            (body("&hub.secret=%FF%FE"), "not UTF-8"),
        ] {
            let err = parse(&b).unwrap_err();
            assert!(
                err.0.contains(why),
                "{}: {err}",
                String::from_utf8_lossy(&b)
            );
        }
        // 199 bytes is fine.
        let ok = format!("&hub.secret={}", "s".repeat(199));
        assert!(parse(&body(&ok)).is_ok());
        // Hostile bytes never panic.
        for b in [
            &b"%"[..],
            b"%%%",
            b"=&=&=",
            b"hub.mode",
            b"\xff\xfe=\x00",
            b"hub.mode=%E4%B8",
        ] {
            assert!(parse(b).is_err());
        }
    }

    #[test]
    fn lease_numbers() {
        assert_eq!(parse_lease("0"), Ok(0));
        assert_eq!(parse_lease("99999999999999999999999"), Ok(u64::MAX));
        assert!(parse_lease("1e3").is_err());
        assert!(parse_lease(" 1").is_err());
        assert_eq!(bound_lease(None, 864_000, 300, 2_592_000), 864_000);
        assert_eq!(bound_lease(Some(1), 864_000, 300, 2_592_000), 300);
        assert_eq!(
            bound_lease(Some(u64::MAX), 864_000, 300, 2_592_000),
            2_592_000
        );
        assert_eq!(bound_lease(Some(4000), 864_000, 300, 2_592_000), 4000);
    }

    #[test]
    fn callbacks() {
        assert!(parse_callback("http://127.0.0.1:9/cb?x=1").is_ok());
        assert!(parse_callback("https://sub.example/websub/42").is_ok());
        assert!(parse_callback("HTTPS://SUB.example").is_ok());
        for (bad, why) in [
            ("", "1 to"),
            ("/relative", "not an absolute URL"),
            ("ftp://sub.example/", "http or https"),
            ("file:///etc/passwd", "http or https"),
            ("javascript:alert(1)", "http or https"),
            ("http://user@sub.example/", "user name"),
            ("http://user:pw@sub.example/", "user name"),
            ("http://:pw@sub.example/", "user name"),
            ("http://sub.example/#frag", "fragment"),
            ("http://", "not an absolute URL"),
            ("http://[::1/", "not an absolute URL"),
        ] {
            let err = parse_callback(bad).unwrap_err();
            assert!(err.0.contains(why), "{bad:?}: {err}");
        }
        assert!(parse_callback(&format!("http://x/{}", "a".repeat(3000))).is_err());
        assert_eq!(
            literal_ip(&parse_callback("http://[fe80::1]:8/").unwrap()),
            Some("fe80::1".parse().unwrap())
        );
        assert_eq!(
            literal_ip(&parse_callback("http://10.1.2.3/").unwrap()),
            Some("10.1.2.3".parse().unwrap())
        );
        // WHATWG URL parsing: a decimal or hex host is an IPv4 literal too.
        assert_eq!(
            literal_ip(&parse_callback("http://167772161/").unwrap()),
            Some("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            literal_ip(&parse_callback("http://0x7f.1/").unwrap()),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(
            literal_ip(&parse_callback("http://sub.example/").unwrap()),
            None
        );
    }

    #[test]
    fn content_types() {
        assert!(is_form(Some("application/x-www-form-urlencoded")));
        assert!(is_form(Some(
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8"
        )));
        assert!(!is_form(Some("multipart/form-data; boundary=x")));
        assert!(!is_form(Some("application/json")));
        assert!(!is_form(None));
    }

    #[test]
    fn address_classes() {
        let c = |s: &str| classify(s.parse().unwrap());
        for ip in ["127.0.0.1", "127.8.9.10", "::1"] {
            assert_eq!(c(ip), AddrClass::Loopback, "{ip}");
        }
        for ip in [
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "100.64.0.1",
            "fc00::1",
            "fd12:3456::1",
            "fec0::1",
            "::ffff:10.1.2.3",
            "::ffff:192.168.0.1",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
            "2002:7f00:1::1",
        ] {
            assert_eq!(c(ip), AddrClass::Private, "{ip}");
        }
        for ip in [
            "169.254.169.254",
            "169.254.0.1",
            "fe80::1",
            "febf::1",
            "::ffff:169.254.1.1",
        ] {
            assert_eq!(c(ip), AddrClass::LinkLocal, "{ip}");
        }
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::",
            "ff02::1",
        ] {
            assert_eq!(c(ip), AddrClass::Unusable, "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "172.15.255.255",
            "172.32.0.1",
            "192.169.0.1",
            "100.128.0.1",
            "11.0.0.1",
            "2001:4860:4860::8888",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(c(ip), AddrClass::Public, "{ip}");
        }
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(allowed(ip("127.0.0.1"), false));
        assert!(allowed(ip("93.184.216.34"), false));
        assert!(!allowed(ip("10.0.0.1"), false));
        assert!(!allowed(ip("fe80::1"), false));
        assert!(allowed(ip("10.0.0.1"), true));
        assert!(allowed(ip("fe80::1"), true));
        assert!(!allowed(ip("0.0.0.0"), true));
        assert!(!allowed(ip("ff02::1"), true));
    }
}
