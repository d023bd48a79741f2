//! The hub's work queue: jobs for the worker threads, retries held by the scheduler until
//! their time, and the saving of the subscriptions file after changes settle.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::*;

/// Work for the worker threads.
pub(super) enum Job {
    Verify(Intent),
    Deny {
        callback: Url,
        topic: String,
        reason: String,
    },
    Deliver(Key),
}

/// A subscribe or unsubscribe request, to be verified.
pub(super) struct Intent {
    pub(super) key: Key,
    pub(super) seq: u64,
    pub(super) mode: Mode,
    pub(super) topic: String,
    pub(super) callback: Url,
    pub(super) lease_seconds: u64,
    pub(super) secret: Option<String>,
}

/// A job due at a time (retries).
pub(super) struct Timed {
    pub(super) due: Instant,
    pub(super) seq: u64,
    pub(super) job: Job,
}

impl PartialEq for Timed {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Timed {}
impl PartialOrd for Timed {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timed {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// The scheduler's state: retries waiting for their time, and whether to save.
#[derive(Default)]
pub(super) struct Sched {
    pub(super) timed: BinaryHeap<Reverse<Timed>>,
    pub(super) seq: u64,
    pub(super) save: bool,
}

impl Hub {
    pub(super) fn enqueue(&self, job: Job) {
        // Fails only when every worker is gone, i.e. the hub is being dropped.
        let _ = self.jobs.send(job);
    }

    /// Runs `job` at `due` (retries).
    pub(super) fn schedule(&self, due: Instant, job: Job) {
        let mut s = lock(&self.sched);
        s.seq += 1;
        let seq = s.seq;
        s.timed.push(Reverse(Timed { due, seq, job }));
        drop(s);
        self.wake.notify_one();
    }

    /// Asks the scheduler to write the subscriptions file soon.
    pub(super) fn changed(&self) {
        lock(&self.sched).save = true;
        self.wake.notify_one();
    }

    pub(super) fn save(&self) {
        let records: Vec<Record> = {
            let inner = lock(&self.inner);
            inner.subs.iter().map(|(k, s)| s.record(k)).collect()
        };
        if let Err(e) = self.file.save(records) {
            tracing::error!(
                "hub: cannot write {}: {e} (the subscriptions are kept in memory)",
                self.file.path().display()
            );
        }
    }

    /// Drops the subscriptions whose lease has ended.
    pub(super) fn sweep(&self) {
        let now = now_ms();
        let mut expired = Vec::new();
        lock(&self.inner).subs.retain(|k, s| {
            let live = s.expires_ms > now;
            if !live {
                expired.push(k.1.clone());
            }
            live
        });
        for callback in &expired {
            tracing::info!("hub: lease of {callback} ended; subscription dropped");
        }
        if !expired.is_empty() {
            self.changed();
        }
    }

    pub(super) fn run(&self, job: Job) {
        match job {
            Job::Verify(intent) => self.verify(intent),
            Job::Deny {
                callback,
                topic,
                reason,
            } => {
                match self.client.deny(&callback, &topic, &reason) {
                    Ok(_) => tracing::info!("hub: denied {callback} for {topic}: {reason}"),
                    Err(e) => {
                        tracing::info!("hub: denial notice to {callback} not delivered: {e}")
                    }
                }
                let mut inner = lock(&self.inner);
                inner.outstanding = inner.outstanding.saturating_sub(1);
            }
            Job::Deliver(key) => self.deliver(key),
        }
    }
}

/// A worker: runs jobs until the hub is gone.
pub(super) fn worker(rx: &Mutex<mpsc::Receiver<Job>>, hub: &Weak<Hub>) {
    loop {
        let job = match lock(rx).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        let Some(hub) = hub.upgrade() else { return };
        hub.run(job);
    }
}

/// The scheduler: hands retries to the workers when they are due, drops expired leases, and
/// writes the subscriptions file after changes (a burst of changes gives one write).
pub(super) fn scheduler(hub: &Weak<Hub>) {
    let mut next_sweep = Instant::now() + SWEEP_EVERY;
    let mut save_at: Option<Instant> = None;
    loop {
        let Some(hub) = hub.upgrade() else { return };
        let mut due = Vec::new();
        {
            let mut s = lock(&hub.sched);
            loop {
                let now = Instant::now();
                while s.timed.peek().is_some_and(|t| t.0.due <= now) {
                    if let Some(Reverse(t)) = s.timed.pop() {
                        due.push(t.job);
                    }
                }
                if std::mem::take(&mut s.save) && save_at.is_none() {
                    save_at = Some(now + SAVE_AFTER);
                }
                let save_due = save_at.is_some_and(|t| t <= now);
                if !due.is_empty() || save_due || now >= next_sweep {
                    break;
                }
                let mut wake = next_sweep;
                if let Some(t) = s.timed.peek() {
                    wake = wake.min(t.0.due);
                }
                if let Some(t) = save_at {
                    wake = wake.min(t);
                }
                s = hub
                    .wake
                    .wait_timeout(s, wake.saturating_duration_since(now))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        for job in due {
            hub.enqueue(job);
        }
        let now = Instant::now();
        if now >= next_sweep {
            hub.sweep();
            next_sweep = now + SWEEP_EVERY;
        }
        if save_at.is_some_and(|t| t <= Instant::now()) {
            save_at = None;
            hub.save();
        }
    }
}
