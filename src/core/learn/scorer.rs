//! The learned reranker: Memento's parametric case retrieval, as an online
//! logistic regression over [`Features`] that predicts whether a retrieved
//! memory will help with the question.
//!
//! It learns from the verdicts on answers: a memory the answer cited and the
//! user marked "worked" helped; one cited in an answer that did not work did
//! not; one that was in the prompt but not cited probably did not matter (a
//! weak negative). The features it sees include each memory's own record
//! (`cited_worked`, `cited_did_not_work`), so what it learns is how much to trust
//! that record against similarity.

use serde::{Deserialize, Serialize};

use crate::core::memory::Outcome;
use crate::core::retrieve::{Features, UsefulnessScorer};

/// Step size of each update. Features are in [0, 1], so one example moves a
/// prediction by at most a few percent: a single odd verdict does not reorder
/// the bank, a consistent pattern does within a few dozen.
const LEARNING_RATE: f32 = 0.3;

/// Pulls weights towards zero on every update so that old patterns fade when
/// the user's needs change.
const WEIGHT_DECAY: f32 = 1e-4;

/// A memory in the prompt that the answer did not cite says little on its own
/// (the model may just not have needed it): it counts a fifth of a real verdict.
const NOT_CITED_WEIGHT: f32 = 0.2;

/// The scorer reranks only once it has seen this many rated citations of each
/// kind (helped, did not help). Before that a handful of verdicts would decide
/// the order; with both kinds seen, it can tell them apart.
pub const READY_AFTER_EACH: u32 = 5;

/// What feedback says about one memory that was in an answer's prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Cited by an answer that worked.
    Helped,
    /// Cited by an answer that did not work.
    DidNotHelp,
    /// In the prompt, not cited, and the answer was rated either way.
    NotCited,
}

impl Signal {
    /// The signal of a memory given whether the answer cited it and the
    /// verdict; `None` while the answer is unrated.
    pub fn from_verdict(cited: bool, verdict: Option<Outcome>) -> Option<Signal> {
        match (cited, verdict?) {
            (_, Outcome::Unrated) => None,
            (false, _) => Some(Signal::NotCited),
            (true, Outcome::Worked) => Some(Signal::Helped),
            (true, Outcome::DidNotWork) => Some(Signal::DidNotHelp),
        }
    }

    fn target(self) -> f32 {
        match self {
            Signal::Helped => 1.0,
            Signal::DidNotHelp | Signal::NotCited => 0.0,
        }
    }

    fn weight(self) -> f32 {
        match self {
            Signal::Helped | Signal::DidNotHelp => 1.0,
            Signal::NotCited => NOT_CITED_WEIGHT,
        }
    }
}

/// The learned scorer, stored as it is (serde). It starts neutral: until it is
/// [ready](LearnedScorer::is_ready) its usefulness is 0 for every memory.
///
/// A stored scorer whose feature count differs from today's [`Features::COUNT`]
/// fails to deserialise; start a new one then (what it knew was about other
/// features).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LearnedScorer {
    weights: [f32; Features::COUNT],
    bias: f32,
    helped: u32,
    did_not_help: u32,
    not_cited: u32,
}

impl LearnedScorer {
    pub fn new() -> LearnedScorer {
        LearnedScorer::default()
    }

    /// Whether it has learned enough to rerank (see [`READY_AFTER_EACH`]).
    pub fn is_ready(&self) -> bool {
        self.helped >= READY_AFTER_EACH && self.did_not_help >= READY_AFTER_EACH
    }

    /// How many examples it has learned from, of each signal: (helped, did not
    /// help, not cited).
    pub fn examples(&self) -> (u32, u32, u32) {
        (self.helped, self.did_not_help, self.not_cited)
    }

    /// The share of what it learned from that helped (not-cited examples count
    /// at their weight): how likely an average memory in a prompt is to help.
    fn base_rate(&self) -> f32 {
        let helped = self.helped as f32;
        let total = helped + self.did_not_help as f32 + NOT_CITED_WEIGHT * self.not_cited as f32;
        if total > 0.0 {
            helped / total
        } else {
            0.5
        }
    }

    /// The predicted probability that a memory with these features helps.
    pub fn probability(&self, features: &Features) -> f32 {
        let logit = self
            .weights
            .iter()
            .zip(features.to_array())
            .map(|(weight, value)| weight * value)
            .sum::<f32>()
            + self.bias;
        1.0 / (1.0 + (-logit).exp())
    }

    /// Learns from the verdict on one answer. `used` holds each memory that was
    /// in its prompt (its features at the time) and whether the answer cited it.
    /// When the user changes their verdict, `previous` is what they said before:
    /// what was learned from it is taken back (an opposite step, so approximately)
    /// before the new verdict is learned.
    pub fn learn_from_verdict(
        &mut self,
        used: &[(Features, bool)],
        previous: Option<Outcome>,
        current: Option<Outcome>,
    ) {
        for (features, cited) in used {
            let before = Signal::from_verdict(*cited, previous);
            let after = Signal::from_verdict(*cited, current);
            if before == after {
                continue;
            }
            if let Some(signal) = before {
                self.step(features, signal, -1.0);
                *self.count(signal) = self.count(signal).saturating_sub(1);
            }
            if let Some(signal) = after {
                self.step(features, signal, 1.0);
                *self.count(signal) = self.count(signal).saturating_add(1);
            }
        }
    }

    fn count(&mut self, signal: Signal) -> &mut u32 {
        match signal {
            Signal::Helped => &mut self.helped,
            Signal::DidNotHelp => &mut self.did_not_help,
            Signal::NotCited => &mut self.not_cited,
        }
    }

