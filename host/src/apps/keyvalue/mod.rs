//! `wasi:keyvalue` for apps: the store, atomics and batch interfaces
//! (0.2.0-draft, as wasmtime-wasi-keyvalue 48 and Spin bind them; its WIT
//! is in `host/wit/keyvalue`), on a backend that outlives the process:
//! an embedded database file on one machine ([`embedded`]), or Redis and
//! Valkey shared by many ([`redis`]). An app opens only the buckets it is
//! granted, by name; it has none unless given.
//!
//! Bounds, checked here once for both backends: keys of at most
//! [`MAX_KEY`] bytes, values of at most [`MAX_VALUE`], at most
//! [`MAX_BATCH`] keys per batch call and per `list-keys` page.

mod backend;
pub mod embedded;
pub mod redis;

pub use backend::{Backend, Error, MAX_BATCH, MAX_KEY, MAX_VALUE, Outcome};
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit/keyvalue",
        world: "wasi:keyvalue/imports",
        imports: { default: async | trappable },
        with: {
            "wasi:keyvalue/store.bucket": super::Bucket,
        },
        trappable_error_type: {
            "wasi:keyvalue/store.error" => super::Error,
        },
    });
}

use bindings::wasi::keyvalue::{atomics, batch, store};

/// The buckets granted to an app, by the name it opens them with; shared
/// by its instances (cheap to clone).
#[derive(Clone, Default)]
pub struct Buckets(Arc<BTreeMap<String, Arc<dyn Backend>>>);

impl Buckets {
    /// Buckets from `NAME=LOCATION` grants: a `redis://` (`valkey://`,
    /// `redis+unix://`) URL, or the path of a database file, created if
    /// missing (each file opened once). TLS to Redis is not built in.
    pub fn open(grants: &[(String, String)]) -> anyhow::Result<Buckets> {
        let mut files: BTreeMap<String, Arc<dyn Backend>> = BTreeMap::new();
        let mut buckets = BTreeMap::new();
        for (name, location) in grants {
            if name.is_empty() {
                anyhow::bail!("a bucket needs a name (NAME=LOCATION)");
            }
            let backend: Arc<dyn Backend> = match location.split_once("://") {
                Some((scheme, _)) if is_redis(scheme) => {
                    let url = match scheme {
                        "valkey" => location.replacen("valkey", "redis", 1),
                        _ => location.clone(),
                    };
                    Arc::new(
                        redis::Redis::new(&url)
                            .map_err(|e| anyhow::anyhow!("bucket {name}: {location}: {e}"))?,
                    )
                }
                Some((scheme, _)) => anyhow::bail!(
                    "bucket {name}: {location}: expected a redis:// or valkey:// URL, \
                     or the path of a database file (not {scheme}://)"
                ),
                None => match files.get(location) {
                    Some(b) => b.clone(),
                    None => {
                        let b: Arc<dyn Backend> = Arc::new(
                            embedded::Embedded::open(location.as_ref())
                                .map_err(|e| anyhow::anyhow!("bucket {name}: {e:#}"))?,
                        );
                        files.insert(location.clone(), b.clone());
                        b
                    }
                },
            };
            buckets.insert(name.clone(), backend);
        }
        Ok(Buckets(Arc::new(buckets)))
    }

    /// The names granted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

fn is_redis(scheme: &str) -> bool {
    matches!(
        scheme,
        "redis" | "rediss" | "redis+unix" | "unix" | "valkey"
    )
}

impl std::fmt::Debug for Buckets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// An open bucket, as an app's instance holds it.
pub struct Bucket {
    name: Arc<str>,
    backend: Arc<dyn Backend>,
}

/// What the bindings see of an instance: its grants and resource table.
pub struct KeyValue<'a> {
    /// The app's buckets.
    pub buckets: &'a Buckets,
    /// The instance's resources.
    pub table: &'a mut ResourceTable,
}

struct HasKeyValue;

impl HasData for HasKeyValue {
    type Data<'a> = KeyValue<'a>;
}

/// Links store, atomics and batch into `linker`, each instance's view of
/// them given by `view`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> KeyValue<'_>,
) -> wasmtime::Result<()> {
    store::add_to_linker::<_, HasKeyValue>(linker, view)?;
    atomics::add_to_linker::<_, HasKeyValue>(linker, view)?;
    batch::add_to_linker::<_, HasKeyValue>(linker, view)?;
    Ok(())
}

