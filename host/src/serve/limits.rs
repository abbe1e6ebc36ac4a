//! Process-wide limits of a server: how many connections it holds and how
//! much memory it may use, with the counters behind them. Reaching a
//! limit refuses new work (connections, streams) properly and says so in
//! the log, at most once per [`WARN_INTERVAL`].

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Refusals are logged at most this often (with how many there were).
pub const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// How often the process's resident memory is read.
const MEMORY_SAMPLE: Duration = Duration::from_millis(50);

/// Counters a server keeps; read them with [`Limits::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections taken on.
    pub accepted: u64,
    /// Connections refused because `max_connections` were open.
    pub refused_at_capacity: u64,
    /// Connections refused because the memory budget was spent.
    pub refused_for_memory: u64,
    /// Connections open now.
    pub open: u64,
    /// Times an idle connection gave its instance back.
    pub hibernated: u64,
    /// Times a hibernated connection took an instance again.
    pub resumed: u64,
    /// Connections hibernating now (holding no instance).
    pub hibernating: u64,
    /// Connections closed for not completing the HTTP/2 handshake in time.
    pub handshake_timeouts: u64,
    /// Connections closed (GOAWAY NO_ERROR) after the idle timeout.
    pub idle_closed: u64,
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    refused_at_capacity: AtomicU64,
    refused_for_memory: AtomicU64,
    hibernated: AtomicU64,
    resumed: AtomicU64,
    /// Hibernated connections that ended without resuming.
    hibernated_closed: AtomicU64,
    handshake_timeouts: AtomicU64,
    idle_closed: AtomicU64,
}

/// Why a connection was not taken on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `max_connections` connections are open.
    Capacity,
    /// The process is above its memory budget.
    Memory,
}

/// The limits and counters shared by every connection of a server.
pub struct Limits {
    max_connections: usize,
    open: AtomicUsize,
    memory: Option<MemoryBudget>,
    counters: Counters,
    refusals: Warning,
}

/// A warning logged at most once per [`WARN_INTERVAL`], with how many
/// times it happened since the last one: what a limit reached by many
/// requests at once says without flooding the log.
#[derive(Default)]
pub struct Warning(Mutex<(u64, Option<Instant>)>);

impl Warning {
    /// Counts one occurrence; `Some(count)` when a line is due (the
    /// occurrences since the last one, this one included).
    pub fn due(&self) -> Option<u64> {
        let mut warned = self.0.lock().ok()?;
        warned.0 += 1;
        if warned.1.is_some_and(|at| at.elapsed() < WARN_INTERVAL) {
            return None;
        }
        let count = warned.0;
        *warned = (0, Some(Instant::now()));
        Some(count)
    }
}

