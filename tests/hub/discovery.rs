//! Discovery: feeds advertise the hub; a disabled hub; where its state may live.

use super::*;

// ---------------------------------------------------------------------------------------------
// Discovery

#[test]
fn feeds_advertise_the_hub_and_themselves() {
    let site = site();
    let server = Server::start(&site, &[]);
    let hub = server.at("/hub");
    // RSS carries them as `atom:link` in the channel, Atom as `link` in the feed.
    for (path, rss) in [
        ("/rss.xml", true),
        ("/categories/alpha/rss.xml", true),
        ("/atom.xml", false),
        ("/tags/two/atom.xml", false),
    ] {
        let r = server.get(path);
        let doc = xmltree::parse(&r.text()).unwrap();
        let (parent, name) = if rss {
            (doc.child("channel").unwrap(), "atom:link")
        } else {
            (&doc, "link")
        };
        let links: Vec<(&str, &str)> = parent
            .children_named(name)
            .map(|l| (l.attr("rel").unwrap_or(""), l.attr("href").unwrap_or("")))
            .collect();
        assert!(links.contains(&("hub", hub.as_str())), "{path}: {links:?}");
        assert!(
            links.contains(&("self", server.at(path).as_str())),
            "{path}: {links:?}"
        );
        check_link_header(&server, &r, path);
    }
    for path in ["/feed.json", "/categories/beta/feed.json"] {
        let r = server.get(path);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["hubs"][0]["url"], hub.as_str(), "{path}");
        assert_eq!(v["hubs"][0]["type"], "WebSub", "{path}");
        assert_eq!(v["feed_url"], server.at(path).as_str(), "{path}");
        check_link_header(&server, &r, path);
    }
    // The hub's own page.
    let r = server.get("/hub");
    assert_eq!(r.status, 200);
    assert!(r.h("content-type").starts_with("text/plain"));
    assert!(r.text().contains("hub.mode=subscribe"), "{}", r.text());
    let r = request("HEAD", &server.at("/hub"), &[]);
    assert_eq!(r.status, 200);
    // The index page names itself but advertises no hub: it is no WebSub topic.
    assert_eq!(
        server.get("/index.html").h("link"),
        format!("<{}>; rel=\"self\"", server.at("/index.html"))
    );
}

fn check_link_header(server: &Server, r: &Resp, path: &str) {
    assert_eq!(
        r.h("link"),
        format!(
            "<{}>; rel=\"self\", <{}>; rel=\"hub\"",
            server.at(path),
            server.at("/hub")
        ),
        "{path}"
    );
}

#[test]
fn a_disabled_hub_is_neither_served_nor_advertised_and_build_advertises_none() {
    let site = site();
    config(&site, "[hub]\nenabled = false\n");
    let server = Server::start(&site, &[]);
    for path in ["/rss.xml", "/atom.xml", "/feed.json"] {
        let r = server.get(path);
        assert!(!r.text().contains("/hub"), "{path} names a hub");
        assert_eq!(
            r.h("link"),
            format!("<{}>; rel=\"self\"", server.at(path)),
            "{path}"
        );
    }
    assert_eq!(server.get("/hub").status, 404);
    let r = post_hub(
        &server,
        FORM,
        &form(&[
            ("hub.mode", "subscribe"),
            ("hub.topic", &server.at("/rss.xml")),
        ]),
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.h("allow"), "GET, HEAD");
    drop(server);

    // `build` has no server, so no hub either (whatever the config says).
    std::fs::remove_file(site.root().join("feedsmith.toml")).unwrap();
    let out = site.build(&[]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    for f in ["rss.xml", "atom.xml", "feed.json"] {
        let text = site.read_out(f);
        assert!(
            !text.contains("rel=\"hub\"") && !text.contains("hubs"),
            "{f}"
        );
    }
}

#[test]
fn the_state_dir_may_not_be_inside_the_output_dir() {
    let site = site();
    config(&site, "[hub]\nstate_dir = \"feeds/hub-state\"\n");
    let out = common::feedsmith(
        site.root(),
        &[
            "serve".into(),
            "--out".into(),
            "feeds".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ],
    );
    assert!(!out.status.success());
    let err = common::stderr(&out);
    assert!(err.contains("hub.state_dir"), "{err}");
}
