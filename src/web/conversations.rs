//! Saved conversations: the `conversations` store of IndexedDB, one record per
//! conversation (`core::conversation::Conversation`, keyed by its id). They
//! cross to and from the browser as JSON text: each send writes the whole
//! conversation (see `db::to_js_via_json`).

use crate::core::chat::newest_first;
use crate::core::conversation::Conversation;
use crate::core::schema::stores;
use crate::web::db::{from_js_via_json, to_js_via_json, Db, DbError};

/// Every saved conversation, newest first.
pub async fn list(db: &Db) -> Result<Vec<Conversation>, DbError> {
    let mut conversations = db
        .all_records(stores::CONVERSATIONS)
        .await?
        .iter()
        .map(from_js_via_json)
        .collect::<Result<Vec<Conversation>, DbError>>()?;
    newest_first(&mut conversations);
    Ok(conversations)
}

pub async fn load(db: &Db, id: &str) -> Result<Option<Conversation>, DbError> {
    db.get_record(stores::CONVERSATIONS, id)
        .await?
        .map(|record| from_js_via_json(&record))
        .transpose()
}

/// Writes the whole conversation, replacing the stored one.
pub async fn save(db: &Db, conversation: &Conversation) -> Result<(), DbError> {
    db.put_record(stores::CONVERSATIONS, &to_js_via_json(conversation)?)
        .await
}

pub async fn delete(db: &Db, id: &str) -> Result<(), DbError> {
    db.delete(stores::CONVERSATIONS, id).await
}
