//! Vector index benchmark, native (run by `scripts/bench.sh index`): exact search,
//! buffer inserts, HNSW build / rebuild / saved size / load, and HNSW latency and
//! recall@10 against exact search, on random unit vectors and on SciFact's real
//! embeddings, at each size asked for.
//!
//! ```text
//! cargo run --profile bench --example index_bench -- [SIZES] [--ef-construction LIST]
//!     [--ef-search LIST] [--data random,scifact]
//! ```
//! SIZES defaults to `1k,10k,100k`; graphs are built with the default `IndexConfig`'s
//! ef_construction and searched with ef_search 16 to 256 unless told otherwise.
//! Set `RAYON_NUM_THREADS=1` to build graphs on one thread, as the browser's
//! worker does.
//!
//! SciFact's document vectors come from the native tests' cache (tests/common/
//! scifact.rs); the benchmark also writes them and its query vectors, as raw
//! little-endian f32, to `target/bench-data/` for the Chromium benchmark, which
//! cannot read the cache itself.

#[path = "../tests/common/index_bench.rs"]
mod index_bench;
// Shared with the native tests, which use all of them; this uses part.
#[allow(dead_code)]
#[path = "../tests/common/scifact.rs"]
mod scifact_data;
#[allow(dead_code)]
#[path = "../tests/common/support.rs"]
mod support;

use std::path::Path;
use std::time::Instant;

use casebook::core::bank::IndexedMemories;
use casebook::core::index::IndexConfig;
use index_bench::{
    load_bank, measure, memories, memory_ids, milliseconds, parse_list, parse_sizes,
    random_dataset, scifact_dataset, stored_vectors, tables, thousands, Plan, Rng,
};

struct Options {
    sizes: Vec<usize>,
    plan: Plan,
    random: bool,
    scifact: bool,
}

fn options() -> Result<Options, String> {
    let chosen = IndexConfig::default();
    let mut options = Options {
        sizes: parse_sizes("1k,10k,100k")?,
        plan: Plan {
            ef_constructions: vec![chosen.ef_construction],
            ef_searches: parse_list(index_bench::EF_SEARCH_SWEEP)?,
            chosen,
        },
        random: true,
        scifact: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--ef-construction" => options.plan.ef_constructions = parse_list(&value()?)?,
            "--ef-search" => options.plan.ef_searches = parse_list(&value()?)?,
            "--data" => {
                let data = value()?;
                options.random = data.split(',').any(|name| name == "random");
                options.scifact = data.split(',').any(|name| name == "scifact");
            }
            sizes if !sizes.starts_with('-') => options.sizes = parse_sizes(sizes)?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
}

/// SciFact's document and query vectors: the documents from the cache the native
/// tests fill, the 300 test claims embedded now (a few seconds).
fn scifact_vectors() -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
    let scifact = scifact_data::scifact();
    let documents = scifact_data::document_vectors(&scifact);
    let claims: Vec<&str> = scifact
        .queries
        .iter()
        .map(|(_, text)| text.as_str())
        .collect();
    let queries = support::embedder()
        .embed_batch(&claims)
        .expect("SciFact claims embed");
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join(index_bench::BENCH_DATA);
    std::fs::create_dir_all(&directory)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", directory.display()));
    for (name, vectors) in [
        (index_bench::SCIFACT_DOCUMENTS, &documents),
        (index_bench::SCIFACT_QUERIES, &queries),
    ] {
        let bytes: Vec<u8> = vectors
            .iter()
            .flatten()
            .flat_map(|value| value.to_le_bytes())
            .collect();
        std::fs::write(directory.join(name), bytes)
            .unwrap_or_else(|error| panic!("cannot write {name}: {error}"));
    }
    (documents, queries)
}

fn main() {
    let options = options().unwrap_or_else(|problem| {
        eprintln!("index_bench: {problem}");
        std::process::exit(2);
    });
    let start = Instant::now();
    let clock = || start.elapsed().as_secs_f64() * 1000.0;
    let mut log = |line: &str| eprintln!("  {line}");

    let scifact = options.scifact.then(scifact_vectors);

    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all cores".into());
    println!("Vector index benchmark, native (queries on 1 thread; graph builds on {threads})");
    println!(
        "chosen: {:?}; sweeping ef_construction {:?}, ef_search {:?}",
        options.plan.chosen, options.plan.ef_constructions, options.plan.ef_searches
    );
    if options.scifact {
        println!("{}", index_bench::SCIFACT_RECIPE);
    }
    let mut exact_rows = Vec::new();
    let mut graph_rows = Vec::new();
    let mut before_rebuild_rows = Vec::new();
    let mut app_rows = Vec::new();
    let mut bank_rows = Vec::new();
    for &size in &options.sizes {
        let mut datasets = Vec::new();
        if options.random {
            datasets.push(random_dataset(size));
        }
        if let Some((documents, queries)) = &scifact {
            datasets.push(scifact_dataset(documents, queries, size));
        }
        for dataset in &datasets {
            let mut rng = Rng::new(0x1d + size as u64);
            let ids = memory_ids(size, &mut rng);
            let measured = measure(dataset, &ids, &options.plan, &clock, &mut log);
            exact_rows.push(measured.exact);
            graph_rows.extend(measured.graphs);
            before_rebuild_rows.extend(measured.before_rebuild);
            app_rows.extend(measured.app);
            // The chosen configuration's snapshot, as the app would have saved it.
            let snapshot = measured.chosen_snapshot;
            let records = memories(&ids, &mut rng);
            let started = clock();
            let indexed = IndexedMemories::new(records);
            let index_ms = clock() - started;
            let (load_ms, search_ms) = load_bank(
                indexed,
                stored_vectors(&ids, &dataset.vectors),
                snapshot.as_deref(),
                &options.plan.chosen,
                &dataset.queries[0],
                &clock,
            );
            bank_rows.push(format!(
                "| {} | {} | {} | {index_ms:.0} ms | {load_ms:.0} ms | {} ms |",
                dataset.name,
                thousands(size),
                if snapshot.is_some() { "yes" } else { "no" },
                milliseconds(search_ms)
            ));
        }
    }
    print!(
        "{}",
        tables(
            &exact_rows,
            &graph_rows,
            &before_rebuild_rows,
            &app_rows,
            &options.plan.chosen
        )
    );
    println!("\nOpening the bank from records in memory (IndexedDB reads are timed in Chromium), chosen config\n");
    println!("| data | memories | saved snapshot | IndexedMemories::new | CaseBank::load | first hybrid search |");
    println!("|---|---:|---|---:|---:|---:|");
    for row in bank_rows {
        println!("{row}");
    }
}
