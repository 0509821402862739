//! Browser tests: run in headless Chromium by `cargo test --target wasm32-unknown-unknown`
//! (wasm-bindgen-test-runner + chromedriver; see webdriver.json).
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod db;
mod index;
mod llm;
