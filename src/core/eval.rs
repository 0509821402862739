//! Quality measures (for benchmarks, tests and the evaluation page), and the
//! evaluation page's sets, runs and their summaries.

use std::collections::HashMap;
use std::hash::Hash;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::core::memory::{MemoryId, Millis};

/// nDCG@k with linear gains: how close `ranked` is to the ideal ordering of the
/// graded `relevant` items (grade > 0). 0 when nothing is relevant.
pub fn ndcg_at<T: Eq + Hash>(ranked: &[T], relevant: &HashMap<T, f64>, k: usize) -> f64 {
    let discount = |position: usize| 1.0 / (position as f64 + 2.0).log2();
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(position, item)| relevant.get(item).copied().unwrap_or(0.0) * discount(position))
        .sum();
    let mut ideal: Vec<f64> = relevant
        .values()
        .copied()
        .filter(|grade| *grade > 0.0)
        .collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let ideal_dcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(position, grade)| grade * discount(position))
        .sum();
    if ideal_dcg == 0.0 {
        0.0
    } else {
        dcg / ideal_dcg
    }
}

/// The share of `expected` found among the first `k` of `ranked` (1 when nothing
/// is expected).
pub fn recall_at<T: Eq>(ranked: &[T], expected: &[T], k: usize) -> f64 {
    if expected.is_empty() {
        return 1.0;
    }
    let found = expected
        .iter()
        .filter(|item| ranked.iter().take(k).any(|ranked| ranked == *item))
        .count();
    found as f64 / expected.len() as f64
}

/// The most cases one evaluation set may hold: every case is up to three calls
/// to the user's provider.
pub const MAX_EVAL_CASES: usize = 500;

/// One line of an evaluation set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalCase {
    pub question: String,
    /// What a right answer says (scored by [`answer_contains`] and [`answer_f1`]).
    #[serde(default, alias = "answer", skip_serializing_if = "Option::is_none")]
    pub expected_answer: Option<String>,
    /// The memories that should be retrieved for the question (scored by recall@K).
    #[serde(default, alias = "memory_ids", skip_serializing_if = "Vec::is_empty")]
    pub expected_memory_ids: Vec<MemoryId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EvalSetError {
    #[error("The evaluation set is empty: write one JSON object per line, e.g. {{\"question\": \"…\", \"expected_answer\": \"…\"}}.")]
    Empty,
    #[error("Line {line} is not a JSON object with a \"question\": {reason}")]
    NotACase { line: usize, reason: String },
    #[error("Line {line} has an empty question.")]
    EmptyQuestion { line: usize },
    #[error("Line {line} has neither an \"expected_answer\" nor \"expected_memory_ids\": there would be nothing to score.")]
    NothingToScore { line: usize },
    #[error("The set has {count} cases; at most {MAX_EVAL_CASES} can run at once (each one calls your provider up to three times).")]
    TooMany { count: usize },
}

/// Reads an evaluation set: JSON Lines, one [`EvalCase`] per line, blank lines
/// ignored. The first bad line is reported by number; nothing is half-read.
pub fn parse_eval_set(text: &str) -> Result<Vec<EvalCase>, EvalSetError> {
    let mut cases = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() {
            continue;
        }
        let mut case: EvalCase =
            serde_json::from_str(line).map_err(|error| EvalSetError::NotACase {
                line: line_number,
                reason: error.to_string(),
            })?;
        case.question = case.question.trim().to_owned();
        if case.question.is_empty() {
            return Err(EvalSetError::EmptyQuestion { line: line_number });
        }
        case.expected_answer = case
            .expected_answer
            .map(|answer| answer.trim().to_owned())
            .filter(|answer| !answer.is_empty());
        if case.expected_answer.is_none() && case.expected_memory_ids.is_empty() {
            return Err(EvalSetError::NothingToScore { line: line_number });
        }
        cases.push(case);
    }
    match cases.len() {
        0 => Err(EvalSetError::Empty),
        count if count > MAX_EVAL_CASES => Err(EvalSetError::TooMany { count }),
        _ => Ok(cases),
    }
}

/// The words of `text` as answers are compared: lower case, without punctuation
/// or the articles "a", "an", "the" (the usual reading-comprehension convention).
fn answer_words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty() && !matches!(*word, "a" | "an" | "the"))
        .map(str::to_owned)
        .collect()
}

