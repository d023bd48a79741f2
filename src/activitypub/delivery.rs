//! Delivery: activities POSTed, signed, to remote inboxes, on the push engine (`crate::push`,
//! the one the WebSub hub runs on).
//!
//! Each inbox has its own queue. One job per inbox delivers the queue's first activity; after
//! a success the next waits [`Settings::interval`] (a burst of 500 posts reaches a server at a
//! few a second, not all at once); after a failure the same one waits the hub's backoff. An
//! activity is queued once per inbox (by its id), however many followers there share it. An
//! inbox that answers `410 Gone`, or fails [`Settings::attempts`] times in a row, is dropped
//! with its followers. A `4xx` other than 401, 408 and 429 drops that one activity (the server
//! refuses it; sending it again will not change that).
//!
//! The queues are kept in `{state_dir}/activitypub-deliveries.json` (each activity's body
//! once, and each inbox's list of activity ids), written after changes settle and at
//! shutdown: a restart resends what was pending. Bodies are stored unsigned; each attempt is
//! signed when it is made (its `Date` must be current).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use url::Url;

use super::followers::{set_aside, Followers};
use super::{signature, ActorKey};
use crate::hub::deliver::Client;
use crate::push::{lock, Engine, Timing, Work};

/// The queues' file, in the state directory.
pub const FILE_NAME: &str = "activitypub-deliveries.json";
const VERSION: u32 = 1;
/// Threads making deliveries.
pub const WORKERS: usize = 4;
/// Activities waiting for one inbox at most; beyond, the oldest are dropped.
pub const MAX_QUEUE: usize = 10_000;
/// The `Content-Type` of every delivery.
pub const CONTENT_TYPE: &str = "application/activity+json";
/// How long changes gather before the queues' file is written.
const SAVE_AFTER: Duration = Duration::from_millis(500);

/// How deliveries are paced and given up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Between two deliveries to one inbox.
    pub interval: Duration,
    /// Failed attempts in a row before an inbox is dropped.
    pub attempts: u32,
    /// The hub's retry rhythm (`hub.retry_base_ms`, doubling, capped).
    pub backoff: crate::hub::Settings,
}

/// An activity to deliver: its id, the actor it is from (whose key signs it), its JSON.
#[derive(Debug, PartialEq, Eq)]
pub struct Activity {
    pub id: String,
    pub actor: String,
    pub body: String,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Arc<Activity>>,
    /// The ids of `items` (an activity is queued once per inbox).
    ids: HashSet<String>,
    /// A job for this inbox is queued, running or scheduled.
    queued: bool,
    failures: u32,
}

impl Queue {
    fn pop(&mut self) -> Option<Arc<Activity>> {
        let a = self.items.pop_front()?;
        self.ids.remove(&a.id);
        Some(a)
    }
}

/// The engine's jobs.
pub enum Job {
    /// Deliver the next activity waiting for this inbox.
    Inbox(String),
    /// Other work off the caller's thread (making the activities of a publish).
    Run(Box<dyn FnOnce() + Send>),
}

/// The file.
#[derive(Serialize, Deserialize)]
struct Saved {
    version: u32,
    activities: Vec<SavedActivity>,
    queues: BTreeMap<String, Vec<String>>,
}

#[derive(Serialize, Deserialize)]
struct SavedActivity {
    id: String,
    actor: String,
    body: String,
}

/// The outgoing side: queues and their worker threads.
pub struct Deliveries {
    engine: Engine<Job>,
    queues: Mutex<HashMap<String, Queue>>,
    client: Client,
    key: Arc<ActorKey>,
    followers: Arc<Followers>,
    settings: Settings,
    path: PathBuf,
    writing: Mutex<()>,
}

impl Deliveries {
    /// Starts delivering: the queues saved in `dir` first.
    pub fn start(
        dir: &Path,
        client: Client,
        key: Arc<ActorKey>,
        followers: Arc<Followers>,
        settings: Settings,
    ) -> std::io::Result<Arc<Deliveries>> {
        let d = Arc::new(Deliveries {
            engine: Engine::new(Timing {
                sweep_every: Duration::from_secs(3600),
                save_after: SAVE_AFTER,
            }),
            queues: Mutex::new(HashMap::new()),
            client,
            key,
            followers,
            settings,
            path: dir.join(FILE_NAME),
            writing: Mutex::new(()),
        });
        crate::push::start(&d, "activitypub", WORKERS)?;
        d.restore();
        Ok(d)
    }

