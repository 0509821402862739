//! Word-level differences between two versions of a memory, for its history.
//!
//! The text is cut into words, runs of whitespace and single other characters,
//! and the shortest edit script between the two token lists is found with
//! Myers' algorithm. The result reads like a person would mark up the change:
//! a run of changed words comes out as one removed span followed by one added
//! span, even when single spaces between them happened to match.
//!
//! Joining the `Same` and `Removed` spans gives back the old text exactly, and
//! joining `Same` and `Added` the new one.

use serde::{Deserialize, Serialize};

/// Beyond this many token edits the two texts are treated as rewritten (the
/// middle they do not share is shown removed, then added): Myers' memory grows
/// with the square of the edit count (here at most ~4 MB), and a diff that
/// large is unreadable anyway.
pub const MAX_EDITS: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiffOp {
    Same,
    Removed,
    Added,
}

/// A stretch of text that is in both versions, only the old or only the new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffSpan {
    pub op: DiffOp,
    pub text: String,
}

/// How much changed, in words (whitespace and punctuation do not count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiffStats {
    pub removed_words: usize,
    pub added_words: usize,
}

/// The spans that turn `before` into `after`, in reading order.
pub fn word_diff(before: &str, after: &str) -> Vec<DiffSpan> {
    let old = tokens(before);
    let new = tokens(after);
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let old_middle = &old[prefix..old.len() - suffix];
    let new_middle = &new[prefix..new.len() - suffix];

    let mut ops: Vec<(DiffOp, &str)> = Vec::with_capacity(old.len() + new.len());
    ops.extend(old[..prefix].iter().map(|token| (DiffOp::Same, *token)));
    match edit_script(old_middle, new_middle) {
        Some(script) => ops.extend(script),
        None => {
            ops.extend(old_middle.iter().map(|token| (DiffOp::Removed, *token)));
            ops.extend(new_middle.iter().map(|token| (DiffOp::Added, *token)));
        }
    }
    ops.extend(
        old[old.len() - suffix..]
            .iter()
            .map(|token| (DiffOp::Same, *token)),
    );
    group(absorb_gaps(ops))
}

/// Counts the words each side changed.
pub fn stats(spans: &[DiffSpan]) -> DiffStats {
    let mut stats = DiffStats::default();
    for span in spans {
        let words = tokens(&span.text)
            .into_iter()
            .filter(|token| token.chars().next().is_some_and(is_word_char))
            .count();
        match span.op {
            DiffOp::Same => {}
            DiffOp::Removed => stats.removed_words += words,
            DiffOp::Added => stats.added_words += words,
        }
    }
    stats
}

fn is_word_char(character: char) -> bool {
    character.is_alphanumeric() || character == '_'
}

#[derive(PartialEq, Eq)]
enum TokenClass {
    Word,
    Space,
    Other,
}

fn class_of(character: char) -> TokenClass {
    if is_word_char(character) {
        TokenClass::Word
    } else if character.is_whitespace() {
        TokenClass::Space
    } else {
        TokenClass::Other
    }
}

/// Words, whitespace runs, and every other character on its own.
fn tokens(text: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start = 0;
    let mut current: Option<TokenClass> = None;
    for (offset, character) in text.char_indices() {
        let class = class_of(character);
        let continues = match &current {
            Some(previous) => *previous == class && class != TokenClass::Other,
            None => false,
        };
        if !continues {
            if offset > start {
                tokens.push(&text[start..offset]);
            }
            start = offset;
        }
        current = Some(class);
    }
    if start < text.len() {
        tokens.push(&text[start..]);
    }
    tokens
}

