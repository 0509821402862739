//! Saved conversations: the `conversations` store of IndexedDB, one record per
//! conversation (`core::conversation::Conversation`, keyed by its id).

use crate::core::chat::newest_first;
use crate::core::conversation::Conversation;
use crate::core::schema::stores;
use crate::web::db::{Db, DbError};

/// Every saved conversation, newest first.
pub async fn list(db: &Db) -> Result<Vec<Conversation>, DbError> {
    let mut conversations: Vec<Conversation> = db.all(stores::CONVERSATIONS).await?;
    newest_first(&mut conversations);
    Ok(conversations)
}

pub async fn load(db: &Db, id: &str) -> Result<Option<Conversation>, DbError> {
    db.get(stores::CONVERSATIONS, id).await
}

/// Writes the whole conversation, replacing the stored one.
pub async fn save(db: &Db, conversation: &Conversation) -> Result<(), DbError> {
    db.put(stores::CONVERSATIONS, conversation).await
}

pub async fn delete(db: &Db, id: &str) -> Result<(), DbError> {
    db.delete(stores::CONVERSATIONS, id).await
}
