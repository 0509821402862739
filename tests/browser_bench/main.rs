//! Vector index benchmark in headless Chromium: the same measurements as
//! examples/index_bench.rs (tests/common/index_bench.rs), compiled to wasm32 with
//! simd128 and run in a dedicated worker as the app's search runs, plus loading
//! from IndexedDB: N memories, their vectors and the saved snapshot are written
//! through rexie, then read back and loaded into a `CaseBank` until searchable.
//!
//! A benchmark, not a test (it prints tables and checks nothing about speed), so
//! it is its own target that scripts/test.sh never runs. `scripts/bench.sh index`
//! runs it:
//!
//! ```text
//! CASEBOOK_BENCH_SIZES=1k,10k WASM_BINDGEN_TEST_TIMEOUT=7200 cargo test --profile bench \
//!     --target wasm32-unknown-unknown --test browser_bench -- --nocapture
//! ```
//! Settings are read when it is compiled (a wasm test has no arguments or
//! environment): CASEBOOK_BENCH_SIZES, CASEBOOK_BENCH_EF_CONSTRUCTION,
//! CASEBOOK_BENCH_EF_SEARCH (comma lists; defaults 1k,10k,100k, the default
//! `IndexConfig`'s ef_construction, ef_search 16 to 256) and CASEBOOK_BENCH_DATA (random,scifact).
//! SciFact vectors come from target/bench-data/, written by the native benchmark
//! (the test server serves the repository directory).
#![cfg(target_arch = "wasm32")]

#[path = "../common/index_bench.rs"]
mod index_bench;

use casebook::core::bank::IndexedMemories;
use casebook::core::index::IndexConfig;
use casebook::core::memory::MemoryId;
use casebook::core::schema::{stores, CASEBOOK};
use casebook::web::bank_store::{read_bank, snapshot_record, vector_to_js};
use casebook::web::db::to_js;
use index_bench::{
    load_bank, measure, memories, memory_ids, milliseconds, parse_list, parse_sizes,
    random_dataset, scifact_dataset, stored_vectors, tables, thousands, Clock, Plan, Rng, MODEL_ID,
};
use js_sys::{Float32Array, Reflect};
use rexie::{Rexie, TransactionMode};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{console_log, wasm_bindgen_test};

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// Records are written this many to a transaction (one huge transaction holds
/// every record in memory until it commits).
const WRITE_CHUNK: usize = 2_000;

fn setting(value: Option<&'static str>, default: &str) -> String {
    value.unwrap_or(default).to_owned()
}

fn user_agent() -> String {
    Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|navigator| Reflect::get(&navigator, &"userAgent".into()))
        .ok()
        .and_then(|agent| agent.as_string())
        .unwrap_or_default()
}

/// Vectors the native benchmark left in target/bench-data (`None` if it has not run).
async fn fetch_vectors(name: &str) -> Option<Vec<Vec<f32>>> {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let url = format!("/{}/{name}", index_bench::BENCH_DATA);
    let response = JsFuture::from(scope.fetch_with_str(&url))
        .await
        .ok()?
        .unchecked_into::<web_sys::Response>();
    if !response.ok() {
        return None;
    }
    let buffer = JsFuture::from(response.array_buffer().ok()?).await.ok()?;
    let values = Float32Array::new(&buffer).to_vec();
    Some(
        values
            .chunks_exact(index_bench::DIMENSION)
            .map(<[f32]>::to_vec)
            .collect(),
    )
}

/// How long each step of opening the app's data takes, milliseconds.
struct IdbRow {
    data: &'static str,
    memories: usize,
    snapshot_bytes: Option<usize>,
    write: f64,
    open: f64,
    /// From the open database until the memories are decoded and indexed
    /// (`IndexedMemories::new`), while the vectors are still being read.
    memories_indexed: f64,
    /// From the open database until every record is read and decoded
    /// (`read_bank`, which includes `memories_indexed`).
    read: f64,
    load: f64,
    search: f64,
}

impl IdbRow {
    /// From opening the database to the first answer.
    fn total(&self) -> f64 {
        self.open + self.read + self.load + self.search
    }
}

