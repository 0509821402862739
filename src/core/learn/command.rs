//! "Remember …" and "Forget …" typed in the chat: the user telling the case bank
//! something directly, instead of asking the assistant.

/// A memory command found at the start of a chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatCommand {
    /// Store this text as a memory.
    Remember(String),
    /// Find the memory that best matches this text and remove it (after the
    /// user confirms which one).
    Forget(String),
}

/// What "forget" may not be applied to: phrases that are conversational ("forget
/// it") or so broad that their "best match" would be an arbitrary memory.
const TOO_VAGUE_TO_FORGET: [&str; 8] = [
    "it",
    "this",
    "that",
    "them",
    "everything",
    "all",
    "all of it",
    "all of that",
];

/// Recognises `Remember that …`, `remember: …`, `Please remember …`, `Forget
/// that …`, `forget about …`, `forget …` (any case). Questions ("Do you remember
/// …?", "Remember when …?") and sentences that merely contain the words ("I
/// forgot my keys") are not commands.
pub fn parse_command(message: &str) -> Option<ChatCommand> {
    let message = message.trim();
    if message.ends_with('?') {
        return None;
    }
    let message = strip_word(message, "please")
        .map(|rest| rest.trim_start_matches([',', ' ']))
        .unwrap_or(message);
    if let Some(rest) = strip_word(message, "remember") {
        let text = after_verb(rest, &["that"]);
        let mut chars = text.chars();
        let first = chars.next()?;
        return Some(ChatCommand::Remember(
            first.to_uppercase().chain(chars).collect(),
        ));
    }
    let rest = strip_word(message, "forget")?;
    let query = after_verb(rest, &["that", "about"])
        .trim_end_matches(['.', '!'])
        .trim_end();
    let vague = TOO_VAGUE_TO_FORGET
        .iter()
        .any(|phrase| phrase.eq_ignore_ascii_case(query));
    (!query.is_empty() && !vague).then(|| ChatCommand::Forget(query.to_owned()))
}

/// What follows the verb, without the separator (`:`, `,`, `-`) and one of the
/// optional linking words.
fn after_verb<'a>(rest: &'a str, linking_words: &[&str]) -> &'a str {
    let rest = rest.trim_start_matches([':', ',', '-', '\u{2013}', '\u{2014}', ' ', '\t', '\n']);
    linking_words
        .iter()
        .find_map(|word| strip_word(rest, word))
        .unwrap_or(rest)
        .trim()
}

/// `text` without its first word if that word is `word` (ignoring case): what
/// follows must not continue the word ("remembering" is not "remember", "that's"
/// is not "that").
fn strip_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    let rest = text.get(word.len()..)?;
    let continues = rest
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || c == '\'' || c == '\u{2019}');
    (head.eq_ignore_ascii_case(word) && !continues).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remember(text: &str) -> Option<ChatCommand> {
        Some(ChatCommand::Remember(text.into()))
    }

    fn forget(text: &str) -> Option<ChatCommand> {
        Some(ChatCommand::Forget(text.into()))
    }

    #[test]
    fn remember_commands_give_the_text_to_store() {
        let cases = [
            ("Remember that I use fish shell", "I use fish shell"),
            ("remember: my manager is Ana", "My manager is Ana"),
            (
                "REMEMBER THAT the build runs on Fridays.",
                "The build runs on Fridays.",
            ),
            (
                "Please remember, I prefer metric units",
                "I prefer metric units",
            ),
            (
                "  remember -  standups are at 9:30 ",
                "Standups are at 9:30",
            ),
            ("Remember that's my work laptop", "That's my work laptop"),
            (
                "remember\nthe wifi password is on the fridge",
                "The wifi password is on the fridge",
            ),
        ];
        for (message, text) in cases {
            assert_eq!(parse_command(message), remember(text), "{message:?}");
        }
    }

    #[test]
    fn forget_commands_give_the_query_to_look_up() {
        let cases = [
            ("Forget that I live in Lyon", "I live in Lyon"),
            ("forget my address", "my address"),
            ("Forget about my old job.", "my old job"),
            ("please forget: the Jira token!", "the Jira token"),
        ];
        for (message, query) in cases {
            assert_eq!(parse_command(message), forget(query), "{message:?}");
        }
    }

    #[test]
    fn ordinary_messages_are_not_commands() {
        let messages = [
            "Do you remember my manager's name?",
            "Remember when we fixed the VPN?",
            "remember?",
            "I forgot my keys",
            "I forget things easily",
            "Remembering names is hard for me",
            "Forgetting is normal",
            "Remember",
            "remember that",
            "Forget it",
            "forget about it.",
            "Forget that!",
            "forget everything",
            "Please help me with my VPN",
            "",
        ];
        for message in messages {
            assert_eq!(parse_command(message), None, "{message:?}");
        }
    }
}
