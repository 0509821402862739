//! The IndexedDB database: opening (with migrations) and typed record access.
//!
//! Migrations run through `idb` directly because only the `versionchange`
//! transaction may change stores and rexie does not expose it; everything after
//! opening goes through rexie.

use std::cell::RefCell;
use std::rc::Rc;

use rexie::{Rexie, TransactionMode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use wasm_bindgen::JsValue;

use crate::core::schema::{Migration, RewriteRecord, Schema, Step};

#[derive(Debug, Clone, Error, PartialEq)]
pub enum DbError {
    #[error("This browser does not allow Casebook to store data here (IndexedDB is unavailable: {0}). Private windows and some privacy settings block it.")]
    Unavailable(String),
    #[error("Your data was saved by a newer version of Casebook (database version {stored}; this one knows up to {known}). Reload the page to get the newer version.")]
    TooNew { stored: u32, known: u32 },
    #[error(
        "Upgrading the database to version {version} failed, so nothing was changed: {reason}"
    )]
    Migration { version: u32, reason: String },
    #[error("Another Casebook tab is using an older database version. Close or reload the other tabs to continue.")]
    Blocked,
    #[error("The database schema is invalid: {0}")]
    InvalidSchema(String),
    #[error("Reading or writing the database failed: {0}")]
    Storage(String),
    #[error("A stored record could not be read: {0}")]
    Malformed(String),
    /// A write expected a memory at another revision: it changed meanwhile.
    #[error("Memory {0} was changed elsewhere (another tab?) meanwhile; nothing was saved.")]
    Conflict(String),
    #[error("Storage is full: nothing was saved, and everything saved before is intact. Free space by exporting your memory and removing documents or old memories, or allow this site more storage.")]
    QuotaExceeded,
    #[error("Casebook was updated in another tab, which needs the database to itself. Reload this page to continue; nothing was lost.")]
    ClosedForUpgrade,
}

impl From<rexie::Error> for DbError {
    fn from(error: rexie::Error) -> Self {
        match error {
            rexie::Error::IdbError(error) => error.into(),
            // rexie's own messages say nothing useful ("idb error").
            other => DbError::Storage(format!("{other:?}")),
        }
    }
}

impl From<idb::Error> for DbError {
    fn from(error: idb::Error) -> Self {
        let text = error.to_string();
        if text.contains("QuotaExceededError") {
            DbError::QuotaExceeded
        } else {
            DbError::Storage(text)
        }
    }
}

/// An open database. Cheap to clone; all clones share one connection, which is
/// closed when the last clone is dropped (an open connection would block schema
/// upgrades, in this tab or another) or when another tab upgrades the schema.
#[derive(Clone)]
pub struct Db {
    connection: Rc<Connection>,
    version: u32,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("version", &self.version)
            .finish()
    }
}

type ClosedListener = Box<dyn Fn()>;

struct Connection {
    rexie: RefCell<Option<Rexie>>,
    /// A second connection whose only job is to hear `versionchange` (rexie
    /// does not expose its own): when a newer Casebook in another tab needs to
    /// upgrade the schema, both are closed so that the upgrade is not blocked.
    watcher: RefCell<Option<idb::Database>>,
    closed_listeners: RefCell<Vec<ClosedListener>>,
}

impl Connection {
    fn close(&self) {
        if let Some(rexie) = self.rexie.borrow_mut().take() {
            rexie.close();
        }
        if let Some(watcher) = self.watcher.borrow_mut().take() {
            watcher.close();
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
    }
}

/// One record of a key/value store such as `settings`.
#[derive(Debug, Serialize, Deserialize)]
struct KeyedRecord<T> {
    key: String,
    value: T,
}

impl Db {
    /// Opens `schema`'s database, applying pending migrations atomically.
    pub async fn open(schema: &Schema) -> Result<Db, DbError> {
        let final_shape = schema
            .validate()
            .map_err(|error| DbError::InvalidSchema(error.to_string()))?;
        let latest = schema.latest_version();
        migrate(schema).await?;

        // The database is now at `latest`, so this open performs no upgrade. The
        // stores are listed anyway: should another tab delete the database between
        // the two opens, it is recreated with the right shape rather than empty.
        let mut builder = Rexie::builder(schema.database_name).version(latest);
        for (name, shape) in &final_shape {
            let mut store = rexie::ObjectStore::new(name).key_path(shape.key_path);
            for index in shape.indexes.values() {
                store = store.add_index(
                    rexie::Index::new(index.name, index.key_path)
                        .unique(index.unique)
                        .multi_entry(index.multi_entry),
                );
            }
            builder = builder.add_object_store(store);
        }
        let rexie = builder.build().await?;
        let connection = Rc::new(Connection {
            rexie: RefCell::new(Some(rexie)),
            watcher: RefCell::new(None),
            closed_listeners: RefCell::default(),
        });
        let mut watcher = idb::Factory::new()?
            .open(schema.database_name, Some(latest))?
            .await?;
        let weak = Rc::downgrade(&connection);
        watcher.on_version_change(move |_| {
            if let Some(connection) = weak.upgrade() {
                connection.close();
                for listener in connection.closed_listeners.borrow().iter() {
                    listener();
                }
            }
        });
        *connection.watcher.borrow_mut() = Some(watcher);
        Ok(Db {
            connection,
            version: latest,
        })
    }

