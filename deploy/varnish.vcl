vcl 4.1;
#
# Varnish 7 in front of `feedsmith serve` (Debian's `varnish`; only the `std` vmod, which ships
# with it). What it does, in order:
#
# - BAN and PURGE from loopback only: `BAN /` with `Surrogate-Key: site tag:rust` (what
#   feedsmith's `[cache] purge` sends after each republish) drops every object carrying one of
#   those keys; `PURGE /any/url` drops every variant of that URL.
# - Normalises the request headers a feed's response varies on (`Vary: Accept,
#   Sec-Fetch-Dest, Sec-Fetch-Mode, Accept-Encoding`) to two views (a browser's navigation, or
#   anything else) and four codings (br, zstd, gzip, none), so the cache holds at most eight
#   copies of a feed, never hands a reader the browser view or a browser the feed, and feedsmith
#   itself decides every copy from the normalised request.
# - Caches only what feedsmith tags with a Surrogate-Key (documents, pages, assets), for as
#   long as `Cache-Control: s-maxage` (else `max-age`) says; errors and redirects are not kept.
# - Serves a copy up to `stale-while-revalidate` past its expiry while fetching a new one, and
#   up to `stale-if-error` past it while feedsmith is down (the probe below) or failing.
# - Keeps expired copies a day longer to revalidate them with `If-None-Match` (a 304 costs
#   feedsmith no body), and answers clients' conditional requests itself.
#
# The backend: feedsmith's `server.listen` (default 127.0.0.1:8080). Change `.host`/`.port`
# below to yours. The probe asks for feedsmith's health check (`server.health_path`, 200 once
# the first build is published, 503 before); change `.url` if you moved it.

import std;

backend feedsmith {
    .host = "127.0.0.1";
    .port = "8080";
    .probe = {
        .url = "/.feedsmith/healthz";
        .interval = 2s;
        .timeout = 1s;
        .window = 3;
        .threshold = 2;
        .initial = 2;
    }
}

# Who may BAN and PURGE: feedsmith on this machine. Add the addresses of other hosts that run
# feedsmith (replicas) if they reach this cache over the network.
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "BAN" || req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        if (req.method == "PURGE") {
            return (purge);
        }
        # Keys are tokens of [A-Za-z0-9_/%:-] (feedsmith percent-encodes the rest), joined by
        # single spaces: joined by `|`, they make a regex that matches exactly those tokens.
        if (req.http.Surrogate-Key !~ "^[A-Za-z0-9_/%:-]+( [A-Za-z0-9_/%:-]+)*$") {
            return (synth(400, "Bad Surrogate-Key"));
        }
        if (!std.ban("obj.http.Surrogate-Key ~ (^|\s)(" + regsuball(req.http.Surrogate-Key, " ", "|") + ")(\s|$)")) {
            return (synth(500, "Ban failed: " + std.ban_error()));
        }
        return (synth(200, "Banned"));
    }
    if (req.method != "GET" && req.method != "HEAD") {
        # POST /hub and anything else: feedsmith answers it.
        return (pass);
    }
    # feedsmith sets no cookies and reads none.
    unset req.http.Cookie;
    if (req.restarts == 0) {
        call feedsmith_normalise;
    } else {
        # Restarted by vcl_hit: the copy is past stale-while-revalidate and feedsmith is up.
        set req.grace = 0s;
    }
    return (hash);
}