    /// One gradient step on the weighted log loss; `direction` −1 takes a step
    /// back.
    ///
    /// The weights of how well a memory matches the question are kept at or
    /// above zero. Verdicts only ever come from memories that were ranked high,
    /// so the failures it sees are the most similar ones; left free, it learns
    /// "less similar helps more" and then fills prompts with memories about
    /// something else (the simulation did exactly that).
    fn step(&mut self, features: &Features, signal: Signal, direction: f32) {
        let error = signal.target() - self.probability(features);
        let gradient = LEARNING_RATE * signal.weight() * direction * error;
        let query_match = Features {
            vector_score: 1.0,
            keyword_score: 1.0,
            relevance: 1.0,
            ..Features::default()
        }
        .to_array();
        for ((weight, value), is_match) in self
            .weights
            .iter_mut()
            .zip(features.to_array())
            .zip(query_match)
        {
            *weight += gradient * value - LEARNING_RATE * WEIGHT_DECAY * *weight;
            if is_match > 0.0 {
                *weight = weight.max(0.0);
            }
        }
        self.bias += gradient;
    }
}

impl UsefulnessScorer for LearnedScorer {
    /// The predicted probability of helping, against the base rate: 0 for a
    /// memory as likely to help as an average one, 1 for certain help, −1 for
    /// certainly none. Centred so that a memory without a record is neither
    /// lifted nor sunk. Exactly 0 while not ready.
    fn usefulness(&self, features: &Features) -> f32 {
        if !self.is_ready() {
            return 0.0;
        }
        let probability = self.probability(features);
        let base = self.base_rate().clamp(f32::EPSILON, 1.0 - f32::EPSILON);
        if probability >= base {
            (probability - base) / (1.0 - base)
        } else {
            (probability - base) / base
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_record(cited_worked: f32, cited_did_not_work: f32) -> Features {
        Features {
            vector_score: 0.7,
            relevance: 0.5,
            recency: 0.9,
            cited_worked,
            cited_did_not_work,
            ..Features::default()
        }
    }

    /// Good records helped, bad ones did not, `rounds` times over.
    fn trained(rounds: usize) -> LearnedScorer {
        let mut scorer = LearnedScorer::new();
        for _ in 0..rounds {
            scorer.learn_from_verdict(
                &[
                    (with_record(0.5, 0.0), true),
                    (with_record(0.0, 0.0), false),
                ],
                None,
                Some(Outcome::Worked),
            );
            scorer.learn_from_verdict(
                &[(with_record(0.0, 0.5), true)],
                None,
                Some(Outcome::DidNotWork),
            );
        }
        scorer
    }

    #[test]
    fn it_stays_neutral_until_it_has_seen_both_kinds_of_verdict() {
        let features = with_record(0.5, 0.0);
        assert_eq!(LearnedScorer::new().usefulness(&features), 0.0);
        let almost = trained(READY_AFTER_EACH as usize - 1);
        assert!(!almost.is_ready());
        assert_eq!(almost.usefulness(&features), 0.0);
        let mut one_sided = LearnedScorer::new();
        for _ in 0..50 {
            one_sided.learn_from_verdict(&[(features, true)], None, Some(Outcome::Worked));
        }
        assert_eq!(one_sided.usefulness(&features), 0.0);

        let ready = trained(READY_AFTER_EACH as usize);
        assert!(ready.is_ready());
        assert_eq!(ready.examples(), (5, 5, 5));
        assert!(
            ready.usefulness(&with_record(0.5, 0.0)) > ready.usefulness(&with_record(0.0, 0.5))
        );
    }

    #[test]
    fn unrated_answers_and_repeated_verdicts_teach_nothing() {
        let mut scorer = trained(6);
        let before = scorer.clone();
        let used = [(with_record(0.2, 0.0), true)];
        scorer.learn_from_verdict(&used, None, None);
        scorer.learn_from_verdict(&used, None, Some(Outcome::Unrated));
        scorer.learn_from_verdict(&used, Some(Outcome::Worked), Some(Outcome::Worked));
        assert_eq!(scorer, before);
    }

    #[test]
    fn changing_a_verdict_takes_back_what_it_taught() {
        let mut scorer = trained(6);
        let features = with_record(0.3, 0.3);
        let used = [(features, true), (with_record(0.0, 0.0), false)];
        let before = scorer.probability(&features);
        scorer.learn_from_verdict(&used, None, Some(Outcome::Worked));
        let after_worked = scorer.probability(&features);
        assert!(after_worked > before);
        assert_eq!(scorer.examples(), (7, 6, 7));

        scorer.learn_from_verdict(&used, Some(Outcome::Worked), Some(Outcome::DidNotWork));
        assert!(scorer.probability(&features) < before);
        assert_eq!(
            scorer.examples(),
            (6, 7, 7),
            "the uncited one is not counted twice"
        );

        scorer.learn_from_verdict(&used, Some(Outcome::DidNotWork), None);
        assert_eq!(scorer.examples(), (6, 6, 6));
        // Taking back is an opposite step, so only approximately where it was
        // (measured: 0.42 → 0.52 with the verdict → 0.45 without it).
        assert!((scorer.probability(&features) - before).abs() < 0.05);
    }

    #[test]
    fn it_round_trips_through_storage_and_refuses_other_feature_sets() {
        let scorer = trained(8);
        let stored = serde_json::to_string(&scorer).unwrap();
        let restored: LearnedScorer = serde_json::from_str(&stored).unwrap();
        assert_eq!(restored, scorer);
        let features = with_record(0.4, 0.1);
        assert_eq!(restored.usefulness(&features), scorer.usefulness(&features));

        let mut value: serde_json::Value = serde_json::from_str(&stored).unwrap();
        value["weights"] = serde_json::json!(vec![0.0; 8]);
        assert!(serde_json::from_value::<LearnedScorer>(value).is_err());
    }
}
