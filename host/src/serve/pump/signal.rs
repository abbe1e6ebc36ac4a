//! What wakes a connection that waits with no instance, besides its
//! socket: a graceful close asked for (of the connection, or of every
//! connection of its server) or its deadline passing (the handshake's, the
//! idle timeout's).
//!
//! Connections belong to a [`ConnectionSet`]: the set keeps one timer for
//! every member's deadline and reaches each member when it closes, so a
//! waiting connection holds no timer and no place in a wait list of its
//! own. Each of those was part of every idle connection's task (a tokio
//! `Sleep`, 112 octets, and two `Notified`, 184 with their wait), where a
//! member costs its set one slot.

use crate::serve::lock;
use futures_util::task::AtomicWaker;
use slab::Slab;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Deadlines are kept to this: the set's timer wakes at most once per
/// tick, however many members' deadlines fall in it.
const TICK_MS: u64 = 50;

/// No deadline.
const NONE: u64 = u64::MAX;

/// The connections of a server (or of one [`super::Builder`]'s): their
/// close, and one timer for all their deadlines.
pub(crate) struct ConnectionSet {
    closing: AtomicBool,
    /// Deadlines are milliseconds since this.
    epoch: Instant,
    /// One slot per live member (bounded by the connections open).
    members: Mutex<Slab<Weak<Signal>>>,
    timer: Mutex<Timer>,
    /// Wakes the timer when a deadline earlier than its next tick is set.
    poke: Arc<Notify>,
}

/// The set's timer: a task that runs while some member has a deadline.
#[derive(Default)]
struct Timer {
    running: bool,
    /// The tick it sleeps until; `None` while it looks at the members
    /// (any deadline set meanwhile pokes it).
    next: Option<u64>,
    /// A deadline was set since it last looked.
    poked: bool,
}

impl ConnectionSet {
    pub(crate) fn new() -> Arc<ConnectionSet> {
        Arc::new(ConnectionSet {
            closing: AtomicBool::new(false),
            epoch: Instant::now(),
            members: Mutex::new(Slab::new()),
            timer: Mutex::new(Timer::default()),
            poke: Arc::new(Notify::new()),
        })
    }

    /// A new member's signal.
    pub(crate) fn join(self: &Arc<Self>) -> Arc<Signal> {
        Arc::new_cyclic(|me| Signal {
            key: lock(&self.members).insert(me.clone()),
            set: self.clone(),
            requested: AtomicBool::new(false),
            deadline: AtomicU64::new(NONE),
            waker: AtomicWaker::new(),
        })
    }

    /// Asks every member, present and future, to close gracefully.
    pub(crate) fn close(&self) {
        self.closing.store(true, Ordering::Release);
        for member in self.live_members() {
            member.waker.wake();
        }
    }

    fn live_members(&self) -> Vec<Arc<Signal>> {
        lock(&self.members)
            .iter()
            .filter_map(|(_, m)| m.upgrade())
            .collect()
    }

    /// A deadline in milliseconds, rounded up, and the time now, rounded
    /// down: a member found due is past its deadline by its own clock, so
    /// no wake-up is spent on a member that would wait on.
    fn millis(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.epoch);
        since.as_nanos().div_ceil(1_000_000) as u64
    }

    fn millis_now(&self) -> u64 {
        Instant::now()
            .saturating_duration_since(self.epoch)
            .as_millis() as u64
    }

    /// A member's deadline is now `at` (milliseconds): start the timer, or
    /// poke it if it would wake too late.
    fn deadline_set(self: &Arc<Self>, at: u64) {
        let mut timer = lock(&self.timer);
        if !timer.running {
            timer.running = true;
            timer.next = None;
            tokio::spawn(keep_time(Arc::downgrade(self), self.poke.clone()));
        } else if timer
            .next
            .is_none_or(|next| at.div_ceil(TICK_MS) * TICK_MS < next)
        {
            timer.poked = true;
            self.poke.notify_one();
        }
    }

    /// Wakes the members whose deadline has passed; the next deadline.
    fn wake_due(&self) -> Option<u64> {
        let now = self.millis_now();
        let mut next = NONE;
        for member in self.live_members() {
            let at = member.deadline.load(Ordering::Acquire);
            if at <= now {
                member.waker.wake();
            } else {
                next = next.min(at);
            }
        }
        (next != NONE).then_some(next)
    }
}

/// The set's timer, while any member has a deadline.
async fn keep_time(set: Weak<ConnectionSet>, poke: Arc<Notify>) {
    loop {
        let Some(members) = set.upgrade() else { return };
        lock(&members.timer).next = None;
        let next = members.wake_due();
        let at = {
            let mut timer = lock(&members.timer);
            if std::mem::take(&mut timer.poked) {
                continue;
            }
            let Some(next) = next else {
                timer.running = false;
                return;
            };
            let tick = next.div_ceil(TICK_MS) * TICK_MS;
            timer.next = Some(tick);
            members.epoch + Duration::from_millis(tick)
        };
        drop(members);
        tokio::select! {
            _ = tokio::time::sleep_until(at.into()) => {}
            _ = poke.notified() => {}
        }
    }
}