    fn restore(&self) {
        let saved: Saved = match std::fs::read(&self.path) {
            Ok(bytes) => match serde_json::from_slice::<Saved>(&bytes) {
                Ok(s) if s.version == VERSION => s,
                Ok(s) => return set_aside(&self.path, &format!("unknown version {}", s.version)),
                Err(e) => return set_aside(&self.path, &e.to_string()),
            },
            Err(_) => return,
        };
        let activities: HashMap<String, Arc<Activity>> = saved
            .activities
            .into_iter()
            .map(|a| {
                let activity = Activity {
                    id: a.id.clone(),
                    actor: a.actor,
                    body: a.body,
                };
                (a.id, Arc::new(activity))
            })
            .collect();
        let mut pending = 0;
        for (inbox, ids) in saved.queues {
            let items: Vec<Arc<Activity>> = ids
                .iter()
                .filter_map(|id| activities.get(id).cloned())
                .collect();
            pending += items.len();
            self.enqueue(&inbox, items);
        }
        if pending > 0 {
            tracing::info!(
                "activitypub: {pending} pending deliveries restored from {}",
                self.path.display()
            );
        }
    }

    /// Queues `activities` for `inbox` (those already queued there, by id, are not queued
    /// again) and makes sure a job will deliver them. Never waits on the network.
    pub fn enqueue(&self, inbox: &str, activities: impl IntoIterator<Item = Arc<Activity>>) {
        let mut queues = lock(&self.queues);
        let q = queues.entry(inbox.to_owned()).or_default();
        let mut added = false;
        for a in activities {
            if !q.ids.insert(a.id.clone()) {
                continue;
            }
            if q.items.len() >= MAX_QUEUE {
                if let Some(old) = q.pop() {
                    tracing::warn!(
                        "activitypub: more than {MAX_QUEUE} deliveries wait for {inbox}; {} dropped",
                        old.id
                    );
                }
            }
            q.items.push_back(a);
            added = true;
        }
        let start = added && !q.queued;
        if start {
            q.queued = true;
        }
        if q.items.is_empty() && !q.queued {
            queues.remove(inbox);
        }
        drop(queues);
        if start {
            self.engine.enqueue(Job::Inbox(inbox.to_owned()));
        }
        if added {
            self.engine.changed();
        }
    }

    /// Runs `work` on a delivery thread.
    pub fn spawn(&self, work: impl FnOnce() + Send + 'static) {
        self.engine.enqueue(Job::Run(Box::new(work)));
    }

    /// Deliveries waiting, in all.
    pub fn pending(&self) -> usize {
        lock(&self.queues).values().map(|q| q.items.len()).sum()
    }

    /// Writes the queues' file now (at shutdown): what is pending is sent after a restart.
    pub fn flush(&self) {
        if self.pending() == 0 && !self.path.exists() {
            return;
        }
        self.write();
    }

    fn write(&self) {
        let _one = lock(&self.writing);
        let saved = {
            let queues = lock(&self.queues);
            let mut activities: BTreeMap<&str, &Activity> = BTreeMap::new();
            let mut lists = BTreeMap::new();
            for (inbox, q) in queues.iter().filter(|(_, q)| !q.items.is_empty()) {
                for a in &q.items {
                    activities.insert(&a.id, a);
                }
                lists.insert(
                    inbox.clone(),
                    q.items.iter().map(|a| a.id.clone()).collect(),
                );
            }
            Saved {
                version: VERSION,
                activities: activities
                    .values()
                    .map(|a| SavedActivity {
                        id: a.id.clone(),
                        actor: a.actor.clone(),
                        body: a.body.clone(),
                    })
                    .collect(),
                queues: lists,
            }
        };
        let written = serde_json::to_vec(&saved)
            .map_err(std::io::Error::other)
            .and_then(|bytes| crate::output::Atomic::STATE.write(&self.path, &bytes));
        if let Err(e) = written {
            tracing::error!(
                "activitypub: cannot write {}: {e} (pending deliveries are kept in memory)",
                self.path.display()
            );
        }
    }

