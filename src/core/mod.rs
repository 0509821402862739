//! Pure logic: no browser APIs, so everything here runs and is tested natively.

pub mod embed;
pub mod memory;
pub mod protocol;
pub mod schema;
pub mod settings;
pub mod storage;
pub mod vector;