impl KeyValue<'_> {
    fn bucket(&self, bucket: &Resource<Bucket>) -> Result<(Arc<str>, Arc<dyn Backend>), Error> {
        let b = self.table.get(bucket).map_err(Error::other)?;
        Ok((b.name.clone(), b.backend.clone()))
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.len() > MAX_KEY {
        return Err(Error::other(format!(
            "a key of {} bytes: at most {MAX_KEY}",
            key.len()
        )));
    }
    Ok(())
}

fn check_value(value: &[u8]) -> Result<(), Error> {
    if value.len() > MAX_VALUE {
        return Err(Error::other(format!(
            "a value of {} bytes: at most {MAX_VALUE}",
            value.len()
        )));
    }
    Ok(())
}

fn check_batch(n: usize) -> Result<(), Error> {
    if n > MAX_BATCH {
        return Err(Error::other(format!(
            "{n} keys in one call: at most {MAX_BATCH}"
        )));
    }
    Ok(())
}

impl store::Host for KeyValue<'_> {
    async fn open(&mut self, identifier: String) -> Result<Resource<Bucket>, Error> {
        let backend = self.buckets.0.get(&identifier).ok_or(Error::NoSuchStore)?;
        let bucket = Bucket {
            name: identifier.into(),
            backend: backend.clone(),
        };
        self.table.push(bucket).map_err(Error::other)
    }

    fn convert_error(&mut self, err: Error) -> wasmtime::Result<store::Error> {
        Ok(match err {
            Error::NoSuchStore => store::Error::NoSuchStore,
            Error::Other(why) => store::Error::Other(why),
        })
    }
}

impl store::HostBucket for KeyValue<'_> {
    async fn get(&mut self, b: Resource<Bucket>, key: String) -> Result<Option<Vec<u8>>, Error> {
        check_key(&key)?;
        let (name, backend) = self.bucket(&b)?;
        backend.get(name, key).await
    }

    async fn set(&mut self, b: Resource<Bucket>, key: String, value: Vec<u8>) -> Result<(), Error> {
        check_key(&key)?;
        check_value(&value)?;
        let (name, backend) = self.bucket(&b)?;
        backend.set(name, key, value).await
    }

    async fn delete(&mut self, b: Resource<Bucket>, key: String) -> Result<(), Error> {
        check_key(&key)?;
        let (name, backend) = self.bucket(&b)?;
        backend.delete(name, key).await
    }

    async fn exists(&mut self, b: Resource<Bucket>, key: String) -> Result<bool, Error> {
        check_key(&key)?;
        let (name, backend) = self.bucket(&b)?;
        backend.exists(name, key).await
    }

    async fn list_keys(
        &mut self,
        b: Resource<Bucket>,
        cursor: Option<u64>,
    ) -> Result<store::KeyResponse, Error> {
        let (name, backend) = self.bucket(&b)?;
        let (keys, cursor) = backend.list_keys(name, cursor).await?;
        Ok(store::KeyResponse { keys, cursor })
    }

    async fn drop(&mut self, b: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(b)?;
        Ok(())
    }
}

impl atomics::Host for KeyValue<'_> {
    async fn increment(
        &mut self,
        b: Resource<Bucket>,
        key: String,
        delta: u64,
    ) -> Result<u64, Error> {
        check_key(&key)?;
        let (name, backend) = self.bucket(&b)?;
        backend.increment(name, key, delta).await
    }
}

impl batch::Host for KeyValue<'_> {
    async fn get_many(
        &mut self,
        b: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Result<Vec<Option<(String, Vec<u8>)>>, Error> {
        check_batch(keys.len())?;
        keys.iter().try_for_each(|k| check_key(k))?;
        let (name, backend) = self.bucket(&b)?;
        let values = backend.get_many(name, keys.clone()).await?;
        Ok(keys
            .into_iter()
            .zip(values)
            .map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    async fn set_many(
        &mut self,
        b: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Result<(), Error> {
        check_batch(key_values.len())?;
        for (k, v) in &key_values {
            check_key(k)?;
            check_value(v)?;
        }
        let (name, backend) = self.bucket(&b)?;
        backend.set_many(name, key_values).await
    }

    async fn delete_many(&mut self, b: Resource<Bucket>, keys: Vec<String>) -> Result<(), Error> {
        check_batch(keys.len())?;
        keys.iter().try_for_each(|k| check_key(k))?;
        let (name, backend) = self.bucket(&b)?;
        backend.delete_many(name, keys).await
    }
}
