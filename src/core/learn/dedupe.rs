//! Duplicate protection: before a new fact, preference, note or correction is
//! written, find out whether its pool already says the same thing, and if so
//! merge into the memory that is there instead of adding a second one.

use crate::core::bank::CaseBank;
use crate::core::index::IndexError;
use crate::core::memory::{ChangedBy, Kind, Memory, MemoryId, Millis, Revision};

use super::revise;

/// Cosine similarity (all-MiniLM-L6-v2) at or above which two texts that
/// mention the same numbers are taken to say the same thing.
///
/// Measured on STS-B test (tests/native/dedupe.rs; 1,379 human-scored pairs).
/// Cosine alone cannot both catch most paraphrases and avoid false merges with
/// this model: keeping merges of pairs scored below 4.0 under 1% takes 0.93,
/// which catches 36% of the pairs scored 5.0. Most high-cosine pairs below 4.0
/// differ in a number or date ("fell 86.56 points" / "fell 79.43 points"), so
/// the numbers must also match; then 0.92 merges 0.77% of the pairs below 4.0
/// (8 of 1,041) and catches 42% of the 5.0 pairs (and 20% of those scored
/// 4.0–4.8). Erring this way is deliberate: a missed duplicate costs a second
/// card the user can delete, a false merge silently changes a memory.
pub const DUPLICATE_COSINE: f32 = 0.92;

/// How many nearest memories are compared with a new one: a duplicate, if there
/// is one, is among the closest few.
const NEIGHBOURS: usize = 5;

