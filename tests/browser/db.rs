//! IndexedDB through the app's `Db`: round trips, persistence across reopen, and
//! schema migrations that keep (or, on failure, leave untouched) the user's data.

use casebook::core::schema::stores;
use casebook::core::schema::{IndexDef, Migration, Schema, Step, CASEBOOK};
use casebook::core::settings::{keys, Theme};
use casebook::web::db::{Db, DbError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wasm_bindgen_test::wasm_bindgen_test;

/// A database name no other test (or earlier run) uses.
fn unique_name(prefix: &str) -> &'static str {
    let name = format!("{prefix}-{}", js_sys::Math::random().to_bits());
    Box::leak(name.into_boxed_str())
}

async fn delete(name: &str) {
    rexie::Rexie::delete(name)
        .await
        .expect("delete test database");
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Note {
    id: String,
    body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
}

fn note(id: &str, body: &str) -> Note {
    Note {
        id: id.into(),
        body: body.into(),
        title: None,
    }
}

const NOTES_V1: Migration = Migration {
    version: 1,
    description: "notes",
    steps: &[Step::CreateStore {
        name: "notes",
        key_path: "id",
    }],
};

fn title_from_body(mut record: Value) -> Result<Option<Value>, String> {
    let body = record["body"].as_str().ok_or("a note without a body")?;
    if body == "drop me" {
        return Ok(None);
    }
    record["title"] = Value::from(body.split_whitespace().next().unwrap_or(""));
    Ok(Some(record))
}

const NOTES_V2: Migration = Migration {
    version: 2,
    description: "titles, an index on them, and a tags store",
    steps: &[
        Step::RewriteRecords {
            store: "notes",
            rewrite: title_from_body,
        },
        Step::CreateIndex {
            store: "notes",
            index: IndexDef {
                name: "by_title",
                key_path: "title",
                unique: false,
                multi_entry: false,
            },
        },
        Step::CreateStore {
            name: "tags",
            key_path: "name",
        },
    ],
};

fn refuse(_: Value) -> Result<Option<Value>, String> {
    Err("this migration always fails".into())
}

const NOTES_V2_FAILING: Migration = Migration {
    version: 2,
    description: "creates a store, then fails",
    steps: &[
        Step::CreateStore {
            name: "tags",
            key_path: "name",
        },
        Step::RewriteRecords {
            store: "notes",
            rewrite: refuse,
        },
    ],
};

fn schema(name: &'static str, migrations: &'static [Migration]) -> Schema {
    Schema {
        database_name: name,
        migrations,
    }
}

#[wasm_bindgen_test]
async fn a_setting_written_is_read_back_after_reopening() {
    let name = unique_name("casebook-roundtrip");
    let schema = Schema {
        database_name: name,
        ..CASEBOOK
    };
    let db = Db::open(&schema).await.expect("open");
    assert_eq!(db.version(), CASEBOOK.latest_version());
    assert_eq!(
        db.get_value::<Theme>(stores::SETTINGS, keys::THEME)
            .await
            .unwrap(),
        None
    );
    db.put_value(stores::SETTINGS, keys::THEME, &Theme::Dark)
        .await
        .unwrap();
    drop(db);

    let reopened = Db::open(&schema).await.expect("reopen");
    assert_eq!(
        reopened
            .get_value::<Theme>(stores::SETTINGS, keys::THEME)
            .await
            .unwrap(),
        Some(Theme::Dark)
    );
    assert_eq!(reopened.count(stores::SETTINGS).await.unwrap(), 1);
    drop(reopened);
    delete(name).await;
}

#[wasm_bindgen_test]
async fn upgrading_from_v1_to_v2_keeps_and_transforms_the_data() {
    let name = unique_name("casebook-upgrade");
    let v1 = Db::open(&schema(name, &[NOTES_V1])).await.expect("open v1");
    for record in [
        note("a", "groceries milk eggs"),
        note("b", "call the dentist"),
        note("c", "drop me"),
    ] {
        v1.put("notes", &record).await.unwrap();
    }
    drop(v1);

    let v2 = Db::open(&schema(name, &[NOTES_V1, NOTES_V2]))
        .await
        .expect("upgrade to v2");
    assert_eq!(v2.version(), 2);
    let mut names = v2.store_names();
    names.sort();
    assert_eq!(names, ["notes", "tags"]);
    assert_eq!(
        v2.count("notes").await.unwrap(),
        2,
        "the rewrite deletes 'drop me'"
    );
    let a: Note = v2.get("notes", "a").await.unwrap().expect("note a kept");
    assert_eq!(
        a,
        Note {
            title: Some("groceries".into()),
            ..note("a", "groceries milk eggs")
        }
    );
    let b: Value = v2.get("notes", "b").await.unwrap().expect("note b kept");
    assert_eq!(
        b,
        json!({"id": "b", "body": "call the dentist", "title": "call"})
    );
    drop(v2);
    delete(name).await;
}

#[wasm_bindgen_test]
async fn a_failed_upgrade_changes_nothing_and_says_which_version_failed() {
    let name = unique_name("casebook-failed-upgrade");
    let v1 = Db::open(&schema(name, &[NOTES_V1])).await.expect("open v1");
    v1.put("notes", &note("a", "keep me")).await.unwrap();
    drop(v1);

    let error = Db::open(&schema(name, &[NOTES_V1, NOTES_V2_FAILING]))
        .await
        .expect_err("the upgrade must fail");
    match &error {
        DbError::Migration { version, reason } => {
            assert_eq!(*version, 2);
            assert!(reason.contains("this migration always fails"), "{reason}");
        }
        other => panic!("expected a migration error, got {other:?}"),
    }

    let still_v1 = Db::open(&schema(name, &[NOTES_V1]))
        .await
        .expect("reopen v1");
    assert_eq!(still_v1.version(), 1);
    assert_eq!(
        still_v1.store_names(),
        ["notes"],
        "the store created before the failure is rolled back"
    );
    assert_eq!(
        still_v1.get::<Note>("notes", "a").await.unwrap(),
        Some(note("a", "keep me"))
    );
    drop(still_v1);
    delete(name).await;
}

#[wasm_bindgen_test]
async fn an_older_app_refuses_a_newer_database_with_a_clear_error() {
    let name = unique_name("casebook-too-new");
    let v2 = Db::open(&schema(name, &[NOTES_V1, NOTES_V2]))
        .await
        .expect("open v2");
    drop(v2);
    let error = Db::open(&schema(name, &[NOTES_V1]))
        .await
        .expect_err("v1 app must not open a v2 database");
    assert_eq!(
        error,
        DbError::TooNew {
            stored: 2,
            known: 1
        }
    );
    assert!(error.to_string().contains("newer version of Casebook"));
    delete(name).await;
}

#[wasm_bindgen_test]
async fn a_version_2_casebook_database_upgrades_to_3_keeping_its_data() {
    let name = unique_name("casebook-v2-to-v3");
    let v2_schema = Schema {
        database_name: name,
        migrations: &CASEBOOK.migrations[..2],
    };
    let v2 = Db::open(&v2_schema).await.expect("open v2");
    assert_eq!(v2.version(), 2);
    let memory = json!({"id": "m1", "kind": "note", "text": "the API listens on 8443",
        "source": {"type": "manual"}, "pool": "default", "created_at": 1, "updated_at": 1,
        "revision": 1});
    let vector = json!({"memory_id": "m1", "model_id": "old-model", "version": 1,
        "vector": [0.6, 0.8]});
    v2.put(stores::MEMORIES, &memory).await.unwrap();
    v2.put(stores::VECTORS, &vector).await.unwrap();
    v2.put_value(stores::SETTINGS, keys::THEME, &Theme::Dark)
        .await
        .unwrap();
    drop(v2);

    let v3 = Db::open(&Schema {
        database_name: name,
        ..CASEBOOK
    })
    .await
    .expect("upgrade to v3");
    assert_eq!(v3.version(), 3);
    assert!(v3
        .store_names()
        .contains(&stores::TARGET_VECTORS.to_owned()));
    assert_eq!(v3.count(stores::TARGET_VECTORS).await.unwrap(), 0);
    assert_eq!(
        v3.get::<Value>(stores::MEMORIES, "m1").await.unwrap(),
        Some(memory)
    );
    assert_eq!(
        v3.get::<Value>(stores::VECTORS, "m1").await.unwrap(),
        Some(vector)
    );
    assert_eq!(
        v3.get_value::<Theme>(stores::SETTINGS, keys::THEME)
            .await
            .unwrap(),
        Some(Theme::Dark)
    );
    drop(v3);
    delete(name).await;
}

/// Vector records are decoded all at once in JavaScript; they must come back
/// exactly as written, in order, whatever their models, and a record that is
/// not as the app writes it must be named in the error, not skipped.
#[wasm_bindgen_test]
fn vector_records_decode_exactly_and_a_damaged_one_is_reported() {
    use casebook::core::bank::StoredVector;
    use casebook::core::memory::MemoryId;
    use casebook::web::bank_store::{vector_to_js, vectors_from_js};
    use js_sys::Reflect;

    let written: Vec<StoredVector> = (0..50u32)
        .map(|n| StoredVector {
            memory_id: MemoryId(format!("m{n:03} \"quoted\" ü")),
            model_id: if n % 3 == 0 { "model-a" } else { "model-b" }.into(),
            version: n * 7,
            vector: (0..(n % 5) * 3)
                .map(|i| i as f32 * 0.25 - n as f32)
                .collect(),
        })
        .collect();
    let records: Vec<wasm_bindgen::JsValue> = written
        .iter()
        .map(|vector| vector_to_js(vector).expect("a vector record"))
        .collect();
    assert_eq!(vectors_from_js(&records).expect("valid records"), written);
    assert_eq!(vectors_from_js(&[]).expect("no records"), Vec::new());

    Reflect::set(
        &records[17],
        &"vector".into(),
        &js_sys::Array::of2(&1.0.into(), &2.0.into()),
    )
    .expect("an object");
    match vectors_from_js(&records) {
        Err(DbError::Malformed(message)) => assert!(message.contains("vector"), "{message}"),
        other => panic!("expected a malformed-record error, got {other:?}"),
    }
    Reflect::set(
        &records[17],
        &"vector".into(),
        &js_sys::Float32Array::new_with_length(2),
    )
    .expect("an object");
    Reflect::set(&records[40], &"version".into(), &(-1.0).into()).expect("an object");
    match vectors_from_js(&records) {
        Err(DbError::Malformed(message)) => assert!(message.contains("version"), "{message}"),
        other => panic!("expected a malformed-record error, got {other:?}"),
    }
}
