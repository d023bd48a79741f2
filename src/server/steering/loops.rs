//! The event loops of one server, as each sees the others: how many connections each serves,
//! the CPU each was last seen on, and each one's inbox for connections handed over — new ones
//! from a loop with far more than another, or served ones moving to the loop on their
//! client's CPU ([`super::connection`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use super::connection;
use super::listen;

/// Hands `conn` from loop `me` to loop `to`: a new connection, or one moved between two
/// requests. Gives it back (re-registered here, counted by `me` again) if that loop has
/// stopped.
pub(super) fn hand_over(
    loops: &Arc<Loops>,
    me: usize,
    to: usize,
    conn: connection::Conn,
) -> std::io::Result<Option<connection::Conn>> {
    tracing::debug!(
        "{} a connection to event loop {to}: {:?}",
        if conn.moved { "moving" } else { "handing over" },
        loops.counts()
    );
    let connection::Conn {
        stream,
        unread,
        moved,
        permit,
        load,
    } = conn;
    let handed = Handed {
        stream: stream.into_std()?,
        unread,
        moved,
        permit,
        load: loops.open(to),
    };
    drop(load);
    match loops.send(to, handed) {
        Ok(()) => Ok(None),
        Err(back) => {
            let mut back = back.registered()?;
            back.load = loops.open(me);
            Ok(Some(back))
        }
    }
}

/// A connection on its way to another loop, with its permit and its place in that loop's count.
pub struct Handed {
    stream: std::net::TcpStream,
    /// Bytes read from it and not yet used (a connection moved between requests).
    unread: Bytes,
    /// Moved after serving requests (HTTP/1), rather than handed over new.
    moved: bool,
    permit: OwnedSemaphorePermit,
    load: OwnedLoad,
}

impl Handed {
    /// The connection registered with the runtime of the calling loop.
    fn registered(self) -> std::io::Result<connection::Conn> {
        Ok(connection::Conn {
            stream: TcpStream::from_std(self.stream)?,
            unread: self.unread,
            moved: self.moved,
            permit: self.permit,
            load: self.load,
        })
    }

    /// The connection registered with the receiving loop; `None` (logged) if it cannot be.
    pub(super) fn take(self) -> Option<connection::Conn> {
        self.registered()
            .map_err(|e| tracing::warn!("cannot take over a connection: {e}"))
            .ok()
    }
}

/// How many more connections than the least busy loop a loop keeps before it hands new ones
/// over. Above zero so that steering by CPU ([`listen`]) is not undone by a few connections
/// more on one side; small enough that no loop ends up with most of a burst.
pub const HANDOVER_GAP: usize = 8;

/// The event loops serving one state: the open connections of each, and each one's inbox for
/// connections the others hand over.
pub struct Loops {
    counts: [std::sync::atomic::AtomicUsize; MAX_LOOPS],
    /// The CPU each loop was last seen running on ([`Loops::runs_on`]; `u32::MAX`: unknown).
    ran_on: [std::sync::atomic::AtomicU32; MAX_LOOPS],
    inboxes: std::sync::Mutex<Vec<Option<Member>>>,
    /// Connections handed over since the start (for the debug log and the tests).
    handed: std::sync::atomic::AtomicUsize,
    /// Served connections moved to the loop on their client's CPU since the start (the same).
    moved: std::sync::atomic::AtomicUsize,
}

/// A running loop, as the others see it.
struct Member {
    inbox: tokio::sync::mpsc::UnboundedSender<Handed>,
    /// Its listening socket, only read under the [`Loops`] lock: the loop leaves under that
    /// lock ([`Inbox::leave`]) before its socket closes.
    listener: listen::Fd,
}

/// Event loops that take part in handing over ([`super::bind`] makes sockets for no more);
/// further ones serve their own connections only.
pub const MAX_LOOPS: usize = 64;

impl Default for Loops {
    fn default() -> Self {
        Loops {
            counts: std::array::from_fn(|_| std::sync::atomic::AtomicUsize::new(0)),
            ran_on: std::array::from_fn(|_| std::sync::atomic::AtomicU32::new(u32::MAX)),
            inboxes: std::sync::Mutex::new(Vec::new()),
            handed: std::sync::atomic::AtomicUsize::new(0),
            moved: std::sync::atomic::AtomicUsize::new(0),
        }
    }
}