    /// Calls `listener` if the connection is closed because another tab upgrades
    /// the schema (this page then runs older code and must reload).
    pub fn on_closed_for_upgrade(&self, listener: impl Fn() + 'static) {
        self.connection
            .closed_listeners
            .borrow_mut()
            .push(Box::new(listener));
    }

    /// Starts a transaction over `stores`.
    pub(crate) fn transaction(
        &self,
        stores: &[&str],
        mode: TransactionMode,
    ) -> Result<rexie::Transaction, DbError> {
        match &*self.connection.rexie.borrow() {
            Some(rexie) => Ok(rexie.transaction(stores, mode)?),
            None => Err(DbError::ClosedForUpgrade),
        }
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn store_names(&self) -> Vec<String> {
        self.connection
            .rexie
            .borrow()
            .as_ref()
            .map(Rexie::store_names)
            .unwrap_or_default()
    }

    /// Reads the record with primary key `key` from `store`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        store: &str,
        key: &str,
    ) -> Result<Option<T>, DbError> {
        self.get_record(store, key)
            .await?
            .map(|value| from_js(&value))
            .transpose()
    }

    /// The record with primary key `key` as the browser holds it.
    pub async fn get_record(&self, store: &str, key: &str) -> Result<Option<JsValue>, DbError> {
        let transaction = self.transaction(&[store], TransactionMode::ReadOnly)?;
        let value = transaction
            .store(store)?
            .get(JsValue::from_str(key))
            .await?;
        transaction.done().await?;
        Ok(value)
    }

    /// Writes `record` into `store` (its key is inside the record), replacing any
    /// record with the same key.
    pub async fn put<T: Serialize>(&self, store: &str, record: &T) -> Result<(), DbError> {
        self.put_record(store, &to_js(record)?).await
    }

    /// Writes a record made in JavaScript terms (see [`Db::put`]).
    pub async fn put_record(&self, store: &str, record: &JsValue) -> Result<(), DbError> {
        let transaction = self.transaction(&[store], TransactionMode::ReadWrite)?;
        transaction.store(store)?.put(record, None).await?;
        transaction.done().await?;
        Ok(())
    }

    /// Every record of `store`, in key order.
    pub async fn all<T: DeserializeOwned>(&self, store: &str) -> Result<Vec<T>, DbError> {
        self.all_records(store).await?.iter().map(from_js).collect()
    }

    /// Every record of `store` as the browser holds them, in key order.
    pub async fn all_records(&self, store: &str) -> Result<Vec<JsValue>, DbError> {
        let transaction = self.transaction(&[store], TransactionMode::ReadOnly)?;
        let values = transaction.store(store)?.get_all(None, None).await?;
        transaction.done().await?;
        Ok(values)
    }

    /// Deletes the record with primary key `key` from `store` (if there is one).
    pub async fn delete(&self, store: &str, key: &str) -> Result<(), DbError> {
        let transaction = self.transaction(&[store], TransactionMode::ReadWrite)?;
        transaction
            .store(store)?
            .delete(JsValue::from_str(key))
            .await?;
        transaction.done().await?;
        Ok(())
    }

    pub async fn count(&self, store: &str) -> Result<u32, DbError> {
        let transaction = self.transaction(&[store], TransactionMode::ReadOnly)?;
        let count = transaction.store(store)?.count(None).await?;
        transaction.done().await?;
        Ok(count)
    }

    /// Reads a value from a key/value store (records shaped `{key, value}`).
    pub async fn get_value<T: DeserializeOwned>(
        &self,
        store: &str,
        key: &str,
    ) -> Result<Option<T>, DbError> {
        Ok(self
            .get::<KeyedRecord<T>>(store, key)
            .await?
            .map(|record| record.value))
    }

