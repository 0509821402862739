//! The default embedding model against the sentence-transformers reference.

use casebook::core::embed::{EmbedError, Embedder, ModelManifest};
use serde::Deserialize;

use crate::support::{cosine, embedder, model_dir, read, shared_data};

#[derive(Deserialize)]
struct Reference {
    sentences: Vec<String>,
    token_lens: Vec<usize>,
    st_ref: Vec<Vec<f32>>,
}

fn reference() -> Reference {
    serde_json::from_slice(&read(shared_data("embeddings/all-MiniLM-L6-v2_ref.json")))
        .expect("reference embeddings")
}

#[test]
fn embeddings_match_sentence_transformers() {
    let reference = reference();
    let texts: Vec<&str> = reference.sentences.iter().map(String::as_str).collect();
    let vectors = embedder().embed_batch(&texts).unwrap();
    let cosines: Vec<f64> = vectors
        .iter()
        .zip(&reference.st_ref)
        .map(|(ours, theirs)| cosine(ours, theirs))
        .collect();
    let (worst, min) = cosines
        .iter()
        .copied()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    println!(
        "int8 vs sentence-transformers over {} sentences: min cosine {min:.6} (\"{}\"), mean {:.6}",
        texts.len(),
        texts[worst],
        cosines.iter().sum::<f64>() / cosines.len() as f64
    );
    assert!(
        min >= 0.998,
        "min cosine {min} < 0.998 for \"{}\"",
        texts[worst]
    );
    for vector in &vectors {
        assert_eq!(vector.len(), 384);
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "not unit length: {norm}");
    }
}

#[test]
fn token_counts_match_the_reference_tokenizer() {
    let reference = reference();
    for (sentence, &expected) in reference.sentences.iter().zip(&reference.token_lens) {
        let counted = embedder().count_tokens(sentence).unwrap();
        // The reference counts after truncation to 256.
        assert_eq!(counted.min(256), expected, "token count of \"{sentence}\"");
    }
}

#[test]
fn a_text_embeds_the_same_alone_and_in_a_padded_batch() {
    let short = "A man is eating food.";
    let long = "Someone in a gorilla costume is playing a set of drums while a crowd of people \
                watches and claps along in the summer evening.";
    let alone = embedder().embed(short).unwrap();
    let batch = embedder().embed_batch(&[long, short, long]).unwrap();
    let difference = alone
        .iter()
        .zip(&batch[1])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        difference < 1e-5,
        "padding changed the vector by {difference}"
    );
    assert_eq!(batch[0], batch[2], "order of results follows the input");
}

#[test]
fn odd_inputs_embed_without_failing() {
    let huge = "word ".repeat(20_000);
    let inputs = [
        "",
        " ",
        "🦀🦀🦀",
        "\u{0}\u{7}control",
        huge.as_str(),
        "東京タワー",
    ];
    let vectors = embedder().embed_batch(&inputs).unwrap();
    assert_eq!(vectors.len(), inputs.len());
    assert!(vectors
        .iter()
        .all(|vector| vector.iter().all(|x| x.is_finite())));
    assert_eq!(
        embedder().count_tokens(&huge).unwrap(),
        20_002,
        "counts are not truncated"
    );
    assert_eq!(embedder().embed_batch(&[]).unwrap(), Vec::<Vec<f32>>::new());
}

#[test]
fn a_damaged_model_file_is_refused_by_name() {
    let dir = model_dir();
    let manifest = ModelManifest::parse(&read(dir.join("model.json"))).unwrap();
    let mut model = read(dir.join("model.onnx"));
    model.truncate(model.len() / 2);
    let error =
        Embedder::load(manifest.clone(), &model, &read(dir.join("tokenizer.json"))).unwrap_err();
    assert!(
        matches!(&error, EmbedError::BadFile { file, problem } if file == "model.onnx" && problem.contains("expected")),
        "{error}"
    );
    // Hash-checking skipped, the damage is still reported as a bad file, not a crash.
    let error =
        Embedder::load_unverified(manifest, &model, &read(dir.join("tokenizer.json"))).unwrap_err();
    assert!(error.to_string().contains("model.onnx"), "{error}");
}
