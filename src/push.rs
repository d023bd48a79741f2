//! The push engine: the one queue, scheduler and set of worker threads every outgoing push
//! of the server runs on — the WebSub hub's verifications and deliveries (`hub`) and the
//! ActivityPub deliveries (`activitypub::delivery`), each an engine of its own jobs.
//!
//! ```text
//! enqueue ─────────────────────────► channel ─► workers (N threads) ─► Work::run(job)
//! schedule(due) ─► timed heap ─► scheduler thread ─┘   (retries, paced deliveries)
//! changed() ─────► scheduler: Work::save() once changes settle; Work::sweep() periodically
//! ```
//!
//! The owner ([`Work`]) holds its [`Engine`]; the threads hold the owner weakly and end once
//! it is dropped. Nothing here blocks a caller: `enqueue`, `schedule` and `changed` take a
//! short lock or send on a channel.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

/// What an engine's owner does with its jobs.
pub trait Work: Send + Sync + Sized + 'static {
    type Job: Send + 'static;
    /// The owner's engine.
    fn engine(&self) -> &Engine<Self::Job>;
    /// Runs one job on a worker thread (it may block on the network).
    fn run(&self, job: Self::Job);
    /// Called on the scheduler thread every [`Timing::sweep_every`].
    fn sweep(&self) {}
    /// Called on the scheduler thread [`Timing::save_after`] after [`Engine::changed`] (a
    /// burst of changes gives one call).
    fn save(&self) {}
}

/// The scheduler's rhythm.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub sweep_every: Duration,
    pub save_after: Duration,
}

/// A job due at a time.
struct Timed<J> {
    due: Instant,
    seq: u64,
    job: J,
}

impl<J> PartialEq for Timed<J> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<J> Eq for Timed<J> {}
impl<J> PartialOrd for Timed<J> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<J> Ord for Timed<J> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

/// The scheduler's state: jobs waiting for their time, and whether to save.
struct Sched<J> {
    timed: BinaryHeap<Reverse<Timed<J>>>,
    seq: u64,
    save: bool,
}

/// A queue of jobs for worker threads, with jobs held until their time.
pub struct Engine<J> {
    sched: Mutex<Sched<J>>,
    wake: Condvar,
    jobs: mpsc::Sender<J>,
    /// The workers' end of the channel, until [`start`] hands it to them.
    rx: Mutex<Option<mpsc::Receiver<J>>>,
    timing: Timing,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<J: Send + 'static> Engine<J> {
    pub fn new(timing: Timing) -> Engine<J> {
        let (tx, rx) = mpsc::channel();
        Engine {
            sched: Mutex::new(Sched {
                timed: BinaryHeap::new(),
                seq: 0,
                save: false,
            }),
            wake: Condvar::new(),
            jobs: tx,
            rx: Mutex::new(Some(rx)),
            timing,
        }
    }

    /// Runs `job` as soon as a worker is free.
    pub fn enqueue(&self, job: J) {
        // Fails only when every worker is gone, i.e. the owner is being dropped.
        let _ = self.jobs.send(job);
    }

    /// Runs `job` at `due` (a retry, a paced delivery).
    pub fn schedule(&self, due: Instant, job: J) {
        let mut s = lock(&self.sched);
        s.seq += 1;
        let seq = s.seq;
        s.timed.push(Reverse(Timed { due, seq, job }));
        drop(s);
        self.wake.notify_one();
    }

    /// Asks the scheduler to call [`Work::save`] soon.
    pub fn changed(&self) {
        lock(&self.sched).save = true;
        self.wake.notify_one();
    }
}

/// Starts `workers` worker threads and the scheduler thread of `owner`'s engine, named
/// `{name}-{i}` and `{name}-scheduler`. Called once; a second call starts nothing.
pub fn start<W: Work>(owner: &Arc<W>, name: &str, workers: usize) -> std::io::Result<()> {
    let Some(rx) = lock(&owner.engine().rx).take() else {
        return Ok(());
    };
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..workers {
        let rx = Arc::clone(&rx);
        let weak = Arc::downgrade(owner);
        std::thread::Builder::new()
            .name(format!("{name}-{i}"))
            .spawn(move || worker(&rx, &weak))?;
    }
    let weak = Arc::downgrade(owner);
    std::thread::Builder::new()
        .name(format!("{name}-scheduler"))
        .spawn(move || scheduler(&weak))?;
    Ok(())
}

/// A worker: runs jobs until the owner is gone.
fn worker<W: Work>(rx: &Mutex<mpsc::Receiver<W::Job>>, owner: &Weak<W>) {
    loop {
        let job = match lock(rx).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        let Some(owner) = owner.upgrade() else { return };
        owner.run(job);
    }
}

/// The scheduler: hands jobs to the workers when they are due, sweeps, and saves after
/// changes settle.
fn scheduler<W: Work>(owner: &Weak<W>) {
    let Some(timing) = owner.upgrade().map(|o| o.engine().timing) else {
        return;
    };
    let mut next_sweep = Instant::now() + timing.sweep_every;
    let mut save_at: Option<Instant> = None;
    loop {
        let Some(owner) = owner.upgrade() else { return };
        let engine = owner.engine();
        let mut due = Vec::new();
        {
            let mut s = lock(&engine.sched);
            loop {
                let now = Instant::now();
                while s.timed.peek().is_some_and(|t| t.0.due <= now) {
                    if let Some(Reverse(t)) = s.timed.pop() {
                        due.push(t.job);
                    }
                }
                if std::mem::take(&mut s.save) && save_at.is_none() {
                    save_at = Some(now + timing.save_after);
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
                s = engine
                    .wake
                    .wait_timeout(s, wake.saturating_duration_since(now))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        for job in due {
            engine.enqueue(job);
        }
        let now = Instant::now();
        if now >= next_sweep {
            owner.sweep();
            next_sweep = now + timing.sweep_every;
        }
        if save_at.is_some_and(|t| t <= Instant::now()) {
            save_at = None;
            owner.save();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Recorder {
        engine: Engine<u32>,
        ran: Mutex<Vec<(u32, Instant)>>,
        saves: Mutex<u32>,
    }

    impl Work for Recorder {
        type Job = u32;
        fn engine(&self) -> &Engine<u32> {
            &self.engine
        }
        fn run(&self, job: u32) {
            lock(&self.ran).push((job, Instant::now()));
        }
        fn save(&self) {
            *lock(&self.saves) += 1;
        }
    }

    fn wait(mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "timed out");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn jobs_run_now_or_at_their_time_and_saves_settle() {
        let r = Arc::new(Recorder {
            engine: Engine::new(Timing {
                sweep_every: Duration::from_secs(60),
                save_after: Duration::from_millis(30),
            }),
            ran: Mutex::new(Vec::new()),
            saves: Mutex::new(0),
        });
        start(&r, "test-push", 2).unwrap();
        let t0 = Instant::now();
        r.engine.schedule(t0 + Duration::from_millis(150), 2);
        r.engine.schedule(t0 + Duration::from_millis(80), 1);
        r.engine.enqueue(0);
        for _ in 0..5 {
            r.engine.changed();
        }
        wait(|| lock(&r.ran).len() == 3);
        let ran = lock(&r.ran).clone();
        let order: Vec<u32> = ran.iter().map(|(j, _)| *j).collect();
        assert_eq!(order, [0, 1, 2]);
        assert!(ran[1].1 >= t0 + Duration::from_millis(80));
        assert!(ran[2].1 >= t0 + Duration::from_millis(150));
        wait(|| *lock(&r.saves) >= 1);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(*lock(&r.saves), 1, "a burst of changes is one save");
    }
}
