//! The vector index's SIMD paths, which only run in wasm: a bank whose graph was
//! declined scans 8-bit codes with `i32x4.dot_i16x8_s` and re-scores a shortlist
//! with the float dot product; it must find what exact search finds, with the
//! same scores.

use casebook::core::embed::l2_normalize;
use casebook::core::index::codes::CodeTable;
use casebook::core::index::{build_snapshot, IndexConfig, VectorIndex, VectorTable};
use casebook::core::memory::MemoryId;
use wasm_bindgen_test::wasm_bindgen_test;

const DIMENSION: usize = 384;

/// Deterministic vectors without structure (a sine of a hashed position).
fn vector(seed: usize) -> Vec<f32> {
    let mut values: Vec<f32> = (0..DIMENSION)
        .map(|i| ((seed * 7919 + i * 104_729) as f32 * 0.001_31).sin())
        .collect();
    l2_normalize(&mut values);
    values
}

#[wasm_bindgen_test]
fn code_dots_are_float_dots_to_a_thousandth() {
    // 4k + 3 rows: blocks of four and a remainder scored one by one.
    let rows: Vec<Vec<f32>> = (0..403).map(vector).collect();
    let codes = CodeTable::from_table(&VectorTable::from_values(DIMENSION, rows.concat()));
    for seed in [5_000, 5_001, 5_002] {
        let query = vector(seed);
        let coded = codes.code_query(&query);
        let mut visited = 0;
        codes.scan(&coded, |row, approximate| {
            assert_eq!(row, visited);
            visited += 1;
            let exact = casebook::core::vector::dot(&query, &rows[row]);
            assert!(
                (approximate - exact).abs() < 1e-3,
                "row {row}: {approximate} against {exact}"
            );
        });
        assert_eq!(visited, rows.len());
    }
}

#[wasm_bindgen_test]
fn the_code_scan_finds_what_exact_search_finds() {
    let rows: Vec<(MemoryId, u32, Vec<f32>)> = (0..1_003)
        .map(|n| (MemoryId(format!("m{n:05}")), 1, vector(n)))
        .collect();
    let exact_config = IndexConfig {
        exact_below: usize::MAX,
        ..IndexConfig::default()
    };
    let (exact, _) = VectorIndex::load(DIMENSION, exact_config.clone(), None, rows.clone())
        .expect("valid vectors");
    // A snapshot saved without a graph, loaded where a graph was due: the app
    // then scans codes (as when a built graph misses too many neighbours).
    let saved = build_snapshot(exact.rebuild_input(), &exact_config).to_bytes();
    let scanning_config = IndexConfig {
        exact_below: 0,
        ..IndexConfig::default()
    };
    let (mut scanning, _) =
        VectorIndex::load(DIMENSION, scanning_config, Some(&saved), rows).expect("valid vectors");
    assert!(!scanning.has_graph());
    let odd = |id: &MemoryId| id.0.ends_with(['1', '3', '5', '7', '9']);
    for seed in 5_000..5_030 {
        let query = vector(seed);
        for allow in [&|_: &MemoryId| true, &odd as &dyn Fn(&MemoryId) -> bool] {
            let expected = exact.search(&query, 10, allow).unwrap();
            let found = scanning.search(&query, 10, allow).unwrap();
            assert_eq!(found, expected, "query {seed}");
        }
    }
    // A deleted row is never returned.
    let query = vector(5_000);
    let best = scanning.search(&query, 1, &|_| true).unwrap()[0].id.clone();
    assert!(scanning.remove(&best));
    let hits = scanning.search(&query, 10, &|_| true).unwrap();
    assert!(hits.iter().all(|hit| hit.id != best));
}
