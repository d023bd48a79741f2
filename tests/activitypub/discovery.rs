//! Finding the actors: WebFinger (with the port in `acct:`), NodeInfo, actor documents, the key
//! kept across a restart, and the links pages carry.

use super::*;

fn finger(server: &Server, resource: &str) -> Resp {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("resource", resource)
        .finish();
    get(&server.at(&format!("/.well-known/webfinger?{query}")), &[])
}

#[test]
fn webfinger_finds_the_site_categories_and_tags() {
    let site = site(1..=5);
    let server = serve(&site);
    let host = &server.addr;
    for (name, actor, page) in [
        ("news", "/ap/site", "/"),
        ("rust", "/ap/tags/rust", "/tags/rust/"),
        ("web", "/ap/tags/web", "/tags/web/"),
        ("travel", "/ap/categories/travel", "/categories/travel/"),
        ("category-news", "/ap/categories/news", "/categories/news/"),
    ] {
        let acct = format!("acct:{name}@{host}");
        let answer = finger(&server, &acct);
        // Any page's script may read it (RFC 7033 §5).
        assert_eq!(answer.h("access-control-allow-origin"), "*");
        let jrd = json(&answer, "application/jrd+json", &acct);
        assert_eq!(jrd["subject"], acct.as_str());
        let links = jrd["links"].as_array().unwrap();
        let link = |rel: &str| {
            links
                .iter()
                .find(|l| l["rel"] == rel)
                .unwrap_or_else(|| panic!("{acct}: no {rel} link"))
        };
        assert_eq!(link("self")["type"], ACTIVITY_JSON);
        assert_eq!(link("self")["href"], server.at(actor).as_str());
        let profile = link("http://webfinger.net/rel/profile-page");
        assert_eq!(profile["href"], server.at(page).as_str());
        assert_eq!(profile["type"], "text/html");
        // The actor's URL is a resource too, and the actor's name is the one looked up.
        let by_url = json(
            &finger(&server, &server.at(actor)),
            "application/jrd+json",
            actor,
        );
        assert_eq!(by_url["subject"], acct.as_str());
        assert_eq!(activity(&server.at(actor))["preferredUsername"], name);
        // What a server does next: the actor's page is a real page.
        assert_eq!(server.get(page).status, 200, "{page}");
    }
    for unknown in [
        format!("acct:nobody@{host}"),
        // Without the port: another host.
        "acct:news@127.0.0.1".to_owned(),
        "acct:news@example.com".to_owned(),
        server.at("/ap/tags/nothing"),
    ] {
        let r = finger(&server, &unknown);
        assert_eq!(r.status, 404, "{unknown}");
        assert_eq!(r.h("access-control-allow-origin"), "*");
    }
    for bad in ["", "news", "acct:@x", "http://[oops"] {
        assert_eq!(finger(&server, bad).status, 400, "{bad:?}");
    }
    assert_eq!(server.get("/.well-known/webfinger").status, 400);
    // Nothing else is shared with other origins.
    assert!(server
        .get("/ap/site")
        .header("access-control-allow-origin")
        .is_none());
    assert!(server
        .get("/rss.xml")
        .header("access-control-allow-origin")
        .is_none());
    assert_eq!(server.get("/.well-known/webfinger?rel=self").status, 400);
}

