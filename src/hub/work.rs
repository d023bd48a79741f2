//! What a worker does with a job: verify a subscriber's intent, deliver a topic's new version.

use super::*;

impl Hub {
    /// Verification of intent, then the subscription change it confirms.
    pub(super) fn verify(&self, intent: Intent) {
        let superseded = lock(&self.inner).intents.get(&intent.key) != Some(&intent.seq);
        let outcome = if superseded {
            Err("a newer request for it came first".to_owned())
        } else {
            let lease = (intent.mode == Mode::Subscribe).then_some(intent.lease_seconds);
            self.client
                .verify(&intent.callback, intent.mode, &intent.topic, lease)
                .map_err(|e| e.to_string())
        };
        let what = format!(
            "{} of {} to {}",
            intent.mode.as_str(),
            intent.callback,
            intent.topic
        );
        let mut inner = lock(&self.inner);
        inner.outstanding = inner.outstanding.saturating_sub(1);
        let latest = inner.intents.get(&intent.key) == Some(&intent.seq);
        if latest {
            inner.intents.remove(&intent.key);
        }
        if let Err(why) = outcome {
            drop(inner);
            tracing::info!("hub: {what} not verified: {why}");
            return;
        }
        if !latest {
            drop(inner);
            tracing::info!("hub: {what} verified, but a newer request for it came since");
            return;
        }
        match intent.mode {
            Mode::Subscribe => {
                let expires_ms = now_ms().saturating_add(intent.lease_seconds.saturating_mul(1000));
                if let Some(sub) = inner.subs.get_mut(&intent.key) {
                    sub.topic = intent.topic;
                    sub.secret = intent.secret;
                    sub.lease_seconds = intent.lease_seconds;
                    sub.expires_ms = expires_ms;
                    drop(inner);
                    tracing::info!("hub: renewed {what} for {} s", intent.lease_seconds);
                } else if let Some(why) = inner.full(&intent.key.0, &self.settings) {
                    inner.outstanding += 1;
                    drop(inner);
                    tracing::warn!("hub: {what} refused: {why}");
                    self.enqueue(Job::Deny {
                        callback: intent.callback,
                        topic: intent.topic,
                        reason: why,
                    });
                    return;
                } else {
                    let delivered = inner.topics.get(&intent.key.0).map(|d| d.hash);
                    inner.subs.insert(
                        intent.key,
                        Sub {
                            topic: intent.topic,
                            callback: intent.callback,
                            secret: intent.secret,
                            lease_seconds: intent.lease_seconds,
                            expires_ms,
                            delivered,
                            pending: None,
                            queued: false,
                            failures: 0,
                        },
                    );
                    drop(inner);
                    tracing::info!("hub: verified {what} for {} s", intent.lease_seconds);
                }
            }
            Mode::Unsubscribe => {
                inner.subs.remove(&intent.key);
                drop(inner);
                tracing::info!("hub: verified {what}");
            }
        }
        self.changed();
    }

    /// One delivery attempt of a subscription's pending version, and what follows from it.
    pub(super) fn deliver(&self, key: Key) {
        let (doc, callback, secret) = {
            let mut inner = lock(&self.inner);
            let Some(sub) = inner.subs.get_mut(&key) else {
                return;
            };
            let doc = sub.pending.take();
            match doc {
                Some(doc) if sub.expires_ms > now_ms() && sub.delivered != Some(doc.hash) => {
                    (doc, sub.callback.clone(), sub.secret.clone())
                }
                _ => {
                    // Nothing (new) to send, or the lease ended (the sweep drops it).
                    sub.queued = false;
                    return;
                }
            }
        };
        let self_url = format!("{}{}", self.base, crate::slug::encode_path(&key.0));
        let outcome = self
            .client
            .deliver(&callback, &doc, &self.url, &self_url, secret.as_deref());
        let mut inner = lock(&self.inner);
        let Some(sub) = inner.subs.get_mut(&key) else {
            // Unsubscribed (or expired) meanwhile.
            return;
        };
        match outcome {
            Delivery::Delivered => {
                self.metrics.hub_deliveries.delivered.inc();
                sub.failures = 0;
                sub.delivered = Some(doc.hash);
                let again = sub.pending.is_some();
                sub.queued = again;
                drop(inner);
                tracing::debug!("hub: delivered {self_url} to {callback}");
                if again {
                    self.enqueue(Job::Deliver(key));
                }
                self.changed();
            }
            Delivery::Gone => {
                self.metrics.hub_deliveries.dropped.inc();
                inner.subs.remove(&key);
                drop(inner);
                tracing::info!(
                    "hub: {callback} answered 410 Gone; subscription to {self_url} dropped"
                );
                self.changed();
            }
            Delivery::Failed(why) => {
                self.metrics.hub_deliveries.failed.inc();
                sub.failures += 1;
                let failures = sub.failures;
                if failures >= self.settings.attempts {
                    self.metrics.hub_deliveries.dropped.inc();
                    inner.subs.remove(&key);
                    drop(inner);
                    tracing::warn!(
                        "hub: delivery of {self_url} to {callback} failed {failures} times ({why}); subscription dropped"
                    );
                    self.changed();
                } else {
                    if sub.pending.is_none() {
                        sub.pending = Some(doc);
                    }
                    drop(inner);
                    let wait = self.settings.backoff(failures);
                    tracing::warn!(
                        "hub: delivery of {self_url} to {callback} failed ({why}); attempt {} in {wait:?}",
                        failures + 1
                    );
                    self.schedule(Instant::now() + wait, Job::Deliver(key));
                }
            }
        }
    }
}
