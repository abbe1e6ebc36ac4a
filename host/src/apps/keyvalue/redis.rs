//! The shared backend: Redis or Valkey, for many h2wasm machines behind a
//! load balancer that share state through a store built for it. Each
//! bucket is one Redis hash, `h2wasm:kv:BUCKET`: its fields are the keys,
//! so every operation is one command (`HGET`, `HSET`, `HDEL`, `HEXISTS`,
//! `HSCAN`, `HMGET`) and `increment` is `HINCRBY`, atomic in Redis itself
//! whatever number of processes call it. One multiplexed connection per
//! server, opened at the first operation and again after a failure; each
//! command gets an answer within a deadline or fails.

use super::backend::{Backend, Error, MAX_BATCH, Outcome};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::Arc;
use std::time::Duration;

/// Longest wait to connect, and for one command's answer.
const DEADLINE: Duration = Duration::from_secs(5);

/// A Redis server (cheap to clone).
#[derive(Clone)]
pub struct Redis(Arc<Inner>);

struct Inner {
    client: redis::Client,
    /// What errors call it: its URL without a password.
    name: String,
    connection: tokio::sync::OnceCell<ConnectionManager>,
}

impl Redis {
    /// The server at `url` (`redis://`, `redis+unix://`);
    /// nothing is connected until the first operation, so a server that
    /// is down at start does not stop the others' apps from serving.
    pub fn new(url: &str) -> anyhow::Result<Redis> {
        let client = redis::Client::open(url).map_err(|e| anyhow::anyhow!("{e}"))?;
        let name = match url::Url::parse(url) {
            Ok(mut u) => {
                if u.password().is_some() {
                    let _ = u.set_password(Some("…"));
                }
                u.to_string()
            }
            Err(_) => "redis".into(),
        };
        Ok(Redis(Arc::new(Inner {
            client,
            name,
            connection: tokio::sync::OnceCell::new(),
        })))
    }

    /// Runs `command` and reads its answer as `T`.
    fn query<T: redis::FromRedisValue + Send + 'static>(&self, command: redis::Cmd) -> Outcome<T> {
        let inner = self.0.clone();
        Box::pin(async move {
            let mut conn = inner
                .connection
                .get_or_try_init(|| async {
                    let config = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(DEADLINE))
                        .set_response_timeout(Some(DEADLINE))
                        .set_number_of_retries(2);
                    inner
                        .client
                        .get_connection_manager_with_config(config)
                        .await
                })
                .await
                .map_err(|e| Error::other(format!("cannot reach {}: {e}", inner.name)))?
                .clone();
            command
                .query_async::<T>(&mut conn)
                .await
                .map_err(|e| Error::other(format!("{}: {e}", inner.name)))
        })
    }
}

fn hash(bucket: &str) -> String {
    format!("h2wasm:kv:{bucket}")
}

impl Backend for Redis {
    fn get(&self, bucket: Arc<str>, key: String) -> Outcome<Option<Vec<u8>>> {
        self.query(redis::cmd("HGET").arg(hash(&bucket)).arg(key).clone())
    }

    fn set(&self, bucket: Arc<str>, key: String, value: Vec<u8>) -> Outcome<()> {
        self.query(
            redis::cmd("HSET")
                .arg(hash(&bucket))
                .arg(key)
                .arg(value)
                .clone(),
        )
    }

    fn delete(&self, bucket: Arc<str>, key: String) -> Outcome<()> {
        self.query(redis::cmd("HDEL").arg(hash(&bucket)).arg(key).clone())
    }

    fn exists(&self, bucket: Arc<str>, key: String) -> Outcome<bool> {
        self.query(redis::cmd("HEXISTS").arg(hash(&bucket)).arg(key).clone())
    }

    fn list_keys(
        &self,
        bucket: Arc<str>,
        cursor: Option<u64>,
    ) -> Outcome<(Vec<String>, Option<u64>)> {
        // HSCAN's own cursor: 0 begins, and 0 comes back after the last
        // page. COUNT is a hint Redis keeps close to.
        let scan = self.query::<(u64, Vec<(String, Vec<u8>)>)>(
            redis::cmd("HSCAN")
                .arg(hash(&bucket))
                .arg(cursor.unwrap_or(0))
                .arg("COUNT")
                .arg(MAX_BATCH)
                .clone(),
        );
        Box::pin(async move {
            let (next, pairs) = scan.await?;
            let keys = pairs.into_iter().map(|(k, _)| k).collect();
            Ok((keys, (next != 0).then_some(next)))
        })
    }

    fn increment(&self, bucket: Arc<str>, key: String, delta: u64) -> Outcome<u64> {
        let Ok(delta) = i64::try_from(delta) else {
            return Box::pin(async { Err(Error::other("Redis counts to 2^63 - 1 at most")) });
        };
        let counted = self.query::<i64>(
            redis::cmd("HINCRBY")
                .arg(hash(&bucket))
                .arg(key)
                .arg(delta)
                .clone(),
        );
        Box::pin(async move {
            u64::try_from(counted.await?)
                .map_err(|_| Error::other("the counter holds a negative number"))
        })
    }

    fn get_many(&self, bucket: Arc<str>, keys: Vec<String>) -> Outcome<Vec<Option<Vec<u8>>>> {
        if keys.is_empty() {
            return Box::pin(async { Ok(Vec::new()) });
        }
        self.query(redis::cmd("HMGET").arg(hash(&bucket)).arg(keys).clone())
    }

    fn set_many(&self, bucket: Arc<str>, pairs: Vec<(String, Vec<u8>)>) -> Outcome<()> {
        if pairs.is_empty() {
            return Box::pin(async { Ok(()) });
        }
        let mut cmd = redis::cmd("HSET");
        cmd.arg(hash(&bucket));
        for (k, v) in pairs {
            cmd.arg(k).arg(v);
        }
        self.query(cmd)
    }

    fn delete_many(&self, bucket: Arc<str>, keys: Vec<String>) -> Outcome<()> {
        if keys.is_empty() {
            return Box::pin(async { Ok(()) });
        }
        self.query(redis::cmd("HDEL").arg(hash(&bucket)).arg(keys).clone())
    }
}