/// Whether `answer` says `expected` word for word (ignoring case, punctuation
/// and articles) somewhere in it: fair to a chatty model that is right.
pub fn answer_contains(answer: &str, expected: &str) -> bool {
    let expected = answer_words(expected);
    if expected.is_empty() {
        return false;
    }
    answer_words(answer)
        .windows(expected.len())
        .any(|window| window == expected.as_slice())
}

/// Word-overlap F1 between `answer` and `expected` (0 to 1).
pub fn answer_f1(answer: &str, expected: &str) -> f64 {
    let answer = answer_words(answer);
    let expected = answer_words(expected);
    if answer.is_empty() || expected.is_empty() {
        return 0.0;
    }
    let mut remaining: HashMap<&str, usize> = HashMap::new();
    for word in &expected {
        *remaining.entry(word).or_default() += 1;
    }
    let mut common = 0usize;
    for word in &answer {
        if let Some(count) = remaining.get_mut(word.as_str()) {
            if *count > 0 {
                *count -= 1;
                common += 1;
            }
        }
    }
    if common == 0 {
        return 0.0;
    }
    let precision = common as f64 / answer.len() as f64;
    let recall = common as f64 / expected.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// How the questions of an evaluation are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalMode {
    /// The model alone: no memory in the prompt.
    MemoryOff,
    /// Memories from plain hybrid retrieval.
    MemoryOn,
    /// Memories reranked by the learned scorer.
    LearnedScorer,
}

impl EvalMode {
    pub const ALL: [EvalMode; 3] = [
        EvalMode::MemoryOff,
        EvalMode::MemoryOn,
        EvalMode::LearnedScorer,
    ];

    pub fn label(self) -> &'static str {
        match self {
            EvalMode::MemoryOff => "Memory off",
            EvalMode::MemoryOn => "Memory on",
            EvalMode::LearnedScorer => "Memory on + learned scorer",
        }
    }

    pub fn uses_memory(self) -> bool {
        self != EvalMode::MemoryOff
    }
}

/// What happened to one case in one mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    /// The case's position in the set.
    pub case: usize,
    pub mode: EvalMode,
    /// The memories put into the prompt (or retrieved, when answers were not
    /// asked for), best first.
    #[serde(default)]
    pub retrieved: Vec<MemoryId>,
    /// The provider's answer (`None`: retrieval only, or the call failed).
    #[serde(default)]
    pub answer: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    pub elapsed_ms: f64,
}

/// A saved evaluation: the set, the settings it ran with, and every result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRun {
    pub id: String,
    /// The set's file name (or "pasted set").
    pub name: String,
    pub started_at: Millis,
    /// Which cut-off recall is measured at: the memories that fit the prompt.
    pub k: usize,
    /// Whether the provider was asked (otherwise only retrieval was measured).
    pub answers: bool,
    /// "Provider · model" that answered, when answers were asked for.
    #[serde(default)]
    pub model: Option<String>,
    /// The learned scorer had learned enough to rerank (if not, its mode
    /// retrieves like plain hybrid ranking and the page says so).
    pub scorer_ready: bool,
    pub modes: Vec<EvalMode>,
    pub cases: Vec<EvalCase>,
    pub results: Vec<CaseResult>,
    /// The user stopped the run before every case had run.
    #[serde(default)]
    pub stopped: bool,
}

/// One mode's numbers over a run. A measure is `None` when no case could be
/// scored by it (no expected answers, or no answers asked for).
#[derive(Debug, Clone, PartialEq)]
pub struct ModeSummary {
    pub mode: EvalMode,
    /// Cases that ran in this mode (with or without an error).
    pub ran: usize,
    pub errors: usize,
    /// Share of answers containing the expected answer.
    pub contains: Option<f64>,
    pub mean_f1: Option<f64>,
    /// Mean recall@K of the expected memories.
    pub recall: Option<f64>,
    pub median_ms: Option<f64>,
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    })
}