/// Held while a connection is open; dropping it frees the slot.
pub struct ConnectionSlot(Arc<Limits>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Limits {
    /// At most `max_connections` open at once; with `max_memory`, new
    /// connections and new streams are refused while the process's
    /// resident memory is above it (Linux: read from /proc every 50 ms).
    pub fn new(max_connections: usize, max_memory: Option<u64>) -> Arc<Limits> {
        Arc::new(Limits {
            max_connections: max_connections.max(1),
            open: AtomicUsize::new(0),
            memory: max_memory.map(MemoryBudget::start),
            counters: Counters::default(),
            refusals: Warning::default(),
        })
    }

    /// Takes a connection slot, or says why not (and warns, rate-limited).
    pub fn admit(self: &Arc<Self>) -> Result<ConnectionSlot, Refusal> {
        if self.memory_exhausted() {
            self.counters
                .refused_for_memory
                .fetch_add(1, Ordering::Relaxed);
            self.warn_refused("the memory budget is spent");
            return Err(Refusal::Memory);
        }
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_connections).then_some(n + 1)
            });
        if taken.is_err() {
            self.counters
                .refused_at_capacity
                .fetch_add(1, Ordering::Relaxed);
            self.warn_refused(&format!(
                "{} connections are open (--max-connections)",
                self.max_connections
            ));
            return Err(Refusal::Capacity);
        }
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
        Ok(ConnectionSlot(self.clone()))
    }

    /// The process is above its memory budget: refuse new work.
    pub fn memory_exhausted(&self) -> bool {
        self.memory
            .as_ref()
            .is_some_and(|m| m.over.load(Ordering::Relaxed))
    }

    /// Resident memory is above half the budget: connections take output in
    /// small batches only, so that slow readers hold little each.
    pub fn memory_tight(&self) -> bool {
        self.memory
            .as_ref()
            .is_some_and(|m| m.resident.load(Ordering::Relaxed) as u64 > m.limit / 2)
    }

    /// Resident memory at the last sample, if it is being watched.
    pub fn resident(&self) -> Option<u64> {
        self.memory
            .as_ref()
            .map(|m| m.resident.load(Ordering::Relaxed) as u64)
    }

    /// The memory budget, if there is one.
    pub fn budget(&self) -> Option<u64> {
        self.memory.as_ref().map(|m| m.limit)
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            accepted: get(&c.accepted),
            refused_at_capacity: get(&c.refused_at_capacity),
            refused_for_memory: get(&c.refused_for_memory),
            open: self.open.load(Ordering::Relaxed) as u64,
            hibernated: get(&c.hibernated),
            resumed: get(&c.resumed),
            hibernating: get(&c.hibernated)
                .saturating_sub(get(&c.resumed))
                .saturating_sub(get(&c.hibernated_closed)),
            handshake_timeouts: get(&c.handshake_timeouts),
            idle_closed: get(&c.idle_closed),
        }
    }

    pub(crate) fn count_hibernated(&self) {
        self.counters.hibernated.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_resumed(&self) {
        self.counters.resumed.fetch_add(1, Ordering::Relaxed);
    }

    /// A hibernated connection ended (the peer left, or it was refused an
    /// instance to resume in).
    pub(crate) fn count_hibernated_closed(&self) {
        self.counters
            .hibernated_closed
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_handshake_timeout(&self) {
        self.counters
            .handshake_timeouts
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_idle_closed(&self) {
        self.counters.idle_closed.fetch_add(1, Ordering::Relaxed);
    }

    /// One warning per interval, with the number of refusals it covers.
    fn warn_refused(&self, why: &str) {
        if let Some(count) = self.refusals.due() {
            tracing::warn!("refusing connections: {why}; {count} refused since the last warning");
        }
    }
}

/// The process's resident memory against a budget, sampled on a thread of
/// its own that ends with the [`Limits`] it belongs to.
struct MemoryBudget {
    limit: u64,
    over: Arc<AtomicBool>,
    resident: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Drop for MemoryBudget {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl MemoryBudget {
    fn start(limit: u64) -> MemoryBudget {
        let over = Arc::new(AtomicBool::new(false));
        let resident = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (o, r, s) = (over.clone(), resident.clone(), stop.clone());
        let spawned = std::thread::Builder::new()
            .name("h2wasm-memory".into())
            .spawn(move || {
                let mut was_over = false;
                // Back under at 90%, so a server near its budget does not
                // flap between refusing and accepting.
                let resume_below = limit / 10 * 9;
                while !s.load(Ordering::Relaxed) {
                    if let Some(rss) = resident_bytes() {
                        r.store(
                            usize::try_from(rss).unwrap_or(usize::MAX),
                            Ordering::Relaxed,
                        );
                        let now_over = if was_over {
                            rss >= resume_below
                        } else {
                            rss > limit
                        };
                        if now_over != was_over {
                            if now_over {
                                tracing::warn!(
                                    "memory budget reached: {} MiB resident of {} MiB \
                                     (--max-memory); refusing new connections and streams",
                                    rss >> 20,
                                    limit >> 20
                                );
                            } else {
                                tracing::warn!(
                                    "memory back under budget: {} MiB resident; accepting again",
                                    rss >> 20
                                );
                            }
                            o.store(now_over, Ordering::Relaxed);
                            was_over = now_over;
                        }
                    }
                    std::thread::sleep(MEMORY_SAMPLE);
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot watch memory use ({e}); --max-memory is not enforced");
        }
        MemoryBudget {
            limit,
            over,
            resident,
            stop,
        }
    }
}

/// Resident set size of this process (Linux; `None` elsewhere). Reads
/// into a buffer on the stack: the sampling thread never allocates (a
/// thread that does gets an allocator arena of its own).
pub fn resident_bytes() -> Option<u64> {
    use std::io::Read;
    let mut buf = [0u8; 4096];
    let mut f = std::fs::File::open("/proc/self/statm").ok()?;
    let n = f.read(&mut buf).ok()?;
    // statm: size resident shared text lib data dt, in pages.
    let text = std::str::from_utf8(&buf[..n]).ok()?;
    let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

/// Half the machine's memory (Linux), or 2 GiB where that is unknown: the
/// default memory budget.
pub fn default_max_memory() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        let line = m.lines().find(|l| l.starts_with("MemTotal:"))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    });
    total.map_or(2 << 30, |kib| kib * 1024 / 2)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn memory_is_tight_past_half_the_budget() {
        let rss = resident_bytes().expect("Linux reports resident memory");
        // Resident memory is above half of a budget of itself, and far
        // below half of a budget of ten times itself.
        let tight = Limits::new(1, Some(rss));
        let roomy = Limits::new(1, Some(rss * 10));
        let unwatched = Limits::new(1, None);
        for _ in 0..200 {
            if tight.resident().unwrap_or(0) > 0 && roomy.resident().unwrap_or(0) > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(tight.memory_tight());
        assert!(!roomy.memory_tight());
        assert!(!unwatched.memory_tight());
    }
}
