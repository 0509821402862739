//! The background worker: runs the engine (embedding model and case bank) so
//! that heavy work never runs on the page's thread.

#[cfg(target_arch = "wasm32")]
fn main() {
    casebook::web::engine::run();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("The Casebook worker runs inside the browser; build it with trunk.");
    std::process::exit(2);
}
