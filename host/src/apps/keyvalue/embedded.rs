//! The embedded backend: one database file on this machine, through redb
//! (pure Rust, so nothing is added to the build but Rust; an ordered,
//! crash-safe key-value store with ACID transactions, which is the
//! interface itself: no schema, no SQL). Each bucket is a table; every
//! write commits durably before it answers. Writes are one transaction at
//! a time, so `increment` is exact under any concurrency; reads see the
//! last commit and never wait for writers. One process holds a file: many
//! machines (or processes) sharing state use Redis instead.

use super::backend::{Backend, Error, MAX_BATCH, Outcome, parse_counter};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

/// A database file, opened once per process however many apps and
/// reloads name it. Reads run where they are asked for; writes, which
/// wait for the disk at every commit, on blocking threads.
#[derive(Clone)]
pub struct Embedded {
    db: Arc<Database>,
    /// Blocking threads this file's writes may take at once.
    threads: Arc<tokio::sync::Semaphore>,
}

/// Threads one database's writes take at once; more wait their turn
/// (redb commits one write transaction at a time anyway).
const THREADS: usize = 8;

/// The files open in this process: a reload opens the same file again
/// while the old configuration still serves, and redb allows one opener.
fn open_files() -> &'static Mutex<HashMap<PathBuf, Weak<Database>>> {
    static OPEN: std::sync::OnceLock<Mutex<HashMap<PathBuf, Weak<Database>>>> =
        std::sync::OnceLock::new();
    OPEN.get_or_init(Default::default)
}

impl Embedded {
    /// The database in `path`, created if there is none.
    pub fn open(path: &Path) -> anyhow::Result<Embedded> {
        let key = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => std::fs::canonicalize(dir)
                .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
                .join(path.file_name().unwrap_or_default()),
            _ => std::env::current_dir()?.join(path),
        };
        let mut open = open_files().lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|_, db| db.strong_count() > 0);
        let db = match open.get(&key).and_then(Weak::upgrade) {
            Some(db) => db,
            None => {
                let db = Database::create(&key).map_err(|e| match e {
                    redb::DatabaseError::DatabaseAlreadyOpen => anyhow::anyhow!(
                        "{}: another process has this key-value file open \
                         (one process per file; share state between processes through Redis)",
                        key.display()
                    ),
                    e => anyhow::anyhow!("{}: {e}", key.display()),
                })?;
                let db = Arc::new(db);
                open.insert(key, Arc::downgrade(&db));
                db
            }
        };
        Ok(Embedded {
            db,
            threads: Arc::new(tokio::sync::Semaphore::new(THREADS)),
        })
    }

    /// Runs the read `op` here and now. A read is answered from redb's
    /// cache or the kernel's page cache in microseconds; handing it to a
    /// blocking thread cost more than the read (about 30 µs of CPU per
    /// request in `bench/app`: two thread wake-ups). Only a read of a
    /// page in neither cache waits on the disk here.
    fn read_now<T: Send + 'static>(
        &self,
        op: impl FnOnce(&Database) -> Result<T, redb::Error>,
    ) -> Outcome<T> {
        let result = op(&self.db).map_err(Error::other);
        Box::pin(std::future::ready(result))
    }

    /// Runs `op` on a blocking thread in one write transaction on
    /// `bucket`'s table, committed durably before it answers.
    fn write<T: Send + 'static>(
        &self,
        bucket: Arc<str>,
        op: impl FnOnce(&mut redb::Table<&str, &[u8]>) -> Result<T, Failed> + Send + 'static,
    ) -> Outcome<T> {
        let db = self.db.clone();
        let threads = self.threads.clone();
        Box::pin(async move {
            let _turn = threads.acquire_owned().await.map_err(Error::other)?;
            tokio::task::spawn_blocking(move || {
                let txn = db.begin_write().map_err(Failed::from)?;
                let out = {
                    let mut table = txn.open_table(table(&bucket)).map_err(Failed::from)?;
                    op(&mut table)?
                };
                txn.commit().map_err(Failed::from)?;
                Ok(out)
            })
            .await
            .map_err(Error::other)?
            .map_err(|f: Failed| f.0)
        })
    }
}

/// An operation's failure inside a transaction (which is then dropped:
/// nothing of it is committed).
struct Failed(Error);

