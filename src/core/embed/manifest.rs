//! `model.json`: what an embedding model is and how to check its files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::EmbedError;

/// How token vectors become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// Average of the token vectors under the attention mask (sentence-transformers).
    Mean,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub sha256: String,
    pub bytes: u64,
}

/// The contents of `model.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelManifest {
    /// Tags every stored vector: vectors with different ids are not comparable.
    pub id: String,
    pub name: String,
    pub dimension: usize,
    pub pooling: Pooling,
    /// Whether sentence vectors are L2-normalised (so cosine = dot product).
    pub normalize: bool,
    /// Longer inputs are truncated to this many tokens (special tokens included).
    pub max_length: usize,
    #[serde(default)]
    pub license: String,
    /// `model.onnx` and `tokenizer.json`, with their sizes and hashes.
    pub files: BTreeMap<String, FileInfo>,
}

pub const MODEL_FILE: &str = "model.onnx";
pub const TOKENIZER_FILE: &str = "tokenizer.json";

impl ModelManifest {
    pub fn parse(json: &[u8]) -> Result<ModelManifest, EmbedError> {
        let manifest: ModelManifest =
            serde_json::from_slice(json).map_err(|error| EmbedError::BadFile {
                file: "model.json".into(),
                problem: error.to_string(),
            })?;
        for file in [MODEL_FILE, TOKENIZER_FILE] {
            if !manifest.files.contains_key(file) {
                return Err(EmbedError::BadFile {
                    file: "model.json".into(),
                    problem: format!("it does not list {file}"),
                });
            }
        }
        if manifest.dimension == 0 || manifest.max_length < 2 {
            return Err(EmbedError::BadFile {
                file: "model.json".into(),
                problem: "dimension and max_length must be positive".into(),
            });
        }
        Ok(manifest)
    }

    /// Checks that `bytes` are the file `name` this manifest describes.
    pub fn verify(&self, name: &str, bytes: &[u8]) -> Result<(), EmbedError> {
        let expected = self.files.get(name).ok_or_else(|| EmbedError::BadFile {
            file: name.into(),
            problem: "model.json does not list it".into(),
        })?;
        if bytes.len() as u64 != expected.bytes {
            return Err(EmbedError::BadFile {
                file: name.into(),
                problem: format!(
                    "it has {} bytes, expected {} (an incomplete or different download)",
                    bytes.len(),
                    expected.bytes
                ),
            });
        }
        let actual = hex(&Sha256::digest(bytes));
        if !actual.eq_ignore_ascii_case(&expected.sha256) {
            return Err(EmbedError::BadFile {
                file: name.into(),
                problem: format!(
                    "its sha256 is {actual}, expected {} (a damaged or different file)",
                    expected.sha256
                ),
            });
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_for(model: &[u8]) -> ModelManifest {
        let json = serde_json::json!({
            "id": "test-model", "name": "Test", "dimension": 4, "pooling": "mean",
            "normalize": true, "max_length": 8,
            "files": {
                "model.onnx": {"sha256": hex(&Sha256::digest(model)), "bytes": model.len()},
                "tokenizer.json": {"sha256": "00", "bytes": 1}
            }
        });
        ModelManifest::parse(json.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn a_file_matching_its_manifest_is_accepted() {
        let manifest = manifest_for(b"weights");
        assert_eq!(manifest.verify(MODEL_FILE, b"weights"), Ok(()));
        assert_eq!(manifest.pooling, Pooling::Mean);
    }

    #[test]
    fn truncated_or_altered_files_are_named_with_what_was_expected() {
        let manifest = manifest_for(b"weights");
        let short = manifest
            .verify(MODEL_FILE, b"weigh")
            .unwrap_err()
            .to_string();
        assert!(
            short.contains("model.onnx") && short.contains("5 bytes, expected 7"),
            "{short}"
        );
        let altered = manifest
            .verify(MODEL_FILE, b"WEIGHTS")
            .unwrap_err()
            .to_string();
        assert!(altered.contains("sha256"), "{altered}");
    }

    #[test]
    fn a_manifest_without_its_files_is_rejected() {
        let error = ModelManifest::parse(
            br#"{"id":"x","name":"x","dimension":4,"pooling":"mean","normalize":true,"max_length":8,"files":{}}"#,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("does not list model.onnx"),
            "{error}"
        );
        assert!(ModelManifest::parse(b"not json").is_err());
    }
}
