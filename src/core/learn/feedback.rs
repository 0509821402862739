//! Cases from feedback: an exchange the user rated becomes a case (question,
//! answer, outcome, correction), and the verdict moves the usage statistics of
//! the memories the answer cited.

use thiserror::Error;

use crate::core::memory::{
    CaseFields, ChangedBy, Kind, Memory, MemoryId, Millis, Outcome, Revision, Source,
};

use super::revise;

/// One question and the answer it got, as the conversation holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub conversation_id: String,
    /// The answer's message id: the case links back to it.
    pub message_id: String,
    pub question: String,
    pub answer: String,
    /// The pool of the assistant that answered: the case is written there.
    pub pool: String,
}

/// What the user said about an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub outcome: Outcome,
    /// The answer it should have been. `None` keeps a correction given earlier:
    /// changing "did not work" to "worked" does not throw the user's words away.
    pub correction: Option<String>,
}

impl Feedback {
    pub fn worked() -> Feedback {
        Feedback {
            outcome: Outcome::Worked,
            correction: None,
        }
    }

    pub fn did_not_work() -> Feedback {
        Feedback {
            outcome: Outcome::DidNotWork,
            correction: None,
        }
    }

    /// "Correct this": a correction means the answer did not work, unless the
    /// user says otherwise by changing `outcome`.
    pub fn corrected(correction: impl Into<String>) -> Feedback {
        Feedback {
            outcome: Outcome::DidNotWork,
            correction: Some(correction.into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FeedbackError {
    #[error("There is no question to learn from: the question is empty.")]
    EmptyQuestion,
    #[error("The correction is empty: write what the answer should have been.")]
    EmptyCorrection,
    #[error("Memory {0} is not a case, so it has no verdict to change.")]
    NotACase(MemoryId),
}

/// How much of the answer (or correction) a case's text shows after the
/// question. The text is what gets embedded; a short excerpt keeps the question
/// dominant in the vector (new questions are matched against it) while the card
/// still reads as a case. The full answer stays in [`CaseFields`] and is searched
/// by keywords.
const EXCERPT_CHARS: usize = 160;

/// The case an exchange becomes once the user rates it.
pub fn case_from_feedback(
    exchange: &Exchange,
    feedback: &Feedback,
    id: MemoryId,
    now: Millis,
) -> Result<Memory, FeedbackError> {
    let question = exchange.question.trim();
    if question.is_empty() {
        return Err(FeedbackError::EmptyQuestion);
    }
    let fields = CaseFields {
        question: question.to_owned(),
        answer: exchange.answer.trim().to_owned(),
        outcome: feedback.outcome,
        correction: checked_correction(feedback)?,
    };
    let mut case = Memory::new(
        id,
        Kind::Case,
        case_text(&fields),
        Source::Conversation {
            conversation_id: exchange.conversation_id.clone(),
            message_id: Some(exchange.message_id.clone()),
        },
        now,
    );
    case.pool = exchange.pool.clone();
    case.case = Some(fields);
    Ok(case)
}

/// The same case with a new verdict (and correction, if one is given), as a new
/// revision; `None` when the feedback changes nothing.
pub fn change_verdict(
    case: &Memory,
    feedback: &Feedback,
    now: Millis,
) -> Result<Option<(Memory, Revision)>, FeedbackError> {
    let Some(fields) = &case.case else {
        return Err(FeedbackError::NotACase(case.id.clone()));
    };
    let correction = checked_correction(feedback)?.or_else(|| fields.correction.clone());
    if fields.outcome == feedback.outcome && fields.correction == correction {
        return Ok(None);
    }
    let fields = CaseFields {
        outcome: feedback.outcome,
        correction,
        ..fields.clone()
    };
    Ok(Some(revise(case, ChangedBy::Feedback, now, |memory| {
        memory.text = case_text(&fields);
        memory.case = Some(fields);
    })))
}

fn checked_correction(feedback: &Feedback) -> Result<Option<String>, FeedbackError> {
    match feedback.correction.as_deref().map(str::trim) {
        None => Ok(None),
        Some("") => Err(FeedbackError::EmptyCorrection),
        Some(correction) => Ok(Some(correction.to_owned())),
    }
}

/// The question, then the start of the correction (or of the answer when there
/// is none). The outcome is left out on purpose: changing the verdict then
/// leaves the text, and so the vector, as it was.
pub fn case_text(fields: &CaseFields) -> String {
    let (label, body) = match &fields.correction {
        Some(correction) => ("Correct answer", correction.as_str()),
        None => ("Answer", fields.answer.as_str()),
    };
    if body.is_empty() {
        return fields.question.clone();
    }
    format!("{}\n{label}: {}", fields.question, excerpt(body))
}

/// The first line of `text`, cut at a word boundary to at most [`EXCERPT_CHARS`].
fn excerpt(text: &str) -> String {
    let first_line = text.lines().map(str::trim).find(|line| !line.is_empty());
    let line = first_line.unwrap_or("");
    let more_lines = text.trim().len() > line.len();
    if line.chars().count() <= EXCERPT_CHARS {
        return if more_lines {
            format!("{line} …")
        } else {
            line.to_owned()
        };
    }
    let cut: String = line.chars().take(EXCERPT_CHARS).collect();
    let at_word = cut
        .rfind(char::is_whitespace)
        .map_or(cut.as_str(), |end| &cut[..end]);
    format!("{} …", at_word.trim_end())
}

/// The cited memories with their `cited_worked` / `cited_did_not_work` counts
/// moved from the `previous` verdict on an answer to the `current` one: the old
/// verdict's count is taken back, so changing one's mind never counts twice.
/// Returns only the memories that changed (none if the verdict is the same).
///
/// These are usage statistics, not edits: no revision, and `updated_at` (which
/// drives recency) stays.
pub fn recount_citations(
    cited: &[Memory],
    previous: Option<Outcome>,
    current: Option<Outcome>,
) -> Vec<Memory> {
    let counted = |verdict: Option<Outcome>| verdict.filter(|&v| v != Outcome::Unrated);
    if counted(previous) == counted(current) {
        return Vec::new();
    }
    cited
        .iter()
        .map(|memory| {
            let mut memory = memory.clone();
            if let Some(count) = citation_count(&mut memory, previous) {
                *count = count.saturating_sub(1);
            }
            if let Some(count) = citation_count(&mut memory, current) {
                *count = count.saturating_add(1);
            }
            memory
        })
        .collect()
}

fn citation_count(memory: &mut Memory, verdict: Option<Outcome>) -> Option<&mut u32> {
    match verdict? {
        Outcome::Worked => Some(&mut memory.cited_worked),
        Outcome::DidNotWork => Some(&mut memory.cited_did_not_work),
        Outcome::Unrated => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange() -> Exchange {
        Exchange {
            conversation_id: "c1".into(),
            message_id: "msg-4".into(),
            question: "  How do I restart the VPN? ".into(),
            answer: "Run `vpn restart`.".into(),
            pool: "work".into(),
        }
    }

    fn case(feedback: &Feedback) -> Memory {
        case_from_feedback(&exchange(), feedback, MemoryId::new(1_000, 7), 1_000).unwrap()
    }

    #[test]
    fn a_rated_exchange_becomes_a_case_in_the_assistants_pool() {
        let case = case(&Feedback::worked());
        assert_eq!(case.kind, Kind::Case);
        assert_eq!(case.pool, "work");
        assert_eq!(case.revision, 1);
        assert_eq!(
            case.text,
            "How do I restart the VPN?\nAnswer: Run `vpn restart`."
        );
        assert_eq!(
            case.case,
            Some(CaseFields {
                question: "How do I restart the VPN?".into(),
                answer: "Run `vpn restart`.".into(),
                outcome: Outcome::Worked,
                correction: None,
            })
        );
        assert_eq!(
            case.source,
            Source::Conversation {
                conversation_id: "c1".into(),
                message_id: Some("msg-4".into()),
            }
        );
    }

    #[test]
    fn a_correction_did_not_work_unless_the_user_says_otherwise() {
        let corrected = case(&Feedback::corrected(" Use `wg-quick up wg0`. "));
        let fields = corrected.case.as_ref().unwrap();
        assert_eq!(fields.outcome, Outcome::DidNotWork);
        assert_eq!(fields.correction.as_deref(), Some("Use `wg-quick up wg0`."));
        assert_eq!(
            corrected.text,
            "How do I restart the VPN?\nCorrect answer: Use `wg-quick up wg0`."
        );

        let better_way = Feedback {
            outcome: Outcome::Worked,
            ..Feedback::corrected("Shorter: `wg-quick up wg0`.")
        };
        assert_eq!(case(&better_way).outcome(), Some(Outcome::Worked));
    }

    #[test]
    fn empty_questions_and_corrections_are_refused_in_plain_words() {
        let empty = Exchange {
            question: " \n".into(),
            ..exchange()
        };
        let error = case_from_feedback(&empty, &Feedback::worked(), MemoryId::new(1, 1), 1);
        assert_eq!(error, Err(FeedbackError::EmptyQuestion));
        let error = case_from_feedback(
            &exchange(),
            &Feedback::corrected("   "),
            MemoryId::new(1, 1),
            1,
        );
        assert_eq!(error, Err(FeedbackError::EmptyCorrection));
        assert!(FeedbackError::EmptyCorrection
            .to_string()
            .contains("what the answer should have been"));
    }

    #[test]
    fn a_long_answer_shows_only_its_beginning_in_the_text() {
        let long = Exchange {
            answer: format!("{}\nSecond line.", "word ".repeat(100)),
            ..exchange()
        };
        let case = case_from_feedback(&long, &Feedback::worked(), MemoryId::new(1, 1), 1).unwrap();
        let shown = case.text.lines().nth(1).unwrap();
        assert!(shown.ends_with("word …"), "{shown}");
        assert!(shown.chars().count() <= "Answer: ".len() + EXCERPT_CHARS + 2);
        assert!(case.case.unwrap().answer.ends_with("Second line."));
    }

    #[test]
    fn changing_the_verdict_is_a_new_revision_of_the_same_case() {
        let original = case(&Feedback::worked());
        let (changed, revision) = change_verdict(&original, &Feedback::did_not_work(), 5_000)
            .unwrap()
            .unwrap();
        assert_eq!(changed.id, original.id);
        assert_eq!(changed.revision, 2);
        assert_eq!(changed.updated_at, 5_000);
        assert_eq!(changed.created_at, original.created_at);
        assert_eq!(changed.outcome(), Some(Outcome::DidNotWork));
        assert_eq!(
            changed.text, original.text,
            "same text: no new embedding needed"
        );
        assert_eq!(revision.before, original);
        assert_eq!(revision.changed_by, ChangedBy::Feedback);
        assert_eq!(revision.changed_at, 5_000);

        assert_eq!(
            change_verdict(&changed, &Feedback::did_not_work(), 6_000),
            Ok(None),
            "the same verdict again changes nothing"
        );
    }

    #[test]
    fn a_correction_survives_a_later_change_of_verdict() {
        let corrected = case(&Feedback::corrected("Use `wg-quick up wg0`."));
        let (worked, _) = change_verdict(&corrected, &Feedback::worked(), 2_000)
            .unwrap()
            .unwrap();
        let fields = worked.case.unwrap();
        assert_eq!(fields.outcome, Outcome::Worked);
        assert_eq!(fields.correction.as_deref(), Some("Use `wg-quick up wg0`."));

        let (recorrected, _) = change_verdict(&corrected, &Feedback::corrected("Reboot."), 2_000)
            .unwrap()
            .unwrap();
        assert!(recorrected.text.ends_with("Correct answer: Reboot."));
    }

    #[test]
    fn only_cases_have_verdicts() {
        let fact = Memory::new(MemoryId::new(1, 2), Kind::Fact, "x", Source::Manual, 1);
        assert_eq!(
            change_verdict(&fact, &Feedback::worked(), 2),
            Err(FeedbackError::NotACase(fact.id.clone()))
        );
    }

    fn cited() -> Vec<Memory> {
        ["a", "b"]
            .iter()
            .map(|name| {
                Memory::new(
                    MemoryId((*name).into()),
                    Kind::Fact,
                    *name,
                    Source::Manual,
                    1,
                )
            })
            .collect()
    }

    fn counts(memories: &[Memory]) -> Vec<(u32, u32)> {
        memories
            .iter()
            .map(|m| (m.cited_worked, m.cited_did_not_work))
            .collect()
    }

    #[test]
    fn a_verdict_counts_once_for_each_cited_memory_and_a_change_moves_it() {
        let rated = recount_citations(&cited(), None, Some(Outcome::Worked));
        assert_eq!(counts(&rated), [(1, 0), (1, 0)]);
        assert!(rated.iter().all(|m| m.revision == 1 && m.updated_at == 1));

        let changed = recount_citations(&rated, Some(Outcome::Worked), Some(Outcome::DidNotWork));
        assert_eq!(counts(&changed), [(0, 1), (0, 1)]);
        let withdrawn = recount_citations(&changed, Some(Outcome::DidNotWork), None);
        assert_eq!(counts(&withdrawn), [(0, 0), (0, 0)]);

        assert!(recount_citations(&rated, Some(Outcome::Worked), Some(Outcome::Worked)).is_empty());
        assert!(recount_citations(&cited(), None, Some(Outcome::Unrated)).is_empty());
        let never_counted = recount_citations(&cited(), Some(Outcome::Worked), None);
        assert_eq!(counts(&never_counted), [(0, 0), (0, 0)], "never below zero");
    }
}
