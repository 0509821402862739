//! The Casebook page: mounts the Leptos app.

#[cfg(target_arch = "wasm32")]
fn main() {
    casebook::ui::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "Casebook runs in the browser. Start it with `scripts/serve.sh` and open http://127.0.0.1:8080"
    );
    std::process::exit(2);
}