async fn open(name: &str) -> Rexie {
    let mut builder = Rexie::builder(name).version(CASEBOOK.latest_version());
    for (store, shape) in CASEBOOK.stores_at(CASEBOOK.latest_version()) {
        builder = builder.add_object_store(rexie::ObjectStore::new(store).key_path(shape.key_path));
    }
    builder.build().await.expect("IndexedDB opens")
}

async fn put_all(database: &Rexie, store: &str, records: impl Iterator<Item = JsValue>) {
    let records: Vec<JsValue> = records.collect();
    for chunk in records.chunks(WRITE_CHUNK) {
        let transaction = database
            .transaction(&[store], TransactionMode::ReadWrite)
            .expect("a write transaction");
        transaction
            .store(store)
            .expect("the store exists")
            .put_all(chunk.iter().map(|record| (record.clone(), None)))
            .await
            .expect("records are written");
        transaction.done().await.expect("the write commits");
    }
}

/// What the app loads from IndexedDB when it opens.
struct Stored<'a> {
    data: &'static str,
    ids: &'a [MemoryId],
    vectors: &'a [Vec<f32>],
    snapshot: Option<&'a [u8]>,
}

/// Writes the records, then times what opening the app does: open the
/// database, read every memory, vector and the snapshot, decode them, load the
/// `CaseBank` and answer a first search.
async fn idb_load(
    stored: &Stored<'_>,
    config: &IndexConfig,
    query: &[f32],
    clock: Clock<'_>,
) -> IdbRow {
    let name = format!("casebook-bench-{}", js_sys::Math::random().to_bits());
    let mut rng = Rng::new(0x1db + stored.ids.len() as u64);
    let started = clock();
    {
        let database = open(&name).await;
        put_all(
            &database,
            stores::MEMORIES,
            memories(stored.ids, &mut rng)
                .iter()
                .map(|memory| to_js(memory).expect("a memory serialises")),
        )
        .await;
        put_all(
            &database,
            stores::VECTORS,
            stored_vectors(stored.ids, stored.vectors)
                .iter()
                .map(|vector| vector_to_js(vector).expect("a vector record")),
        )
        .await;
        if let Some(bytes) = stored.snapshot {
            put_all(
                &database,
                stores::INDEX_SNAPSHOTS,
                std::iter::once(snapshot_record(MODEL_ID, bytes).expect("a snapshot record")),
            )
            .await;
        }
        database.close();
    }
    let write = clock() - started;

    let started = clock();
    let database = open(&name).await;
    let opened = clock();
    let transaction = database
        .transaction(
            &[stores::MEMORIES, stores::VECTORS, stores::INDEX_SNAPSHOTS],
            TransactionMode::ReadOnly,
        )
        .expect("a read transaction");
    let mut indexed_at = 0.0;
    let bank = read_bank(&transaction, MODEL_ID, |memories| {
        let indexed = IndexedMemories::new(memories);
        indexed_at = clock();
        indexed
    })
    .await
    .expect("the bank is read");
    transaction.done().await.expect("the read finishes");
    let read = clock();
    assert_eq!(bank.snapshot.is_some(), stored.snapshot.is_some());
    let snapshot = bank.snapshot;
    let (load, search) = load_bank(
        bank.memories,
        bank.vectors,
        snapshot.as_deref(),
        config,
        query,
        clock,
    );
    database.close();
    Rexie::delete(&name)
        .await
        .expect("the benchmark database is deleted");
    IdbRow {
        data: stored.data,
        memories: stored.ids.len(),
        snapshot_bytes: snapshot.map(|bytes| bytes.len()),
        write,
        open: opened - started,
        memories_indexed: indexed_at - opened,
        read: read - opened,
        load,
        search,
    }
}

