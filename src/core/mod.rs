//! Pure logic: no browser APIs, so everything here runs and is tested natively.

pub mod assistant;
pub mod bank;
pub mod changes;
pub mod chat;
pub mod compose;
pub mod conversation;
pub mod embed;
pub mod eval;
pub mod index;
pub mod keyword;
pub mod learn;
pub mod listing;
pub mod llm;
pub mod markdown;
pub mod memory;
pub mod protocol;
pub mod retrieve;
pub mod schema;
pub mod settings;
pub mod storage;
pub mod transfer;
pub mod vector;