    /// Reads a browser object that serde cannot carry (a file handle) from a
    /// key/value store.
    pub async fn get_object(&self, store: &str, key: &str) -> Result<Option<JsValue>, DbError> {
        Ok(self.get_record(store, key).await?.and_then(|record| {
            js_sys::Reflect::get(&record, &JsValue::from_str("value"))
                .ok()
                .filter(|value| !value.is_undefined())
        }))
    }

    /// Writes a browser object that serde cannot carry (a file handle, which
    /// IndexedDB stores as it is) into a key/value store.
    pub async fn put_object(&self, store: &str, key: &str, value: &JsValue) -> Result<(), DbError> {
        let record = js_sys::Object::new();
        let field = |name: &str, value: &JsValue| {
            js_sys::Reflect::set(&record, &JsValue::from_str(name), value)
                .map(|_| ())
                .map_err(|error| DbError::Malformed(super::js_error_text(&error)))
        };
        field("key", &JsValue::from_str(key))?;
        field("value", value)?;
        self.put_record(store, &record).await
    }

    /// Writes a value into a key/value store.
    pub async fn put_value<T: Serialize>(
        &self,
        store: &str,
        key: &str,
        value: &T,
    ) -> Result<(), DbError> {
        self.put_record(store, &keyed_record(key, value)?).await
    }
}

/// A record of a key/value store (such as `settings`), for writing it within a
/// transaction of one's own.
pub fn keyed_record<T: Serialize>(key: &str, value: &T) -> Result<JsValue, DbError> {
    to_js(&KeyedRecord {
        key: key.to_owned(),
        value,
    })
}

/// Serialises to a plain JavaScript object (maps become objects, as IndexedDB
/// key paths need).
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, DbError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|error| DbError::Malformed(error.to_string()))
}

pub fn from_js<T: DeserializeOwned>(value: &JsValue) -> Result<T, DbError> {
    serde_wasm_bindgen::from_value(value.clone())
        .map_err(|error| DbError::Malformed(error.to_string()))
}

/// [`to_js`] through JSON text that the browser parses: for large records of
/// text and numbers (conversations) many times faster, since serde-wasm-bindgen
/// sets every property across the wasm boundary (a conversation of 30
/// exchanges took 60 ms, blocking the page as the user pressed Enter). No
/// bytes: JSON would make them arrays of numbers.
pub fn to_js_via_json<T: Serialize + DeserializeOwned>(value: &T) -> Result<JsValue, DbError> {
    let text =
        serde_json::to_string(value).map_err(|error| DbError::Malformed(error.to_string()))?;
    // serde_json writes NaN and infinities as null, which would not read back:
    // such a record takes the slow path.
    if serde_json::from_str::<T>(&text).is_err() {
        return to_js(value);
    }
    js_sys::JSON::parse(&text).map_err(|error| DbError::Malformed(super::js_error_text(&error)))
}

/// [`from_js`] through JSON text (see [`to_js_via_json`]); a record that JSON
/// cannot carry (NaN becomes null) is read property by property.
pub fn from_js_via_json<T: DeserializeOwned>(value: &JsValue) -> Result<T, DbError> {
    js_sys::JSON::stringify(value)
        .ok()
        .and_then(|text| text.as_string())
        .and_then(|text| serde_json::from_str(&text).ok())
        .map_or_else(|| from_js(value), Ok)
}

/// Decodes many records through one JSON text (see [`to_js_via_json`]): one
/// call into the browser for all of them. Opening a bank of 10k memories spent
/// 660 ms decoding them one property at a time. If any record cannot be carried
/// by JSON, every record is read property by property.
pub fn from_js_all<T: DeserializeOwned>(values: &[JsValue]) -> Result<Vec<T>, DbError> {
    let array: js_sys::Array = values.iter().collect();
    js_sys::JSON::stringify(&array)
        .ok()
        .and_then(|text| text.as_string())
        .and_then(|text| serde_json::from_str(&text).ok())
        .map_or_else(|| values.iter().map(from_js).collect(), Ok)
}