impl EvalRun {
    /// The numbers of each of the run's modes, in the run's order.
    pub fn summaries(&self) -> Vec<ModeSummary> {
        self.modes
            .iter()
            .map(|&mode| {
                let results: Vec<&CaseResult> =
                    self.results.iter().filter(|r| r.mode == mode).collect();
                let mut contains = Vec::new();
                let mut f1 = Vec::new();
                let mut recall = Vec::new();
                for result in results.iter().filter(|r| r.error.is_none()) {
                    let Some(case) = self.cases.get(result.case) else {
                        continue;
                    };
                    if let (Some(answer), Some(expected)) = (&result.answer, &case.expected_answer)
                    {
                        contains.push(f64::from(u8::from(answer_contains(answer, expected))));
                        f1.push(answer_f1(answer, expected));
                    }
                    if mode.uses_memory() && !case.expected_memory_ids.is_empty() {
                        recall.push(recall_at(
                            &result.retrieved,
                            &case.expected_memory_ids,
                            self.k,
                        ));
                    }
                }
                ModeSummary {
                    mode,
                    ran: results.len(),
                    errors: results.iter().filter(|r| r.error.is_some()).count(),
                    contains: mean(&contains),
                    mean_f1: mean(&f1),
                    recall: mean(&recall),
                    median_ms: median(results.iter().map(|r| r.elapsed_ms).collect()),
                }
            })
            .collect()
    }
}

/// "Would the corrected case be retrieved for its question now?", over every
/// correction in the memory.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CorrectionCheck {
    pub k: usize,
    pub checked: usize,
    /// The corrections that were not among the first `k` for their question:
    /// (memory, question, its rank if it was retrieved further down).
    pub misses: Vec<(MemoryId, String, Option<usize>)>,
}

impl CorrectionCheck {
    /// Adds one correction: `retrieved` is what its question retrieves, best first.
    pub fn record(&mut self, correction: &MemoryId, question: &str, retrieved: &[MemoryId]) {
        self.checked += 1;
        let rank = retrieved.iter().position(|id| id == correction);
        if rank.is_none_or(|rank| rank >= self.k) {
            self.misses
                .push((correction.clone(), question.to_owned(), rank.map(|r| r + 1)));
        }
    }

    /// recall@K over the corrections checked (`None` when there are none).
    pub fn recall(&self) -> Option<f64> {
        (self.checked > 0).then(|| (self.checked - self.misses.len()) as f64 / self.checked as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndcg_is_one_for_the_ideal_order_and_less_for_others() {
        let relevant: HashMap<&str, f64> = [("a", 2.0), ("b", 1.0)].into();
        assert!((ndcg_at(&["a", "b", "x"], &relevant, 10) - 1.0).abs() < 1e-12);
        // b first, then a: (1/1 + 2/log2(3)) / (2/1 + 1/log2(3))
        let expected = (1.0 + 2.0 / 3f64.log2()) / (2.0 + 1.0 / 3f64.log2());
        assert!((ndcg_at(&["b", "a"], &relevant, 10) - expected).abs() < 1e-12);
        assert_eq!(ndcg_at(&["x", "y"], &relevant, 10), 0.0);
        assert_eq!(
            ndcg_at(&["x", "a"], &relevant, 1),
            0.0,
            "a is past the cut-off"
        );
        assert_eq!(ndcg_at(&["a"], &HashMap::new(), 10), 0.0);
    }

    #[test]
    fn recall_counts_expected_items_within_k() {
        assert_eq!(recall_at(&["a", "b", "c"], &["c", "d"], 3), 0.5);
        assert_eq!(recall_at(&["a", "b", "c"], &["c"], 2), 0.0);
        assert_eq!(recall_at::<&str>(&[], &[], 2), 1.0);
    }

    #[test]
    fn an_evaluation_set_reads_good_lines_and_names_the_first_bad_one() {
        let set = "{\"question\": \" Capital of France? \", \"answer\": \"Paris\"}\n\n\
                   {\"question\": \"Where is my key?\", \"memory_ids\": [\"m1\"]}\n";
        let cases = parse_eval_set(set).unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].question, "Capital of France?");
        assert_eq!(cases[0].expected_answer.as_deref(), Some("Paris"));
        assert_eq!(cases[1].expected_memory_ids, vec![MemoryId("m1".into())]);

        assert_eq!(parse_eval_set(" \n"), Err(EvalSetError::Empty));
        assert!(matches!(
            parse_eval_set("{\"question\": \"a\", \"answer\": \"b\"}\nnot json"),
            Err(EvalSetError::NotACase { line: 2, .. })
        ));
        assert_eq!(
            parse_eval_set("{\"question\": \"  \", \"answer\": \"b\"}"),
            Err(EvalSetError::EmptyQuestion { line: 1 })
        );
        assert_eq!(
            parse_eval_set("{\"question\": \"a\", \"expected_answer\": \" \"}"),
            Err(EvalSetError::NothingToScore { line: 1 })
        );
        let too_many = "{\"question\": \"q\", \"answer\": \"a\"}\n".repeat(MAX_EVAL_CASES + 1);
        assert_eq!(
            parse_eval_set(&too_many),
            Err(EvalSetError::TooMany {
                count: MAX_EVAL_CASES + 1
            })
        );
    }