/// Myers' shortest edit script, or `None` when it needs more than [`MAX_EDITS`].
fn edit_script<'a>(old: &[&'a str], new: &[&'a str]) -> Option<Vec<(DiffOp, &'a str)>> {
    let (n, m) = (old.len(), new.len());
    if n == 0 || m == 0 {
        let mut script: Vec<(DiffOp, &str)> =
            old.iter().map(|token| (DiffOp::Removed, *token)).collect();
        script.extend(new.iter().map(|token| (DiffOp::Added, *token)));
        return Some(script);
    }
    let max = (n + m).min(MAX_EDITS);
    let offset = max as isize + 1;
    let width = 2 * max + 3;
    // The furthest x reached on each diagonal k = x - y, after each edit count d.
    let mut furthest = vec![0usize; width];
    // Before round d: the furthest x on diagonals -d..=d, at index k + d.
    let mut trace: Vec<Vec<u32>> = Vec::new();
    let mut reached = None;
    'search: for d in 0..=max as isize {
        let (low, high) = ((offset - d) as usize, (offset + d) as usize);
        trace.push(furthest[low..=high].iter().map(|&x| x as u32).collect());
        let mut k = -d;
        while k <= d {
            let at = (k + offset) as usize;
            let mut x = if k == -d || (k != d && furthest[at - 1] < furthest[at + 1]) {
                furthest[at + 1]
            } else {
                furthest[at - 1] + 1
            };
            let mut y = (x as isize - k) as usize;
            while x < n && y < m && old[x] == new[y] {
                x += 1;
                y += 1;
            }
            furthest[at] = x;
            if x >= n && y >= m {
                reached = Some(d);
                break 'search;
            }
            k += 2;
        }
    }
    let edits = reached?;

    // Walk back from the end through the saved rounds.
    let mut script = Vec::with_capacity(n + m);
    let (mut x, mut y) = (n as isize, m as isize);
    for d in (1..=edits).rev() {
        let previous = &trace[d as usize];
        let at = |k: isize| previous[(k + d) as usize] as isize;
        let k = x - y;
        let went_down = k == -d || (k != d && at(k - 1) < at(k + 1));
        let previous_k = if went_down { k + 1 } else { k - 1 };
        let previous_x = at(previous_k);
        let previous_y = previous_x - previous_k;
        while x > previous_x && y > previous_y {
            x -= 1;
            y -= 1;
            script.push((DiffOp::Same, old[x as usize]));
        }
        if went_down {
            y -= 1;
            script.push((DiffOp::Added, new[y as usize]));
        } else {
            x -= 1;
            script.push((DiffOp::Removed, old[x as usize]));
        }
    }
    while x > 0 && y > 0 {
        x -= 1;
        y -= 1;
        script.push((DiffOp::Same, old[x as usize]));
    }
    script.reverse();
    Some(script)
}

/// A lone space or punctuation mark that matched between two changes is shown
/// as changed too, so "quick brown" → "slow red" reads as one replacement.
fn absorb_gaps(ops: Vec<(DiffOp, &str)>) -> Vec<(DiffOp, &str)> {
    let mut result: Vec<(DiffOp, &str)> = Vec::with_capacity(ops.len());
    for (index, &(op, token)) in ops.iter().enumerate() {
        let is_gap = op == DiffOp::Same
            && !token.chars().any(is_word_char)
            && index > 0
            && ops[index - 1].0 != DiffOp::Same
            && ops
                .get(index + 1)
                .is_some_and(|next| next.0 != DiffOp::Same);
        if is_gap {
            result.push((DiffOp::Removed, token));
            result.push((DiffOp::Added, token));
        } else {
            result.push((op, token));
        }
    }
    result
}

