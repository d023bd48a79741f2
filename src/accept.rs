//! Media types in requests. The `Accept` header (RFC 9110 §12.5.1): the q-value a list of
//! media ranges gives a media type, from its most specific matching range. Used wherever one
//! address has several representations: a feed or its browser view (`server::navigation`), a
//! post's page or its ActivityPub `Article` (`activitypub::negotiate`). And a body's
//! `Content-Type` ([`content_type_is`]): the hub's form, an inbox's activity.

/// Whether a `Content-Type` value names one of `types` (its essence, parameters aside,
/// compared case-insensitively: RFC 9110 §8.3.1). No value names none.
pub fn content_type_is(value: Option<&str>, types: &[&str]) -> bool {
    let Some(essence) = value.and_then(|v| v.split(';').next()).map(str::trim) else {
        return false;
    };
    types.iter().any(|t| essence.eq_ignore_ascii_case(t))
}

/// One media range of an `Accept` value: `type/subtype`, its parameters (`q` taken out) and
/// its weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Range<'a> {
    pub kind: &'a str,
    pub sub: &'a str,
    /// Parameters other than `q`, names as written, values unquoted.
    pub params: Vec<(&'a str, &'a str)>,
    /// 0.0 to 1.0 (a malformed `q` counts as 0: not acceptable).
    pub q: f32,
}

impl Range<'_> {
    /// The value of parameter `name` (case-insensitive name), if given.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// How specifically this range names `kind/sub`: 2 the type itself, 1 `kind/*`, 0 `*/*`;
    /// `None` when it does not match.
    pub fn specificity(&self, kind: &str, sub: &str) -> Option<u8> {
        match (self.kind, self.sub) {
            (t, s) if t.eq_ignore_ascii_case(kind) && s.eq_ignore_ascii_case(sub) => Some(2),
            (t, "*") if t.eq_ignore_ascii_case(kind) => Some(1),
            ("*", "*") => Some(0),
            _ => None,
        }
    }
}

/// The media ranges of one `Accept` value, in order; malformed ones skipped. A quoted
/// parameter value may hold `,` and `;` (`profile="a b"` is one value).
pub fn ranges(accept: &str) -> Vec<Range<'_>> {
    split_outside_quotes(accept, ',')
        .filter_map(|range| {
            let mut parts = split_outside_quotes(range, ';');
            let (kind, sub) = parts.next()?.trim().split_once('/')?;
            let (kind, sub) = (kind.trim(), sub.trim());
            if kind.is_empty() || sub.is_empty() {
                return None;
            }
            let mut q = 1.0;
            let mut params = Vec::new();
            for p in parts {
                let Some((k, v)) = p.split_once('=') else {
                    continue;
                };
                let (k, v) = (k.trim(), v.trim());
                if k.eq_ignore_ascii_case("q") {
                    q = v
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .unwrap_or(0.0);
                } else {
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(v);
                    params.push((k, v));
                }
            }
            Some(Range {
                kind,
                sub,
                params,
                q,
            })
        })
        .collect()
}

/// Splits `s` at `sep`, except inside double quotes.
fn split_outside_quotes(s: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut escaped = false;
    s.split(move |c: char| {
        if escaped {
            escaped = false;
            return false;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            _ => return c == sep && !quoted,
        }
        false
    })
}

/// The q-value `accept` gives the media type `kind/sub`: from its most specific matching
/// range (`kind/sub`, then `kind/*`, then `*/*`), 0 when none matches.
pub fn quality(accept: &str, kind: &str, sub: &str) -> f32 {
    best(&ranges(accept), kind, sub, |_| true).map_or(0.0, |(_, q)| q)
}

/// The most specific range of `ranges` that names `kind/sub` and whose parameters `fits`
/// accepts, as (specificity, q).
pub fn best(
    ranges: &[Range<'_>],
    kind: &str,
    sub: &str,
    fits: impl Fn(&Range<'_>) -> bool,
) -> Option<(u8, f32)> {
    let mut found: Option<(u8, f32)> = None;
    for r in ranges {
        let Some(s) = r.specificity(kind, sub) else {
            continue;
        };
        if fits(r) && found.is_none_or(|(b, _)| s > b) {
            found = Some((s, r.q));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_range_wins() {
        assert_eq!(
            quality("text/*;q=0.3, text/html;q=0.7, */*", "text", "html"),
            0.7
        );
        assert_eq!(quality("text/*;q=0.3, */*", "text", "html"), 0.3);
        assert_eq!(quality("image/png", "text", "html"), 0.0);
        assert_eq!(quality("TEXT/HTML;Q=0.5", "text", "html"), 0.5);
        assert_eq!(quality("text/html;q=2", "text", "html"), 0.0);
        assert_eq!(quality("", "text", "html"), 0.0);
    }

    #[test]
    fn parameters_and_quoted_values() {
        let r = ranges(
            "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams, x;y\"; q=0.5, \
             application/activity+json, bad, /x",
        );
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].sub, "ld+json");
        assert_eq!(
            r[0].param("PROFILE"),
            Some("https://www.w3.org/ns/activitystreams, x;y")
        );
        assert_eq!(r[0].q, 0.5);
        assert_eq!(
            (r[1].kind, r[1].sub, r[1].q),
            ("application", "activity+json", 1.0)
        );
    }
}
