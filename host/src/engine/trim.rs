//! Giving freed memory back to the system. glibc's allocator keeps what
//! was freed in its arenas; after a burst of busy connections that then
//! hibernate, that is most of the process's memory. A thread of its own
//! trims the heap at most once per [`TRIM_INTERVAL`], after something
//! large was freed.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const TRIM_INTERVAL: Duration = Duration::from_millis(500);

static DIRTY: AtomicBool = AtomicBool::new(false);
static STARTED: OnceLock<()> = OnceLock::new();

/// Something large was freed (an instance dropped, a connection ended):
/// trim the heap soon.
pub(crate) fn freed() {
    DIRTY.store(true, Ordering::Relaxed);
    STARTED.get_or_init(|| {
        let _ = std::thread::Builder::new()
            .name("h2wasm-trim".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(TRIM_INTERVAL);
                    if DIRTY.swap(false, Ordering::Relaxed) {
                        trim();
                    }
                }
            });
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}