    /// One attempt at the first activity waiting for `inbox`, and what follows from it.
    fn deliver(&self, inbox: String) {
        let activity = {
            let mut queues = lock(&self.queues);
            let Some(q) = queues.get_mut(&inbox) else {
                return;
            };
            match q.items.front() {
                Some(a) => Arc::clone(a),
                None => {
                    queues.remove(&inbox);
                    return;
                }
            }
        };
        let outcome = self.post(&inbox, &activity);
        let mut queues = lock(&self.queues);
        let Some(q) = queues.get_mut(&inbox) else {
            return;
        };
        let next = match outcome {
            Outcome::Delivered | Outcome::Refused(_) => {
                if let Outcome::Refused(why) = &outcome {
                    tracing::warn!(
                        "activitypub: {inbox} refused {} ({why}); not sent again",
                        activity.id
                    );
                } else {
                    tracing::info!("activitypub: delivered {} to {inbox}", activity.id);
                }
                if q.items.front().is_some_and(|a| Arc::ptr_eq(a, &activity)) {
                    q.pop();
                }
                q.failures = 0;
                (!q.items.is_empty()).then(|| Instant::now() + self.settings.interval)
            }
            Outcome::Gone => {
                queues.remove(&inbox);
                drop(queues);
                let n = self.followers.remove_inbox(&inbox);
                tracing::warn!(
                    "activitypub: {inbox} answered 410 Gone; its {n} followers and pending deliveries dropped"
                );
                self.engine.changed();
                return;
            }
            Outcome::Failed(why) => {
                q.failures += 1;
                let failures = q.failures;
                if failures >= self.settings.attempts {
                    let dropped = q.items.len();
                    queues.remove(&inbox);
                    drop(queues);
                    let n = self.followers.remove_inbox(&inbox);
                    tracing::warn!(
                        "activitypub: delivery to {inbox} failed {failures} times ({why}); the inbox, its {n} followers and {dropped} pending deliveries dropped"
                    );
                    self.engine.changed();
                    return;
                }
                let wait = self.settings.backoff.backoff(failures);
                tracing::warn!(
                    "activitypub: delivery of {} to {inbox} failed ({why}); attempt {} in {wait:?}",
                    activity.id,
                    failures + 1
                );
                Some(Instant::now() + wait)
            }
        };
        match next {
            Some(due) => {
                drop(queues);
                self.engine.schedule(due, Job::Inbox(inbox));
            }
            None => {
                q.queued = false;
                if q.items.is_empty() {
                    queues.remove(&inbox);
                }
            }
        }
        self.engine.changed();
    }

    /// The signed POST.
    fn post(&self, inbox: &str, activity: &Activity) -> Outcome {
        let Ok(url) = Url::parse(inbox) else {
            return Outcome::Refused("not a URL".into());
        };
        let key_id = format!("{}#main-key", activity.actor);
        let body = activity.body.as_bytes();
        let signed =
            match signature::sign_post(&url, body, CONTENT_TYPE, &key_id, SystemTime::now(), |d| {
                self.key.sign_sha256(d)
            }) {
                Ok(s) => s,
                Err(e) => return Outcome::Failed(e.to_string()),
            };
        let mut req = self.client.agent().post(url.as_str());
        for (name, value) in signed.headers {
            // ureq sends the Host of the URL, the same as signed.
            if name != "host" {
                req = req.header(name, value);
            }
        }
        match req.send(body) {
            Ok(resp) => match resp.status().as_u16() {
                200..=299 => Outcome::Delivered,
                410 => Outcome::Gone,
                // 401: the receiver could not check our signature yet (it may be fetching our
                // key as we restart); retried, as Mastodon does.
                s @ (401 | 408 | 429) => Outcome::Failed(format!("the inbox answered {s}")),
                s @ 400..=499 => Outcome::Refused(format!("the inbox answered {s}")),
                s => Outcome::Failed(format!("the inbox answered {s}")),
            },
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }
}

enum Outcome {
    Delivered,
    Gone,
    Refused(String),
    Failed(String),
}

impl Work for Deliveries {
    type Job = Job;

    fn engine(&self) -> &Engine<Job> {
        &self.engine
    }

    fn run(&self, job: Job) {
        match job {
            Job::Inbox(inbox) => self.deliver(inbox),
            Job::Run(work) => work(),
        }
    }

    fn save(&self) {
        self.write();
    }
}

#[cfg(test)]
mod tests;
