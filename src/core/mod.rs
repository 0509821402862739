//! Pure logic: no browser APIs, so everything here runs and is tested natively.

pub mod bank;
pub mod embed;
pub mod index;
pub mod keyword;
pub mod memory;
pub mod protocol;
pub mod retrieve;
pub mod schema;
pub mod settings;
pub mod storage;
pub mod vector;