    #[test]
    fn answers_are_compared_by_words_not_by_spelling() {
        assert!(answer_contains("The capital is Paris, of course.", "paris"));
        assert!(answer_contains("It was in the year 1889!", "year 1889"));
        assert!(!answer_contains("Parisian food", "Paris"));
        assert!(!answer_contains("anything", "the"));
        assert_eq!(answer_f1("Paris", "the Paris"), 1.0);
        // 1 common word: precision 1/3, recall 1/1.
        assert!((answer_f1("it is Paris", "Paris") - 0.5).abs() < 1e-12);
        assert_eq!(answer_f1("Berlin", "Paris"), 0.0);
        assert_eq!(answer_f1("", "Paris"), 0.0);
    }

    fn result(case: usize, mode: EvalMode, answer: &str, retrieved: &[&str]) -> CaseResult {
        CaseResult {
            case,
            mode,
            retrieved: retrieved.iter().map(|id| MemoryId((*id).into())).collect(),
            answer: Some(answer.into()),
            error: None,
            elapsed_ms: 100.0 * (case + 1) as f64,
        }
    }

    #[test]
    fn a_run_sums_up_each_mode_separately() {
        let cases = parse_eval_set(
            "{\"question\": \"q0\", \"answer\": \"Paris\", \"memory_ids\": [\"m0\"]}\n\
             {\"question\": \"q1\", \"answer\": \"blue\"}",
        )
        .unwrap();
        let mut failed = result(1, EvalMode::MemoryOn, "", &[]);
        failed.answer = None;
        failed.error = Some("refused".into());
        let run = EvalRun {
            id: "e1".into(),
            name: "set.jsonl".into(),
            started_at: 0,
            k: 2,
            answers: true,
            model: None,
            scorer_ready: false,
            modes: vec![EvalMode::MemoryOff, EvalMode::MemoryOn],
            cases,
            results: vec![
                result(0, EvalMode::MemoryOff, "Lyon", &[]),
                result(1, EvalMode::MemoryOff, "It is blue", &[]),
                result(0, EvalMode::MemoryOn, "Paris", &["x", "m0", "y"]),
                failed,
            ],
            stopped: false,
        };
        let summaries = run.summaries();
        assert_eq!(summaries.len(), 2);
        let off = &summaries[0];
        assert_eq!((off.mode, off.ran, off.errors), (EvalMode::MemoryOff, 2, 0));
        assert_eq!(off.contains, Some(0.5));
        assert_eq!(off.recall, None, "memory off retrieves nothing to score");
        assert_eq!(off.median_ms, Some(150.0));
        let on = &summaries[1];
        assert_eq!((on.ran, on.errors), (2, 1));
        assert_eq!(on.contains, Some(1.0), "the failed case is not scored");
        assert_eq!(on.mean_f1, Some(1.0));
        assert_eq!(on.recall, Some(1.0), "m0 is second, within k = 2");
    }

    #[test]
    fn the_correction_check_counts_corrections_outside_the_first_k() {
        let ids = |ids: &[&str]| -> Vec<MemoryId> {
            ids.iter().map(|id| MemoryId((*id).into())).collect()
        };
        let mut check = CorrectionCheck {
            k: 2,
            ..CorrectionCheck::default()
        };
        assert_eq!(check.recall(), None);
        check.record(&MemoryId("c1".into()), "q1", &ids(&["c1", "x"]));
        check.record(&MemoryId("c2".into()), "q2", &ids(&["x", "y", "c2"]));
        check.record(&MemoryId("c3".into()), "q3", &ids(&["x"]));
        assert_eq!(check.checked, 3);
        assert!((check.recall().unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            check.misses,
            vec![
                (MemoryId("c2".into()), "q2".into(), Some(3)),
                (MemoryId("c3".into()), "q3".into(), None)
            ]
        );
    }
}