#[wasm_bindgen_test]
async fn index_benchmark() {
    let chosen = IndexConfig::default();
    let sizes = parse_sizes(&setting(option_env!("CASEBOOK_BENCH_SIZES"), "1k,10k,100k"))
        .expect("CASEBOOK_BENCH_SIZES");
    let plan = Plan {
        ef_constructions: parse_list(&setting(
            option_env!("CASEBOOK_BENCH_EF_CONSTRUCTION"),
            &chosen.ef_construction.to_string(),
        ))
        .expect("CASEBOOK_BENCH_EF_CONSTRUCTION"),
        ef_searches: parse_list(&setting(
            option_env!("CASEBOOK_BENCH_EF_SEARCH"),
            index_bench::EF_SEARCH_SWEEP,
        ))
        .expect("CASEBOOK_BENCH_EF_SEARCH"),
        chosen,
    };
    let data = setting(option_env!("CASEBOOK_BENCH_DATA"), "random,scifact");
    let clock = performance_now;
    let mut log = |line: &str| console_log!("  {line}");

    let scifact = if data.split(',').any(|name| name == "scifact") {
        let documents = fetch_vectors(index_bench::SCIFACT_DOCUMENTS).await;
        let queries = fetch_vectors(index_bench::SCIFACT_QUERIES).await;
        if documents.is_none() || queries.is_none() {
            console_log!(
                "SciFact vectors not found in {}: run the native benchmark first; random data only.",
                index_bench::BENCH_DATA
            );
        }
        documents.zip(queries)
    } else {
        None
    };
    console_log!(
        "Vector index benchmark, headless Chromium (wasm32 + simd128, dedicated worker, 1 thread; {})",
        user_agent()
    );
    console_log!(
        "chosen: {:?}; sweeping ef_construction {:?}, ef_search {:?}",
        plan.chosen,
        plan.ef_constructions,
        plan.ef_searches
    );
    if scifact.is_some() {
        console_log!("{}", index_bench::SCIFACT_RECIPE);
    }
    let mut exact_rows = Vec::new();
    let mut graph_rows = Vec::new();
    let mut before_rebuild_rows = Vec::new();
    let mut app_rows = Vec::new();
    let mut idb_rows = Vec::new();
    for &size in &sizes {
        let mut datasets = Vec::new();
        if data.split(',').any(|name| name == "random") {
            datasets.push(random_dataset(size));
        }
        if let Some((documents, queries)) = &scifact {
            datasets.push(scifact_dataset(documents, queries, size));
        }
        for dataset in &datasets {
            let ids = memory_ids(size, &mut Rng::new(0x1d + size as u64));
            let measured = measure(dataset, &ids, &plan, &clock, &mut log);
            exact_rows.push(measured.exact);
            graph_rows.extend(measured.graphs);
            before_rebuild_rows.extend(measured.before_rebuild);
            app_rows.extend(measured.app);
            // IndexedDB loading depends on the number of records, not on where
            // the vectors came from: measured once per size.
            if dataset.name != datasets[0].name {
                continue;
            }
            let stored = Stored {
                data: dataset.name,
                ids: &ids,
                vectors: &dataset.vectors,
                snapshot: measured.chosen_snapshot.as_deref(),
            };
            let row = idb_load(&stored, &plan.chosen, &dataset.queries[0], &clock).await;
            log(&format!(
                "{} {size}: IndexedDB to searchable in {:.0} ms",
                dataset.name,
                row.total()
            ));
            idb_rows.push(row);
        }
    }
    console_log!(
        "{}",
        tables(
            &exact_rows,
            &graph_rows,
            &before_rebuild_rows,
            &app_rows,
            &plan.chosen
        )
    );
    console_log!(
        "\nFrom IndexedDB to searchable, through the app's own read_bank (the three stores requested together; the memories decoded and indexed while the vectors are still read; the vectors gathered in one JavaScript call); chosen config\n"
    );
    console_log!("| data | memories | snapshot | open | memories read and indexed | everything read and decoded | CaseBank::load | first search | total | (write) |");
    console_log!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in idb_rows {
        console_log!(
            "| {} | {} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {} ms | **{:.0} ms** | {:.1} s |",
            row.data,
            thousands(row.memories),
            row.snapshot_bytes.map_or("none".into(), index_bench::megabytes),
            row.open,
            row.memories_indexed,
            row.read,
            row.load,
            milliseconds(row.search),
            row.total(),
            row.write / 1000.0
        );
    }
}