#[test]
fn nodeinfo_names_the_software_and_counts() {
    let site = site(1..=5);
    let server = serve(&site);
    let links = json(
        &server.get("/.well-known/nodeinfo"),
        "application/json",
        "links",
    );
    let href = links["links"][0]["href"].as_str().unwrap();
    assert_eq!(href, server.at("/nodeinfo/2.1"));
    assert_eq!(
        links["links"][0]["rel"],
        "http://nodeinfo.diaspora.software/ns/schema/2.1"
    );
    let r = get(href, &[]);
    let info = json(
        &r,
        "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\"",
        href,
    );
    assert_eq!(info["version"], "2.1");
    assert_eq!(info["software"]["name"], "feedsmith");
    assert_eq!(info["software"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["protocols"], serde_json::json!(["activitypub"]));
    assert_eq!(info["openRegistrations"], false);
    // The site, categories news and travel, tags rust and web.
    assert_eq!(info["usage"]["users"]["total"], 5);
    assert_eq!(info["usage"]["localPosts"], 5);
}

#[test]
fn actors_are_served_with_one_key_that_survives_a_restart() {
    let site = site(1..=3);
    let mut server = serve(&site);
    let id = server.at("/ap/site");
    let r = fetch(&id, AP_ACCEPT);
    assert_eq!(r.h("vary"), "Accept, Accept-Encoding");
    assert!(r.h("cache-control").starts_with("public, max-age="));
    assert!(r.h("etag").starts_with('"'));
    let actor = json(&r, ACTIVITY_JSON, &id);
    assert_eq!(
        actor["@context"][0],
        "https://www.w3.org/ns/activitystreams"
    );
    assert_eq!(actor["@context"][1], "https://w3id.org/security/v1");
    assert_eq!(actor["id"], id.as_str());
    assert_eq!(actor["type"], "Service");
    assert_eq!(actor["preferredUsername"], "news");
    assert_eq!(actor["url"], server.at("/").as_str());
    assert_eq!(actor["inbox"], format!("{id}/inbox"));
    assert_eq!(actor["outbox"], format!("{id}/outbox"));
    assert_eq!(actor["followers"], format!("{id}/followers"));
    assert_eq!(
        actor["endpoints"]["sharedInbox"],
        server.at("/ap/inbox").as_str()
    );
    assert_eq!(actor["manuallyApprovesFollowers"], false);
    assert_eq!(actor["discoverable"], true);
    assert_eq!(actor["publicKey"]["id"], format!("{id}#main-key"));
    assert_eq!(actor["publicKey"]["owner"], id.as_str());
    let pem = actor["publicKey"]["publicKeyPem"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
    // The `ld+json` ActivityStreams profile is asked for alike.
    let ld = fetch(
        &id,
        "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
    );
    assert_eq!(json(&ld, ACTIVITY_JSON, "ld+json")["id"], id.as_str());
    // A tag's actor: the same key, its own id.
    let tag = activity(&server.at("/ap/tags/rust"));
    assert_eq!(tag["publicKey"]["publicKeyPem"], pem.as_str());
    assert_eq!(
        tag["publicKey"]["owner"],
        server.at("/ap/tags/rust").as_str()
    );
    let followers = activity(&format!("{id}/followers"));
    assert_eq!(followers["type"], "OrderedCollection");
    assert_eq!(followers["totalItems"], 0);

    // A browser at the actor's address goes to its page.
    let r = fetch(&server.at("/ap/tags/rust"), BROWSER);
    assert_eq!(r.status, 303);
    assert_eq!(r.h("location"), server.at("/tags/rust/"));
    assert_eq!(r.h("vary"), "Accept, Accept-Encoding");

    // The key is kept, for its owner only, and is the same after a restart.
    let file = site.root().join(".feedsmith/activitypub-key.pem");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    }
    // The kept key signs what the published key verifies (as a remote server checks an HTTP
    // Signature), and nothing else.
    {
        use feedsmith::internals::activitypub::{verify_sha256, ActorKey, KeyError};
        let key = ActorKey::load_or_create(&site.root().join(".feedsmith")).unwrap();
        assert_eq!(key.public_pem(), pem);
        let sig = key.sign_sha256(b"(request-target): post /inbox").unwrap();
        verify_sha256(&pem, b"(request-target): post /inbox", &sig).unwrap();
        assert!(matches!(
            verify_sha256(&pem, b"(request-target): post /inbox2", &sig),
            Err(KeyError::BadSignature)
        ));
    }
    let kept = std::fs::read(&file).unwrap();
    server.stop(Duration::from_secs(10));
    let server = serve(&site);
    let again = activity(&server.at("/ap/site"));
    assert_eq!(again["publicKey"]["publicKeyPem"], pem.as_str());
    assert_eq!(std::fs::read(&file).unwrap(), kept);
}

#[test]
fn a_corrupt_key_stops_the_server_with_its_name() {
    let site = site(1..=1);
    let dir = site.root().join(".feedsmith");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("activitypub-key.pem"), "not a key").unwrap();
    let out = crate::common::feedsmith(
        site.root(),
        &[
            "serve".to_owned(),
            "--posts".to_owned(),
            site.posts().display().to_string(),
            "--out".to_owned(),
            site.out().display().to_string(),
            "--listen".to_owned(),
            "127.0.0.1:0".to_owned(),
        ],
    );
    assert!(!out.status.success());
    let err = crate::common::stderr(&out);
    assert!(err.contains("activitypub-key.pem"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.join("activitypub-key.pem")).unwrap(),
        "not a key",
        "never replaced"
    );
}