/// Brings the stored database up to `schema.latest_version()`.
async fn migrate(schema: &Schema) -> Result<(), DbError> {
    let factory = idb::Factory::new().map_err(|error| DbError::Unavailable(error.to_string()))?;
    let latest = schema.latest_version();
    let mut request = factory
        .open(schema.database_name, Some(latest))
        .map_err(|error| DbError::Unavailable(error.to_string()))?;

    // What went wrong inside the upgrade, if anything; the open request itself only
    // reports a bare AbortError.
    let failure: Rc<RefCell<Option<DbError>>> = Rc::default();
    let blocked = Rc::new(RefCell::new(false));

    let upgrade_failure = failure.clone();
    let schema = *schema;
    request.on_upgrade_needed(move |event| {
        let started = (|| -> Result<_, idb::Error> {
            use idb::{Event as _, Request as _};
            let stored = event.old_version()?;
            let request = event.target()?;
            Ok((stored, request.database()?, request.transaction()))
        })();
        let (stored, database, transaction) = match started {
            Ok((stored, database, Some(transaction))) => (stored, database, transaction),
            Ok((_, _, None)) => {
                *upgrade_failure.borrow_mut() = Some(DbError::Storage(
                    "the browser started an upgrade without a transaction".into(),
                ));
                return;
            }
            Err(error) => {
                *upgrade_failure.borrow_mut() = Some(DbError::Storage(error.to_string()));
                return;
            }
        };
        // Requests issued on the versionchange transaction keep it alive, so the
        // migrations may await them; they must not await anything else.
        wasm_bindgen_futures::spawn_local(async move {
            for migration in schema.pending(stored) {
                if let Err(error) = apply(&database, &transaction, migration).await {
                    *upgrade_failure.borrow_mut() = Some(DbError::Migration {
                        version: migration.version,
                        reason: error.to_string(),
                    });
                    // Aborting rolls back every migration applied so far.
                    let _ = transaction.abort();
                    return;
                }
            }
        });
    });
    let blocked_flag = blocked.clone();
    request.on_blocked(move |_| *blocked_flag.borrow_mut() = true);

    match request.await {
        Ok(database) => {
            database.close();
            Ok(())
        }
        Err(error) => {
            if let Some(failure) = failure.borrow_mut().take() {
                return Err(failure);
            }
            if *blocked.borrow() {
                return Err(DbError::Blocked);
            }
            match error {
                idb::Error::DomException(exception) if exception.name() == "VersionError" => {
                    let stored = stored_version(schema.database_name)
                        .await
                        .unwrap_or(latest + 1);
                    Err(DbError::TooNew {
                        stored,
                        known: latest,
                    })
                }
                other => Err(DbError::Storage(other.to_string())),
            }
        }
    }
}

/// The version of an existing database, opened without asking for a version.
async fn stored_version(name: &str) -> Option<u32> {
    let database = idb::Factory::new()
        .ok()?
        .open(name, None)
        .ok()?
        .await
        .ok()?;
    let version = database.version().ok();
    database.close();
    version
}

async fn apply(
    database: &idb::Database,
    transaction: &idb::Transaction,
    migration: &Migration,
) -> Result<(), DbError> {
    for step in migration.steps {
        match *step {
            Step::CreateStore { name, key_path } => {
                let mut params = idb::ObjectStoreParams::new();
                params.key_path(Some(idb::KeyPath::new_single(key_path)));
                database.create_object_store(name, params)?;
            }
            Step::DeleteStore { name } => database.delete_object_store(name)?,
            Step::CreateIndex { store, index } => {
                let mut params = idb::IndexParams::new();
                params.unique(index.unique).multi_entry(index.multi_entry);
                transaction.object_store(store)?.create_index(
                    index.name,
                    idb::KeyPath::new_single(index.key_path),
                    Some(params),
                )?;
            }
            Step::DeleteIndex { store, name } => {
                transaction.object_store(store)?.delete_index(name)?
            }
            Step::RewriteRecords { store, rewrite } => {
                rewrite_records(&transaction.object_store(store)?, rewrite).await?
            }
        }
    }
    Ok(())
}

async fn rewrite_records(store: &idb::ObjectStore, rewrite: RewriteRecord) -> Result<(), DbError> {
    // Keys and values come back in the same (primary key) order.
    let keys = store.get_all_keys(None, None)?.await?;
    let values = store.get_all(None, None)?.await?;
    for (key, value) in keys.into_iter().zip(values) {
        let record: Value = from_js(&value)?;
        let rewritten = rewrite(record).map_err(|reason| {
            DbError::Malformed(format!("record in `{}`: {reason}", store.name()))
        })?;
        match rewritten {
            Some(new_record) => {
                store.put(&to_js(&new_record)?, None)?.await?;
            }
            None => store.delete(key)?.await?,
        }
    }
    Ok(())
}
