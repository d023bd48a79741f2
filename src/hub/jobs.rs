//! The hub's jobs, run on its engine (`crate::push`: the queue, the worker threads, retries
//! held until their time), and the saving of the subscriptions file after changes settle.

use super::*;
use crate::push::Work;

/// Work for the worker threads.
pub enum Job {
    Verify(Intent),
    Deny {
        callback: Url,
        topic: String,
        reason: String,
    },
    Deliver(Key),
}

/// A subscribe or unsubscribe request, to be verified.
pub struct Intent {
    pub(super) key: Key,
    pub(super) seq: u64,
    pub(super) mode: Mode,
    pub(super) topic: String,
    pub(super) callback: Url,
    pub(super) lease_seconds: u64,
    pub(super) secret: Option<String>,
}

impl Work for Hub {
    type Job = Job;

    fn engine(&self) -> &Engine<Job> {
        &self.engine
    }

    fn run(&self, job: Job) {
        self.run_job(job);
    }

    fn sweep(&self) {
        self.drop_expired();
    }

    fn save(&self) {
        self.save_now();
    }
}

impl Hub {
    pub(super) fn enqueue(&self, job: Job) {
        self.engine.enqueue(job);
    }

    /// Runs `job` at `due` (retries).
    pub(super) fn schedule(&self, due: Instant, job: Job) {
        self.engine.schedule(due, job);
    }

    /// Asks the scheduler to write the subscriptions file soon.
    pub(super) fn changed(&self) {
        self.engine.changed();
    }

    pub(super) fn save_now(&self) {
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
    pub(super) fn drop_expired(&self) {
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

    pub(super) fn run_job(&self, job: Job) {
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