impl Loops {
    fn inboxes(&self) -> std::sync::MutexGuard<'_, Vec<Option<Member>>> {
        self.inboxes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new loop accepting on `listener`: its index and its inbox, open until
    /// [`Inbox::leave`] (which must come before `listener` closes). It runs on the calling
    /// thread.
    pub fn join(self: &Arc<Self>, listener: listen::Fd) -> (usize, Inbox) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let member = Some(Member {
            inbox: tx,
            listener,
        });
        let mut members = self.inboxes();
        // The slot of a loop that has left, else a new one; past MAX_LOOPS a loop shares the
        // last count and has no inbox: nothing is sent to it.
        let slot = match members.iter().position(Option::is_none) {
            Some(free) => {
                members[free] = member;
                Some(free)
            }
            None if members.len() < MAX_LOOPS => {
                members.push(member);
                Some(members.len() - 1)
            }
            None => None,
        };
        let me = slot.unwrap_or(MAX_LOOPS - 1);
        drop(members);
        self.runs_on(me, listen::current_cpu());
        (
            me,
            Inbox {
                rx,
                loops: Arc::clone(self),
                slot,
            },
        )
    }

    /// Counts a connection of loop `me` until the returned guard drops.
    pub fn open(self: &Arc<Self>, me: usize) -> OwnedLoad {
        self.counts[me].fetch_add(1, Ordering::Relaxed);
        OwnedLoad(Arc::clone(self), me)
    }

    /// Open connections of each loop that has joined.
    pub fn counts(&self) -> Vec<usize> {
        let joined = self.inboxes().len();
        self.counts[..joined]
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    /// The least busy running loop, if loop `me` has at least [`HANDOVER_GAP`] connections
    /// more than it. A loop's connections are the ones it serves and the ones waiting in its
    /// accept queue: in a burst, a loop that has not yet taken its share is not idle.
    pub fn lighter(&self, me: usize) -> Option<usize> {
        if self.counts[me].load(Ordering::Relaxed) < HANDOVER_GAP {
            return None;
        }
        let inboxes = self.inboxes();
        let load = |i: usize, member: &Member| {
            self.counts[i].load(Ordering::Relaxed) + listen::waiting(member.listener)
        };
        let mine = load(me, inboxes.get(me)?.as_ref()?);
        inboxes
            .iter()
            .enumerate()
            // A loop whose open connections alone close the gap cannot be chosen: its accept
            // queue is not asked (in the usual, balanced case, no other queue is).
            .filter(|&(i, _)| {
                i != me && self.counts[i].load(Ordering::Relaxed) + HANDOVER_GAP <= mine
            })
            .filter_map(|(i, member)| Some((load(i, member.as_ref()?), i)))
            .min()
            .filter(|&(theirs, _)| theirs + HANDOVER_GAP <= mine)
            .map(|(_, i)| i)
    }

    /// Puts `handed` in loop `to`'s inbox; gives it back if that loop has stopped.
    fn send(&self, to: usize, handed: Handed) -> Result<(), Handed> {
        let inbox = self
            .inboxes()
            .get(to)
            .and_then(|m| m.as_ref().map(|m| m.inbox.clone()));
        let counter = if handed.moved {
            &self.moved
        } else {
            &self.handed
        };
        let sent = match inbox {
            Some(tx) => tx.send(handed).map_err(|e| e.0),
            None => Err(handed),
        };
        if sent.is_ok() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }

    /// New connections handed from one loop to another since the start.
    #[cfg(test)]
    pub fn handed_over(&self) -> usize {
        self.handed.load(Ordering::Relaxed)
    }

    /// Served connections moved to the loop of their client's CPU since the start.
    #[cfg(test)]
    pub fn moved(&self) -> usize {
        self.moved.load(Ordering::Relaxed)
    }

    /// Loop `me` is running on `cpu` (where known): connections whose packets come from
    /// `cpu` belong with it ([`Loops::home_of`]). Loops are not pinned: each one says where
    /// it is whenever it accepts a connection, and whenever one of its connections asks
    /// where it belongs.
    pub fn runs_on(&self, me: usize, cpu: Option<u32>) {
        self.ran_on[me].store(cpu.unwrap_or(u32::MAX), Ordering::Relaxed);
    }

    /// Where a connection of loop `me` whose packets come from `cpu` belongs: the loop last
    /// seen running on `cpu`, if that is not `me` and it does not have [`HANDOVER_GAP`]
    /// connections more than `me` (it would hand the next new ones back). `None` when `me`
    /// runs there itself, or no loop was seen there.
    pub fn home_of(&self, me: usize, cpu: u32) -> Option<usize> {
        let on = |i: usize| self.ran_on[i].load(Ordering::Relaxed);
        if on(me) == cpu {
            return None;
        }
        let load = |i: usize| self.counts[i].load(Ordering::Relaxed);
        let inboxes = self.inboxes();
        let home = (0..inboxes.len()).find(|&i| i != me && inboxes[i].is_some() && on(i) == cpu)?;
        (load(home) < load(me) + HANDOVER_GAP).then_some(home)
    }
}

/// A loop's end of [`Loops`]: connections handed to it. Dropping it closes the inbox, so that
/// no more are sent; the ones still in it are closed.
pub struct Inbox {
    rx: tokio::sync::mpsc::UnboundedReceiver<Handed>,
    loops: Arc<Loops>,
    slot: Option<usize>,
}

impl Inbox {
    pub(super) async fn recv(&mut self) -> Option<Handed> {
        self.rx.recv().await
    }

    /// Leaves the loops: no other loop sends to it or reads its socket any more. Returns the
    /// connections sent before it left, for it to serve.
    pub fn leave(&mut self) -> Vec<Handed> {
        if let Some(i) = self.slot.take() {
            if let Some(member) = self.loops.inboxes().get_mut(i) {
                *member = None;
            }
        }
        // A loop that took the sender before this one left gets its connection back (`send`
        // fails once the inbox is closed); everything sent before is here.
        self.rx.close();
        std::iter::from_fn(|| self.rx.try_recv().ok()).collect()
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        // Connections still in it close with it (a loop that did not leave: a panic).
        self.leave();
    }
}

/// [`Loops::open`]'s guard.
pub struct OwnedLoad(Arc<Loops>, usize);

impl Drop for OwnedLoad {
    fn drop(&mut self) {
        self.0.counts[self.1].fetch_sub(1, Ordering::Relaxed);
    }
}