# The request as feedsmith would read it, reduced to what changes its answer.
sub feedsmith_normalise {
    # The coding feedsmith would pick among those the client accepts (q > 0): br, then zstd,
    # then gzip. Kept in a header of its own: Varnish rewrites Accept-Encoding to gzip or
    # nothing after vcl_recv, and vcl_backend_fetch puts this one back.
    if (req.http.Accept-Encoding ~ "(?i)(^|,)\s*br\s*(;\s*q\s*=\s*(1|0?\.\d*[1-9]\d*)[^,]*)?(,|$)") {
        set req.http.X-Feedsmith-Encoding = "br";
    } elsif (req.http.Accept-Encoding ~ "(?i)(^|,)\s*zstd\s*(;\s*q\s*=\s*(1|0?\.\d*[1-9]\d*)[^,]*)?(,|$)") {
        set req.http.X-Feedsmith-Encoding = "zstd";
    } elsif (req.http.Accept-Encoding ~ "(?i)(^|,)\s*(x-)?gzip\s*(;\s*q\s*=\s*(1|0?\.\d*[1-9]\d*)[^,]*)?(,|$)") {
        set req.http.X-Feedsmith-Encoding = "gzip";
    } else {
        set req.http.X-Feedsmith-Encoding = "identity";
    }

    # A browser navigating to a feed gets its HTML view; everything else the feed. As
    # feedsmith's `server/navigation.rs` tells them apart: fetch metadata absent or naming a
    # top-level navigation, and an Accept that ranks text/html above the feed's types. Here,
    # conservatively: text/html first and unweighted, and no feed type (application/rss+xml,
    # atom+xml, feed+json, json, xml, text/xml or a wildcard) without a q below 1 — what every
    # browser sends. A rare client in between gets the feed.
    std.collect(req.http.Accept);
    if ((!req.http.Sec-Fetch-Dest || req.http.Sec-Fetch-Dest ~ "(?i)^document$")
        && (!req.http.Sec-Fetch-Mode || req.http.Sec-Fetch-Mode ~ "(?i)^navigate$")
        && req.http.Accept ~ "(?i)^\s*text/html\s*(,|$)"
        && req.http.Accept !~ "(?i)(^|,)\s*(application/(rss\+xml|atom\+xml|feed\+json|json|xml|\*)|text/(xml|\*)|\*/\*)\s*(,|$|;(?!\s*q\s*=\s*0))") {
        set req.http.Accept = "text/html";
        set req.http.Sec-Fetch-Dest = "document";
        set req.http.Sec-Fetch-Mode = "navigate";
    } else {
        unset req.http.Accept;
        unset req.http.Sec-Fetch-Dest;
        unset req.http.Sec-Fetch-Mode;
    }
}

sub vcl_hit {
    # Past its stale-while-revalidate, a copy is served only while feedsmith is down: a healthy
    # feedsmith is asked (the restart looks up again allowing no grace).
    if (obj.ttl < 0s
        && std.healthy(req.backend_hint)
        && obj.ttl + std.duration(regsub(obj.http.Cache-Control, "^.*stale-while-revalidate=(\d+).*$", "\1s"), 0s) < 0s) {
        return (restart);
    }
}

sub vcl_backend_fetch {
    # (X-Feedsmith-Encoding stays: Varnish records the copy's Vary from this request.)
    set bereq.http.Accept-Encoding = bereq.http.X-Feedsmith-Encoding;
}

sub vcl_backend_response {
    if (!beresp.http.Surrogate-Key) {
        # Not a document (an error, a redirect, the hub's page): fetched every time.
        set beresp.uncacheable = true;
        set beresp.ttl = 1s;
        return (deliver);
    }
    # The copies of a URL differ by the normalised coding, not by the Accept-Encoding Varnish
    # rewrites.
    if (beresp.http.Vary) {
        set beresp.http.Vary = regsuball(beresp.http.Vary, "(?i)\bAccept-Encoding\b", "X-Feedsmith-Encoding");
    }
    # How long past its expiry a copy may stand in: stale-if-error (vcl_hit cuts it to
    # stale-while-revalidate while feedsmith is up).
    if (beresp.http.Cache-Control ~ "stale-if-error=\d+") {
        set beresp.grace = std.duration(regsub(beresp.http.Cache-Control, "^.*stale-if-error=(\d+).*$", "\1s"), beresp.grace);
    }
    set beresp.keep = 1d;
    return (deliver);
}

sub vcl_deliver {
    if (resp.http.Vary) {
        set resp.http.Vary = regsuball(resp.http.Vary, "X-Feedsmith-Encoding", "Accept-Encoding");
    }
    # s-maxage is this cache's, which is purged; a cache further along (a CDN) is not.
    if (resp.http.Cache-Control) {
        set resp.http.Cache-Control = regsub(resp.http.Cache-Control, ",\s*s-maxage=\d+", "");
    }
    unset resp.http.Surrogate-Key;
    if (obj.hits > 0) {
        set resp.http.X-Cache = "hit";
    } else {
        set resp.http.X-Cache = "miss";
    }
}