#[test]
fn pages_link_their_actors() {
    let site = site(1..=2);
    let server = serve(&site);
    let link = |href: &str| {
        format!("<link rel=\"alternate\" type=\"application/activity+json\" href=\"{href}\">")
    };
    let index = server.get("/").text();
    assert!(index.contains(&link(&server.at("/ap/site"))), "{index}");
    let tag = server.get("/tags/rust/").text();
    assert!(tag.contains(&link(&server.at("/ap/tags/rust"))), "{tag}");
    let category = server.get("/categories/news/").text();
    assert!(category.contains(&link(&server.at("/ap/categories/news"))));
    // And say so to a person, with the address to search for in a Fediverse client.
    let said = |href: &str| {
        format!("search there for this address.</p><p><code class=\"url\">{href}</code>")
    };
    assert!(index.contains(&said(&server.at("/ap/site"))), "{index}");
    assert!(tag.contains(&said(&server.at("/ap/tags/rust"))), "{tag}");
    assert!(category.contains(&said(&server.at("/ap/categories/news"))));
    // Feeds link their scope's actor (subscription documents: archive pages are no topics).
    for (feed, actor, root, link) in [
        ("/atom.xml", "/ap/site", None, "link"),
        ("/tags/rust/atom.xml", "/ap/tags/rust", None, "link"),
        ("/rss.xml", "/ap/site", Some("channel"), "atom:link"),
    ] {
        let doc = crate::common::xmltree::parse(&server.get(feed).text()).unwrap();
        let parent = root.map_or(&doc, |r| doc.child(r).unwrap());
        let links: Vec<_> = parent
            .children_named(link)
            .filter(|l| l.attr("type") == Some(ACTIVITY_JSON))
            .collect();
        assert_eq!(links.len(), 1, "{feed}");
        assert_eq!(links[0].attr("rel"), Some("alternate"), "{feed}");
        assert_eq!(
            links[0].attr("href"),
            Some(server.at(actor).as_str()),
            "{feed}"
        );
    }
    // A post's page links its own URL, where its `Article` is.
    let post = server.at("/news/2024/01/02/post-2.html");
    let page = get(&post, &[]).text();
    assert!(page.contains(&link(&post)), "{page}");
}

#[test]
fn switched_off_there_are_no_actors_and_no_key() {
    let site = site(1..=2);
    let config = site.write_config("off.toml", "[activitypub]\nenabled = false\n");
    let server = Server::start(&site, &["--config", &config]);
    assert_eq!(fetch(&server.at("/ap/site"), AP_ACCEPT).status, 404);
    let acct = format!(
        "/.well-known/webfinger?resource=acct:feedsmith@{}",
        server.addr
    );
    assert_eq!(server.get(&acct).status, 404);
    assert_eq!(server.get("/nodeinfo/2.1").status, 404);
    let post = fetch(&server.at("/news/2024/01/02/post-2.html"), AP_ACCEPT);
    assert_eq!(post.h("content-type"), "text/html; charset=utf-8");
    assert_eq!(post.h("vary"), "Accept-Encoding");
    let index = server.get("/").text();
    assert!(!index.contains("application/activity+json") && !index.contains("Fediverse"));
    assert!(!site.root().join(".feedsmith/activitypub-key.pem").exists());
}
