//! Sentence embeddings: tokenizer + ONNX model (run by tract) + pooling. The same
//! code runs natively (tests, benchmarks) and in the browser's background worker.
//!
//! Everything is loaded from bytes — the browser fetches the files — and checked
//! against `model.json` first, so a damaged download is reported by file name
//! rather than as a cryptic model error.

mod manifest;
mod pooling;
mod sharing;

use std::sync::Arc;

use thiserror::Error;
use tokenizers::{Encoding, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};
use tract_onnx::prelude::*;

pub use manifest::{FileInfo, ModelManifest, Pooling, MODEL_FILE, TOKENIZER_FILE};
pub use pooling::{l2_normalize, mean_pool};
pub use sharing::{share_out, MIN_TEXTS_PER_WORKER};

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum EmbedError {
    #[error("The model file {file} cannot be used: {problem}")]
    BadFile { file: String, problem: String },
    #[error("The embedding model could not be prepared: {0}")]
    Load(String),
    #[error("Embedding failed: {0}")]
    Run(String),
}

/// Texts are embedded in batches of at most this many, grouped by length so that
/// short texts do not pay for a long one's padding. 16 is where batching stops
/// paying off for this model (see the embedding benchmark).
pub const MAX_BATCH: usize = 16;

/// The model inputs Casebook knows how to fill, by their usual ONNX names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ModelInput {
    InputIds,
    AttentionMask,
    TokenTypeIds,
}

impl ModelInput {
    fn from_name(name: &str) -> Option<ModelInput> {
        match name {
            "input_ids" => Some(ModelInput::InputIds),
            "attention_mask" => Some(ModelInput::AttentionMask),
            "token_type_ids" => Some(ModelInput::TokenTypeIds),
            _ => None,
        }
    }
}

pub struct Embedder {
    manifest: ModelManifest,
    /// Truncates to the model's maximum length; never pads (batches pad themselves).
    tokenizer: Tokenizer,
    /// Neither truncates nor pads: counts the tokens of a whole text.
    counter: Tokenizer,
    model: Arc<TypedRunnableModel>,
    inputs: Vec<ModelInput>,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("model", &self.manifest.id)
            .finish_non_exhaustive()
    }
}

impl Embedder {
    /// Checks the files against the manifest, then prepares the tokenizer and the
    /// model (the slow part: tract optimises the graph once, here).
    pub fn load(
        manifest: ModelManifest,
        model_onnx: &[u8],
        tokenizer_json: &[u8],
    ) -> Result<Embedder, EmbedError> {
        manifest.verify(MODEL_FILE, model_onnx)?;
        manifest.verify(TOKENIZER_FILE, tokenizer_json)?;
        Self::load_unverified(manifest, model_onnx, tokenizer_json)
    }

    /// Like [`Embedder::load`] without the hash check (the caller checked already).
    pub fn load_unverified(
        manifest: ModelManifest,
        model_onnx: &[u8],
        tokenizer_json: &[u8],
    ) -> Result<Embedder, EmbedError> {
        let mut counter =
            Tokenizer::from_bytes(tokenizer_json).map_err(|error| EmbedError::BadFile {
                file: TOKENIZER_FILE.into(),
                problem: error.to_string(),
            })?;
        // tokenizer.json files often fix their own truncation and padding (this
        // model's says 128 and pad-to-128); the manifest's length is what counts.
        counter.with_padding(None);
        counter
            .with_truncation(None)
            .map_err(|error| EmbedError::Load(error.to_string()))?;
        let mut tokenizer = counter.clone();
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: manifest.max_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|error| EmbedError::Load(error.to_string()))?;

