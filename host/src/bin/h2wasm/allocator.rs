//! The CLI's memory allocator: jemalloc, set to give freed pages back to
//! the system a second after they fall free, from a thread of its own.
//!
//! Why not the system's: a connection allocates its long-lived pieces
//! (its task, its socket's registration, the snapshot it hibernates into;
//! under 2 KiB together) among the short-lived ones of the connections
//! busy beside it (instances, buffers). glibc places them wherever a hole
//! fits, so once the busy ones are gone each idle connection pins pages
//! that are mostly free, and no trim can return a page in use: by hand,
//! 5,000 idle h2c connections after a burst held 9 KiB each with 2 KiB
//! of them in use. jemalloc keeps each size class on pages of its own,
//! so the long-lived pieces of idle connections share pages with each
//! other; with the decay below, what a burst freed is returned within
//! about a second instead of at the next allocation (what kept mimalloc
//! from being used; docs/performance.md has both, measured).
//!
//! Embedders of the library keep their own allocator; the library's trim
//! thread (`engine::trim`) is what serves glibc there. The `jemalloc`
//! feature (on by default) brings this in: without it the CLI runs on the
//! system's allocator.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read once when it starts: a background thread
/// purges dirty pages after a second (its default is ten, with purges
/// made by whichever thread allocates next) and does not keep them
/// "muzzy" (lazily freed, still counted as resident) before that.
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
static malloc_conf: &[u8; 60] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";