/// Joins tokens into spans: each run of changes becomes its removed text, then
/// its added text.
fn group(ops: Vec<(DiffOp, &str)>) -> Vec<DiffSpan> {
    let mut spans: Vec<DiffSpan> = Vec::new();
    let mut removed = String::new();
    let mut added = String::new();
    let flush = |spans: &mut Vec<DiffSpan>, removed: &mut String, added: &mut String| {
        for (op, text) in [(DiffOp::Removed, removed), (DiffOp::Added, added)] {
            if !text.is_empty() {
                spans.push(DiffSpan {
                    op,
                    text: std::mem::take(text),
                });
            }
        }
    };
    for (op, token) in ops {
        match op {
            DiffOp::Removed => removed.push_str(token),
            DiffOp::Added => added.push_str(token),
            DiffOp::Same => {
                flush(&mut spans, &mut removed, &mut added);
                match spans.last_mut() {
                    Some(last) if last.op == DiffOp::Same => last.text.push_str(token),
                    _ => spans.push(DiffSpan {
                        op: DiffOp::Same,
                        text: token.to_owned(),
                    }),
                }
            }
        }
    }
    flush(&mut spans, &mut removed, &mut added);
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(op: DiffOp, text: &str) -> DiffSpan {
        DiffSpan {
            op,
            text: text.into(),
        }
    }

    fn side(spans: &[DiffSpan], skip: DiffOp) -> String {
        spans
            .iter()
            .filter(|span| span.op != skip)
            .map(|span| span.text.as_str())
            .collect()
    }

    #[test]
    fn identical_texts_are_one_unchanged_span() {
        let text = "I live in Lyon.";
        assert_eq!(word_diff(text, text), [span(DiffOp::Same, text)]);
        assert_eq!(word_diff("", ""), []);
    }

    #[test]
    fn a_changed_word_is_shown_removed_then_added_in_place() {
        assert_eq!(
            word_diff("I live in Lyon.", "I live in Paris."),
            [
                span(DiffOp::Same, "I live in "),
                span(DiffOp::Removed, "Lyon"),
                span(DiffOp::Added, "Paris"),
                span(DiffOp::Same, "."),
            ]
        );
    }

    #[test]
    fn inserted_and_deleted_words_are_marked_alone() {
        assert_eq!(
            word_diff("Call me on Monday", "Call me early on Monday"),
            [
                span(DiffOp::Same, "Call me "),
                span(DiffOp::Added, "early "),
                span(DiffOp::Same, "on Monday"),
            ]
        );
        assert_eq!(
            word_diff("Call me early on Monday", "Call me on Monday"),
            [
                span(DiffOp::Same, "Call me "),
                span(DiffOp::Removed, "early "),
                span(DiffOp::Same, "on Monday"),
            ]
        );
    }

    #[test]
    fn several_replaced_words_read_as_one_replacement() {
        assert_eq!(
            word_diff("the quick brown fox", "the slow red fox"),
            [
                span(DiffOp::Same, "the "),
                span(DiffOp::Removed, "quick brown"),
                span(DiffOp::Added, "slow red"),
                span(DiffOp::Same, " fox"),
            ]
        );
    }

    #[test]
    fn a_word_is_never_split_even_when_letters_match() {
        let spans = word_diff("restart the VPN", "restarted the VPN");
        assert_eq!(
            spans,
            [
                span(DiffOp::Removed, "restart"),
                span(DiffOp::Added, "restarted"),
                span(DiffOp::Same, " the VPN"),
            ]
        );
    }

    #[test]
    fn non_ascii_text_is_cut_on_character_boundaries() {
        let spans = word_diff("Café à Montréal, 東京", "Café à Québec, 東京");
        assert_eq!(side(&spans, DiffOp::Added), "Café à Montréal, 東京");
        assert_eq!(side(&spans, DiffOp::Removed), "Café à Québec, 東京");
        assert!(spans.contains(&span(DiffOp::Removed, "Montréal")));
        assert!(spans.contains(&span(DiffOp::Added, "Québec")));
    }

    #[test]
    fn from_and_to_nothing() {
        assert_eq!(word_diff("", "new text"), [span(DiffOp::Added, "new text")]);
        assert_eq!(word_diff("old", ""), [span(DiffOp::Removed, "old")]);
    }

    #[test]
    fn whitespace_changes_show_up() {
        let spans = word_diff("one two", "one\n\ntwo");
        assert_eq!(
            spans,
            [
                span(DiffOp::Same, "one"),
                span(DiffOp::Removed, " "),
                span(DiffOp::Added, "\n\n"),
                span(DiffOp::Same, "two"),
            ]
        );
    }

    #[test]
    fn both_texts_are_recovered_from_the_spans_of_random_edits() {
        // A fixed linear congruential generator: reproducible "random" edits.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |bound: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize % bound
        };
        let words = [
            "alpha",
            "beta",
            "gamma",
            ",",
            " ",
            "  ",
            "\n",
            "δέλτα",
            "x",
            ".",
        ];
        for _ in 0..300 {
            let before: String = (0..next(40)).map(|_| words[next(words.len())]).collect();
            let mut after_tokens = tokens(&before)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>();
            for _ in 0..next(6) {
                let at = next(after_tokens.len() + 1);
                match next(3) {
                    0 if at < after_tokens.len() => {
                        after_tokens.remove(at);
                    }
                    _ => after_tokens.insert(at, words[next(words.len())].to_owned()),
                }
            }
            let after: String = after_tokens.concat();
            let spans = word_diff(&before, &after);
            assert_eq!(side(&spans, DiffOp::Added), before);
            assert_eq!(side(&spans, DiffOp::Removed), after);
            for pair in spans.windows(2) {
                assert!(
                    !(pair[0].op == pair[1].op),
                    "adjacent spans of one kind are merged: {spans:?}"
                );
            }
        }
    }

    #[test]
    fn a_total_rewrite_of_long_texts_is_still_exact() {
        let before: String = (0..6_000).map(|n| format!("old{n} ")).collect();
        let after: String = (0..6_000).map(|n| format!("new{n} ")).collect();
        let spans = word_diff(&before, &after);
        assert_eq!(side(&spans, DiffOp::Added), before);
        assert_eq!(side(&spans, DiffOp::Removed), after);
        assert_eq!(
            stats(&spans),
            DiffStats {
                removed_words: 6_000,
                added_words: 6_000
            }
        );
    }

    #[test]
    fn stats_count_words_not_spaces_or_punctuation() {
        let spans = word_diff("I live in Lyon.", "I now live in Paris, France!");
        assert_eq!(
            stats(&spans),
            DiffStats {
                removed_words: 1,
                added_words: 3
            }
        );
    }
}