        let model = tract_onnx::onnx()
            .model_for_read(&mut &*model_onnx)
            .map_err(|error| EmbedError::BadFile {
                file: MODEL_FILE.into(),
                problem: format!("not a readable ONNX model ({error})"),
            })?;
        let inputs = model
            .input_outlets()
            .map_err(|error| EmbedError::Load(error.to_string()))?
            .iter()
            .map(|outlet| {
                let name = &model.node(outlet.node).name;
                ModelInput::from_name(name).ok_or_else(|| EmbedError::BadFile {
                    file: MODEL_FILE.into(),
                    problem: format!(
                        "it expects an input named `{name}`; Casebook can provide input_ids, attention_mask and token_type_ids"
                    ),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !inputs.contains(&ModelInput::InputIds) {
            return Err(EmbedError::BadFile {
                file: MODEL_FILE.into(),
                problem: "it has no input_ids input".into(),
            });
        }
        let model = model
            .into_optimized()
            .and_then(|model| model.into_runnable())
            .map_err(|error| EmbedError::Load(format!("{error:#}")))?;
        Ok(Embedder {
            manifest,
            tokenizer,
            counter,
            model,
            inputs,
        })
    }

    pub fn manifest(&self) -> &ModelManifest {
        &self.manifest
    }

    /// The number of tokens `text` has for this model, special tokens included and
    /// without truncation (so callers can tell when a text would be cut).
    pub fn count_tokens(&self, text: &str) -> Result<usize, EmbedError> {
        self.counter
            .encode(text, true)
            .map(|encoding| encoding.len())
            .map_err(|error| EmbedError::Run(error.to_string()))
    }

    /// Embeds each text into a unit vector of the model's dimension, in order.
    /// Texts longer than the model's maximum length are embedded from their start.
    pub fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|error| EmbedError::Run(error.to_string()))?;
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&index| encodings[index].len());
        let mut vectors = vec![Vec::new(); encodings.len()];
        for group in order.chunks(MAX_BATCH) {
            let batch: Vec<&Encoding> = group.iter().map(|&index| &encodings[index]).collect();
            for (&index, vector) in group.iter().zip(self.run(&batch)?) {
                vectors[index] = vector;
            }
        }
        Ok(vectors)
    }

    /// Embeds one text.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        Ok(self.embed_batch(&[text])?.remove(0))
    }

    fn run(&self, batch: &[&Encoding]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let rows = batch.len();
        let columns = batch
            .iter()
            .map(|encoding| encoding.len())
            .max()
            .unwrap_or(0);
        // Padding (id 0, mask 0) is masked out of attention and of pooling.
        let mut ids = vec![0i64; rows * columns];
        let mut mask = vec![0i64; rows * columns];
        for (row, encoding) in batch.iter().enumerate() {
            let start = row * columns;
            for (column, (&id, &attend)) in encoding
                .get_ids()
                .iter()
                .zip(encoding.get_attention_mask())
                .enumerate()
            {
                ids[start + column] = i64::from(id);
                mask[start + column] = i64::from(attend);
            }
        }
        let tensor = |values: &[i64]| -> Result<TValue, EmbedError> {
            Tensor::from_shape(&[rows, columns], values)
                .map(IntoTValue::into_tvalue)
                .map_err(|error| EmbedError::Run(error.to_string()))
        };
        let zeros = vec![0i64; rows * columns];
        let inputs = self
            .inputs
            .iter()
            .map(|input| match input {
                ModelInput::InputIds => tensor(&ids),
                ModelInput::AttentionMask => tensor(&mask),
                ModelInput::TokenTypeIds => tensor(&zeros),
            })
            .collect::<Result<TVec<_>, _>>()?;
        let outputs = self
            .model
            .run(inputs)
            .map_err(|error| EmbedError::Run(format!("{error:#}")))?;
        let hidden = outputs[0]
            .to_plain_array_view::<f32>()
            .map_err(|error| EmbedError::Run(error.to_string()))?;
        let dimension = self.manifest.dimension;
        if hidden.shape() != [rows, columns, dimension] {
            return Err(EmbedError::Run(format!(
                "the model produced shape {:?}; model.json promises [{rows}, {columns}, {dimension}]",
                hidden.shape()
            )));
        }
        let hidden = hidden
            .as_slice()
            .ok_or_else(|| EmbedError::Run("the model output is not contiguous".into()))?;
        Ok((0..rows)
            .map(|row| {
                let tokens = &hidden[row * columns * dimension..(row + 1) * columns * dimension];
                let mut vector = match self.manifest.pooling {
                    Pooling::Mean => {
                        mean_pool(tokens, &mask[row * columns..(row + 1) * columns], dimension)
                    }
                };
                if self.manifest.normalize {
                    l2_normalize(&mut vector);
                }
                vector
            })
            .collect())
    }
}