/// One connection's part of its set: its own close, its deadline, and
/// the waker of its task.
pub(crate) struct Signal {
    set: Arc<ConnectionSet>,
    key: usize,
    requested: AtomicBool,
    /// Milliseconds since the set's epoch; `NONE`.
    deadline: AtomicU64,
    waker: AtomicWaker,
}

impl Signal {
    /// Asks this connection to close gracefully.
    pub(crate) fn request(&self) {
        self.requested.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// A graceful close has been asked for, of this connection or of its set.
    pub(crate) fn is_requested(&self) -> bool {
        self.requested.load(Ordering::Acquire) || self.set.closing.load(Ordering::Acquire)
    }

    /// Ready once a graceful close has been asked for. Only the
    /// connection's own task waits on its signal (one waker is kept).
    pub(crate) fn poll_requested(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.waker.register(cx.waker());
        match self.is_requested() {
            true => Poll::Ready(()),
            false => Poll::Pending,
        }
    }

    /// Resolves once a graceful close has been asked for.
    pub(crate) async fn requested(&self) {
        std::future::poll_fn(|cx| self.poll_requested(cx)).await
    }

    /// Wake the connection's task at `at` (none: no deadline). The task
    /// looks at the clock itself when woken.
    pub(crate) fn wake_at(&self, at: Option<Instant>) {
        let at = at.map_or(NONE, |at| self.set.millis(at));
        let before = self.deadline.swap(at, Ordering::AcqRel);
        if at != NONE && at != before {
            self.set.deadline_set(at);
        }
    }

    /// Ready once `at` has passed (registering for the set's timer, which
    /// [`Signal::wake_at`] set).
    pub(crate) fn poll_deadline(&self, at: Option<Instant>, cx: &mut Context<'_>) -> Poll<()> {
        self.waker.register(cx.waker());
        match at.is_some_and(|at| Instant::now() >= at) {
            true => Poll::Ready(()),
            false => Poll::Pending,
        }
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        lock(&self.set.members).remove(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_deadline_wakes_its_member_and_no_earlier() {
        let set = ConnectionSet::new();
        let signal = set.join();
        let started = Instant::now();
        let at = started + Duration::from_millis(120);
        signal.wake_at(Some(at));
        std::future::poll_fn(|cx| signal.poll_deadline(Some(at), cx)).await;
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(120), "{took:?}");
        assert!(took < Duration::from_millis(1_000), "{took:?}");
    }

    /// A deadline a fraction of a millisecond away is due only once the
    /// clock has passed it: the timer must not wake the member early and
    /// then forget it.
    #[tokio::test]
    async fn deadlines_within_a_millisecond_are_not_lost() {
        let set = ConnectionSet::new();
        let signal = set.join();
        for _ in 0..20 {
            let at = Instant::now() + Duration::from_micros(300);
            signal.wake_at(Some(at));
            // The timeout's own timer would wake the task and find the
            // deadline passed: the time taken is the test.
            let wait = std::future::poll_fn(|cx| signal.poll_deadline(Some(at), cx));
            let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
            let late = at.elapsed();
            assert!(late < Duration::from_millis(500), "woken {late:?} late");
            signal.wake_at(None);
        }
    }

    #[tokio::test]
    async fn an_earlier_deadline_pokes_a_sleeping_timer() {
        let set = ConnectionSet::new();
        let late = set.join();
        late.wake_at(Some(Instant::now() + Duration::from_secs(60)));
        tokio::task::yield_now().await;
        let soon = set.join();
        let at = Instant::now() + Duration::from_millis(50);
        soon.wake_at(Some(at));
        let woke = tokio::time::timeout(
            Duration::from_secs(5),
            std::future::poll_fn(|cx| soon.poll_deadline(Some(at), cx)),
        )
        .await;
        assert!(woke.is_ok(), "the later deadline held the timer");
    }

    #[tokio::test]
    async fn closing_the_set_reaches_every_member_and_later_ones() {
        let set = ConnectionSet::new();
        let members: Vec<_> = (0..3).map(|_| set.join()).collect();
        let waits = members.iter().map(|m| m.requested());
        let all = futures_util::future::join_all(waits);
        let close = async {
            tokio::task::yield_now().await;
            set.close();
        };
        let ((), _) = tokio::join!(close, async {
            tokio::time::timeout(Duration::from_secs(5), all)
                .await
                .expect("every member woke")
        });
        assert!(set.join().is_requested(), "a member joining later");
        let other = ConnectionSet::new().join();
        assert!(!other.is_requested());
        other.request();
        assert!(other.is_requested());
    }

    #[tokio::test]
    async fn members_leave_their_slot_and_the_timer_stops() {
        let set = ConnectionSet::new();
        let signal = set.join();
        let at = Instant::now() + Duration::from_millis(10);
        signal.wake_at(Some(at));
        std::future::poll_fn(|cx| signal.poll_deadline(Some(at), cx)).await;
        drop(signal);
        assert_eq!(lock(&set.members).len(), 0);
        // The timer finds no deadline left and ends.
        let stopped = async {
            while lock(&set.timer).running {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), stopped)
            .await
            .expect("the timer stopped");
    }
}