/// Why a memory counts as a duplicate of the new text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DuplicateReason {
    /// The same words once case, spacing, accents and end punctuation are ignored.
    SameText,
    /// Different words, same meaning (and the same numbers): the cosine similarity.
    SameMeaning { cosine: f32 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Duplicate {
    pub existing: MemoryId,
    pub reason: DuplicateReason,
}

/// Only memories written as plain statements are merged: a case records one
/// particular exchange (asking the same question twice yields two cases with their
/// own answers and outcomes), and a document chunk belongs to its document.
pub fn is_mergeable(kind: Kind) -> bool {
    !matches!(kind, Kind::Case | Kind::DocumentChunk)
}

/// Whether two texts say the same thing, given the cosine similarity of their
/// vectors when both are embedded.
pub fn duplicate_reason(a: &str, b: &str, cosine: Option<f32>) -> Option<DuplicateReason> {
    if normalise(a) == normalise(b) {
        return Some(DuplicateReason::SameText);
    }
    let cosine = cosine?;
    (cosine >= DUPLICATE_COSINE && numbers(a) == numbers(b))
        .then_some(DuplicateReason::SameMeaning { cosine })
}

/// The distinct runs of digits in a text, sorted.
fn numbers(text: &str) -> Vec<&str> {
    let mut numbers: Vec<&str> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers
}

/// The memory in `pool` that `text` would duplicate, if any: first one with the
/// same text, then the closest one in meaning (when `vector`, the new text's
/// embedding, is given). Memories in the trash and those that are never merged
/// (see [`is_mergeable`]) are not considered.
pub fn find_duplicate(
    bank: &CaseBank,
    text: &str,
    vector: Option<&[f32]>,
    pool: &str,
) -> Result<Option<Duplicate>, IndexError> {
    let candidate = |memory: &Memory| {
        memory.pool == pool && memory.trashed_at.is_none() && is_mergeable(memory.kind)
    };
    let normalised = normalise(text);
    if let Some(same) = bank
        .memories()
        .filter(|memory| candidate(memory))
        .filter(|memory| normalise(&memory.text) == normalised)
        .min_by(|a, b| a.id.cmp(&b.id))
    {
        return Ok(Some(Duplicate {
            existing: same.id.clone(),
            reason: DuplicateReason::SameText,
        }));
    }
    let Some(vector) = vector else {
        return Ok(None);
    };
    let allow = |id: &MemoryId| bank.get(id).is_some_and(candidate);
    let hits = bank.vectors().search(vector, NEIGHBOURS, &allow)?;
    Ok(hits.into_iter().find_map(|hit| {
        let memory = bank.get(&hit.id)?;
        let reason = duplicate_reason(text, &memory.text, Some(hit.score))?;
        Some(Duplicate {
            existing: hit.id,
            reason,
        })
    }))
}

/// Merges a duplicate's text into the `existing` memory, which is kept: its id,
/// kind, pool, pin, use and citation counts stay. The new wording replaces the
/// old one only if it is longer once normalised: for two texts that mean the
/// same, the longer usually carries a detail the shorter lacks ("I use fish" /
/// "I use the fish shell on macOS"), while punctuation and spacing are no
/// detail. `None` when the existing text stays (nothing to write).
pub fn merge_duplicate(
    existing: &Memory,
    new_text: &str,
    changed_by: ChangedBy,
    now: Millis,
) -> Option<(Memory, Revision)> {
    let new_text = new_text.trim();
    let length = |text: &str| normalise(text).chars().count();
    (length(new_text) > length(&existing.text)).then(|| {
        revise(existing, changed_by, now, |memory| {
            memory.text = new_text.to_owned();
        })
    })
}

/// Text folded for comparison: lower case, accents and compatibility forms
/// (curly quotes, dashes, full-width letters, ligatures) reduced to plain ones,
/// whitespace collapsed, and punctuation at the end dropped.
///
/// Removing accents rather than composing them is what makes a decomposed "é"
/// (e + U+0301) and a precomposed one compare equal without Unicode tables.
pub fn normalise(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for lower in text.chars().flat_map(char::to_lowercase) {
        match fold_char(lower) {
            Folded::Drop => {}
            Folded::Char(c) => folded.push(c),
            Folded::Str(s) => folded.push_str(s),
        }
    }
    let collapsed = folded.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed
        .trim_end_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
        .to_owned()
}

enum Folded {
    Drop,
    Char(char),
    Str(&'static str),
}

/// One lower-case character reduced to its plain form.
fn fold_char(c: char) -> Folded {
    match c {
        // Combining diacritical marks: what a decomposed accent leaves behind.
        '\u{0300}'..='\u{036f}' => Folded::Drop,
        // Full-width ASCII (U+FF01..U+FF5E) is ASCII shifted by 0xFEE0.
        '\u{ff01}'..='\u{ff5e}' => {
            char::from_u32(u32::from(c) - 0xfee0).map_or(Folded::Char(c), Folded::Char)
        }
        '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{2032}' => Folded::Char('\''),
        '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{2033}' => Folded::Char('"'),
        '\u{2010}'..='\u{2015}' | '\u{2212}' => Folded::Char('-'),
        '\u{2026}' => Folded::Str("..."),
        'ß' => Folded::Str("ss"),
        'æ' => Folded::Str("ae"),
        'œ' => Folded::Str("oe"),
        '\u{fb00}' => Folded::Str("ff"),
        '\u{fb01}' => Folded::Str("fi"),
        '\u{fb02}' => Folded::Str("fl"),
        _ => Folded::Char(strip_accent(c)),
    }
}

/// The base letter of a precomposed lower-case Latin letter (Latin-1 Supplement
/// and Latin Extended-A); any other character is returned as it is.
fn strip_accent(c: char) -> char {
    match c {
        'à'..='å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => 'c',
        'ď' | 'đ' | 'ð' => 'd',
        'è'..='ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => 'e',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
        'ĥ' | 'ħ' => 'h',
        'ì'..='ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => 'i',
        'ĵ' => 'j',
        'ķ' => 'k',
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => 'l',
        'ñ' | 'ń' | 'ņ' | 'ň' => 'n',
        'ò'..='ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => 'o',
        'ŕ' | 'ŗ' | 'ř' => 'r',
        'ś' | 'ŝ' | 'ş' | 'š' => 's',
        'ţ' | 'ť' | 'ŧ' => 't',
        'ù'..='ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => 'u',
        'ŵ' => 'w',
        'ý' | 'ÿ' | 'ŷ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::index::IndexConfig;
    use crate::core::memory::Source;

    #[test]
    fn normalising_ignores_case_spacing_accents_and_end_punctuation() {
        assert_eq!(normalise("  I use   FISH shell!! "), "i use fish shell");
        assert_eq!(normalise("Café in Zürich."), "cafe in zurich");
        // Decomposed accents (e + U+0301) equal precomposed ones.
        assert_eq!(
            normalise("Cafe\u{301} in Zu\u{308}rich"),
            normalise("Café in Zürich")
        );
        assert_eq!(
            normalise("It\u{2019}s \u{201c}ok\u{201d}\u{2026}"),
            "it's \"ok"
        );
        assert_eq!(normalise("\u{ff37}\u{ff49}\u{ff26}\u{ff49}"), "wifi");
        assert_eq!(normalise("Straße\u{a0}\u{2014} Œuvre"), "strasse - oeuvre");
        assert_eq!(normalise("Łódź, Dvořák"), "lodz, dvorak");
        assert_eq!(normalise("What?"), "what", "only the end is trimmed");
        assert_eq!(normalise("a.b.c"), "a.b.c");
    }

    #[test]
    fn same_text_or_close_meaning_with_the_same_numbers_is_a_duplicate() {
        assert_eq!(
            duplicate_reason("I use fish shell", "i use FISH shell.", None),
            Some(DuplicateReason::SameText)
        );
        assert_eq!(
            duplicate_reason("My manager is Ana", "Ana is my manager", Some(0.95)),
            Some(DuplicateReason::SameMeaning { cosine: 0.95 })
        );
        assert_eq!(
            duplicate_reason("My manager is Ana", "Ana is my manager", Some(0.91)),
            None
        );
        assert_eq!(
            duplicate_reason("My manager is Ana", "Ana is my manager", None),
            None
        );
        assert_eq!(
            duplicate_reason("Standup is at 9:30", "Standup is at 10:30", Some(0.98)),
            None,
            "a different number is a different memory"
        );
        assert_eq!(
            duplicate_reason("Standup at 9:30", "The standup is at 9:30", Some(0.97)),
            Some(DuplicateReason::SameMeaning { cosine: 0.97 })
        );
    }

    fn memory(id: &str, kind: Kind, text: &str, pool: &str) -> Memory {
        let mut memory = Memory::new(MemoryId(id.into()), kind, text, Source::Manual, 1);
        memory.pool = pool.into();
        memory
    }

    fn bank() -> CaseBank {
        let mut bank = CaseBank::new("test", 2, IndexConfig::default());
        let mut trashed = memory("trashed", Kind::Fact, "I live in Paris", "home");
        trashed.trashed_at = Some(2);
        let entries = [
            (
                memory("shell", Kind::Preference, "I use fish shell", "home"),
                [1.0, 0.0],
            ),
            (
                memory("work-shell", Kind::Fact, "I use zsh", "work"),
                [0.0, 1.0],
            ),
            (
                memory("case", Kind::Case, "Which shell do I use?", "home"),
                [0.6, 0.8],
            ),
            (trashed, [0.8, 0.6]),
        ];
        for (memory, vector) in entries {
            bank.upsert(memory, Some((1, &vector))).unwrap();
        }
        bank
    }

    #[test]
    fn duplicates_are_looked_for_in_the_same_pool_among_live_statements() {
        let bank = bank();
        let found = |text: &str, vector: Option<&[f32]>, pool: &str| {
            find_duplicate(&bank, text, vector, pool).unwrap()
        };
        assert_eq!(
            found("I use Fish shell.", None, "home"),
            Some(Duplicate {
                existing: MemoryId("shell".into()),
                reason: DuplicateReason::SameText
            })
        );
        assert_eq!(found("I use fish shell", None, "work"), None, "other pool");
        assert_eq!(found("I live in Paris", None, "home"), None, "in the trash");
        assert_eq!(found("Which shell do I use?", None, "home"), None, "a case");

        let close = [0.999, 0.0447];
        let duplicate = found("My shell is fish", Some(&close), "home").unwrap();
        assert_eq!(duplicate.existing, MemoryId("shell".into()));
        assert!(matches!(
            duplicate.reason,
            DuplicateReason::SameMeaning { cosine } if cosine > 0.99
        ));
        assert_eq!(found("My shell is fish", Some(&[0.0, 1.0]), "home"), None);
        assert!(find_duplicate(&bank, "x", Some(&[1.0]), "home").is_err());
    }

    #[test]
    fn merging_keeps_the_existing_memory_and_the_more_detailed_text() {
        let mut existing = memory("shell", Kind::Preference, "I use fish", "home");
        existing.pinned = true;
        existing.use_count = 7;
        existing.cited_worked = 2;
        let (merged, revision) = merge_duplicate(
            &existing,
            " I use the fish shell on macOS ",
            ChangedBy::User,
            50,
        )
        .unwrap();
        assert_eq!(merged.text, "I use the fish shell on macOS");
        assert_eq!(merged.id, existing.id);
        assert_eq!(merged.kind, Kind::Preference);
        assert!(merged.pinned);
        assert_eq!((merged.use_count, merged.cited_worked), (7, 2));
        assert_eq!((merged.revision, merged.updated_at), (2, 50));
        assert_eq!(revision.before, existing);
        assert_eq!(revision.changed_by, ChangedBy::User);

        assert_eq!(
            merge_duplicate(&existing, "I use fish.", ChangedBy::Extraction, 60),
            None,
            "a shorter wording changes nothing"
        );
    }
}
