use super::*;
use crate::activitypub::followers::Follower;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

/// One request an inbox got.
#[derive(Debug, Clone)]
struct Got {
    path: String,
    headers: hyper::HeaderMap,
    body: Vec<u8>,
    at: Instant,
}

/// A loopback inbox answering each POST with the next status of `script` (the last one
/// once the script runs out).
fn inbox(script: Vec<u16>) -> (String, Arc<Mutex<Vec<Got>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/inbox", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&got);
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split(' ').nth(1).unwrap_or("").to_owned();
            let mut headers = hyper::HeaderMap::new();
            let mut len = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap();
                }
                headers.append(
                    hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.trim().parse().unwrap(),
                );
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            lock(&seen).push(Got {
                path,
                headers,
                body,
                at: Instant::now(),
            });
            let status = script.get(n).or(script.last()).copied().unwrap_or(202);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, got)
}

struct Fixture {
    dir: tempfile::TempDir,
    key: Arc<ActorKey>,
    followers: Arc<Followers>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(ActorKey::load_or_create(dir.path()).unwrap());
    let followers = Arc::new(Followers::load(dir.path()));
    Fixture {
        dir,
        key,
        followers,
    }
}

fn settings(attempts: u32) -> Settings {
    let mut config = crate::config::Config::default();
    config.hub.retry_base_ms = 20;
    Settings {
        interval: Duration::from_millis(100),
        attempts,
        backoff: crate::hub::Settings::from_config(&config),
    }
}

fn start(f: &Fixture, attempts: u32) -> Arc<Deliveries> {
    let client = Client::named(Duration::from_secs(5), true, "ActivityPub");
    Deliveries::start(
        f.dir.path(),
        client,
        Arc::clone(&f.key),
        Arc::clone(&f.followers),
        settings(attempts),
    )
    .unwrap()
}

fn activity(n: u32) -> Arc<Activity> {
    Arc::new(Activity {
        id: format!("http://127.0.0.1:1/p/{n}#create"),
        actor: "http://127.0.0.1:1/ap/site".into(),
        body: format!(r#"{{"id":"http://127.0.0.1:1/p/{n}#create","type":"Create"}}"#),
    })
}

fn wait(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn signed_once_per_inbox_and_paced() {
    let f = fixture();
    let d = start(&f, 3);
    let (url, got) = inbox(vec![202]);
    d.enqueue(&url, [activity(1), activity(2), activity(1)]);
    d.enqueue(&url, [activity(2), activity(3)]);
    wait("three deliveries", || lock(&got).len() == 3);
    std::thread::sleep(Duration::from_millis(150));
    let got = lock(&got).clone();
    assert_eq!(got.len(), 3, "each activity once");
    for (i, g) in got.iter().enumerate() {
        assert_eq!(g.path, "/inbox");
        assert_eq!(g.body, activity(i as u32 + 1).body.as_bytes());
        let req = signature::Request {
            method: "POST",
            target: "/inbox",
            headers: &g.headers,
        };
        let (params, text) = signature::check_request(&req, Some(&g.body), SystemTime::now())
            .unwrap_or_else(|e| panic!("{e}: {:?}", g.headers));
        assert_eq!(params.key_id, "http://127.0.0.1:1/ap/site#main-key");
        signature::verify(f.key.public_pem(), &params.key_id, &text, &params.signature).unwrap();
    }
    assert!(got[1].at.duration_since(got[0].at) >= Duration::from_millis(100));
    assert!(got[2].at.duration_since(got[1].at) >= Duration::from_millis(100));
    wait("an empty queue", || d.pending() == 0);
}

#[test]
fn failures_are_retried_then_the_inbox_is_dropped() {
    let f = fixture();
    let (url, got) = inbox(vec![500, 503, 202]);
    let follower = |id: &str| Follower {
        id: id.into(),
        inbox: url.clone(),
        shared_inbox: None,
        follow_id: None,
    };
    f.followers
        .add("http://127.0.0.1:1/ap/site", follower("http://x/a"))
        .unwrap();
    let d = start(&f, 3);
    d.enqueue(&url, [activity(1)]);
    wait("the third attempt", || lock(&got).len() == 3);
    wait("an empty queue", || d.pending() == 0);
    assert_eq!(f.followers.count("http://127.0.0.1:1/ap/site"), 1);

    // Always failing: dropped after three attempts, with its followers.
    let (dead, tries) = inbox(vec![500]);
    let mut gone = follower("http://x/b");
    gone.inbox = dead.clone();
    f.followers.add("http://127.0.0.1:1/ap/site", gone).unwrap();
    d.enqueue(&dead, [activity(2)]);
    wait("the inbox dropped", || {
        f.followers.count("http://127.0.0.1:1/ap/site") == 1 && d.pending() == 0
    });
    assert_eq!(lock(&tries).len(), 3);

    // 410: at once.
    let (gone_url, tries) = inbox(vec![410]);
    let mut c = follower("http://x/c");
    c.inbox = gone_url.clone();
    f.followers.add("http://127.0.0.1:1/ap/tags/t", c).unwrap();
    d.enqueue(&gone_url, [activity(3), activity(4)]);
    wait("the gone inbox dropped", || {
        f.followers.count("http://127.0.0.1:1/ap/tags/t") == 0 && d.pending() == 0
    });
    assert_eq!(lock(&tries).len(), 1);

    // A refusal (403) drops that activity only.
    let (strict, tries) = inbox(vec![403, 202]);
    d.enqueue(&strict, [activity(5), activity(6)]);
    wait("both tried", || lock(&tries).len() == 2);
    wait("an empty queue", || d.pending() == 0);
}

#[test]
fn pending_deliveries_survive_a_restart() {
    let f = fixture();
    // Nothing listens at port 9 on loopback: every attempt fails, with a long backoff.
    let d = start(&f, 20);
    let nowhere = "http://127.0.0.1:9/inbox";
    d.enqueue(nowhere, [activity(1), activity(2)]);
    d.enqueue("http://127.0.0.1:9/other", [activity(2)]);
    d.flush();
    drop(d);
    let saved: Saved =
        serde_json::from_slice(&std::fs::read(f.dir.path().join(FILE_NAME)).unwrap()).unwrap();
    assert_eq!(saved.activities.len(), 2, "each body once");
    assert_eq!(saved.queues[nowhere].len(), 2);

    let (url, got) = inbox(vec![202]);
    // The saved queue, pointed at a live inbox.
    let text = std::fs::read_to_string(f.dir.path().join(FILE_NAME))
        .unwrap()
        .replace(nowhere, &url);
    std::fs::write(f.dir.path().join(FILE_NAME), text).unwrap();
    let d = start(&f, 20);
    wait("both delivered after the restart", || lock(&got).len() == 2);
    assert!(d.pending() >= 1, "the other inbox still waits");
}