impl<E: Into<redb::Error>> From<E> for Failed {
    fn from(e: E) -> Failed {
        Failed(Error::other(e.into()))
    }
}

fn table(bucket: &str) -> TableDefinition<'_, &'static str, &'static [u8]> {
    TableDefinition::new(bucket)
}

/// Reads `bucket`'s table; a table never written to reads as empty.
fn read<T>(
    db: &Database,
    bucket: &str,
    empty: T,
    op: impl FnOnce(&redb::ReadOnlyTable<&str, &[u8]>) -> Result<T, redb::Error>,
) -> Result<T, redb::Error> {
    let txn = db.begin_read()?;
    match txn.open_table(table(bucket)) {
        Ok(t) => op(&t),
        Err(TableError::TableDoesNotExist(_)) => Ok(empty),
        Err(e) => Err(e.into()),
    }
}

impl Backend for Embedded {
    fn get(&self, bucket: Arc<str>, key: String) -> Outcome<Option<Vec<u8>>> {
        self.read_now(move |db| {
            read(db, &bucket, None, |t| {
                Ok(t.get(key.as_str())?.map(|v| v.value().to_vec()))
            })
        })
    }

    fn set(&self, bucket: Arc<str>, key: String, value: Vec<u8>) -> Outcome<()> {
        self.write(bucket, move |t| {
            t.insert(key.as_str(), value.as_slice())?;
            Ok(())
        })
    }

    fn delete(&self, bucket: Arc<str>, key: String) -> Outcome<()> {
        self.write(bucket, move |t| {
            t.remove(key.as_str())?;
            Ok(())
        })
    }

    fn exists(&self, bucket: Arc<str>, key: String) -> Outcome<bool> {
        self.read_now(move |db| read(db, &bucket, false, |t| Ok(t.get(key.as_str())?.is_some())))
    }

    fn list_keys(
        &self,
        bucket: Arc<str>,
        cursor: Option<u64>,
    ) -> Outcome<(Vec<String>, Option<u64>)> {
        // The cursor is the number of keys already listed: keys are in
        // order, so a page is the next MAX_BATCH of them.
        let skip = cursor.unwrap_or(0);
        self.read_now(move |db| {
            read(db, &bucket, (Vec::new(), None), |t| {
                let mut keys = Vec::new();
                let mut more = false;
                for entry in t.iter()?.skip(usize::try_from(skip).unwrap_or(usize::MAX)) {
                    if keys.len() == MAX_BATCH {
                        more = true;
                        break;
                    }
                    keys.push(entry?.0.value().to_string());
                }
                let next = more.then(|| skip + keys.len() as u64);
                Ok((keys, next))
            })
        })
    }

    fn increment(&self, bucket: Arc<str>, key: String, delta: u64) -> Outcome<u64> {
        self.write(bucket, move |t| {
            let now = match t.get(key.as_str())? {
                Some(v) => parse_counter(v.value()).map_err(Failed)?,
                None => 0,
            };
            let next = now
                .checked_add(delta)
                .ok_or_else(|| Failed(Error::other("the counter would pass 2^64 - 1")))?;
            t.insert(key.as_str(), next.to_string().as_bytes())?;
            Ok(next)
        })
    }

    fn get_many(&self, bucket: Arc<str>, keys: Vec<String>) -> Outcome<Vec<Option<Vec<u8>>>> {
        let none = keys.iter().map(|_| None).collect();
        self.read_now(move |db| {
            read(db, &bucket, none, |t| {
                keys.iter()
                    .map(|k| Ok(t.get(k.as_str())?.map(|v| v.value().to_vec())))
                    .collect()
            })
        })
    }

    fn set_many(&self, bucket: Arc<str>, pairs: Vec<(String, Vec<u8>)>) -> Outcome<()> {
        self.write(bucket, move |t| {
            for (k, v) in &pairs {
                t.insert(k.as_str(), v.as_slice())?;
            }
            Ok(())
        })
    }

    fn delete_many(&self, bucket: Arc<str>, keys: Vec<String>) -> Outcome<()> {
        self.write(bucket, move |t| {
            for k in &keys {
                t.remove(k.as_str())?;
            }
            Ok(())
        })
    }
}
