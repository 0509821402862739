//! What the chat teaches the case bank: feedback turns exchanges into cases,
//! "Remember …" / "Forget …" change memories directly, answers' memories can
//! be edited, pinned or excluded, and after an exchange the model may propose
//! new memories (to the inbox, or applied at once).

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::bank::MemoryFilter;
use crate::core::changes::MemoryChange;
use crate::core::chat::forget_target;
use crate::core::conversation::{ChatTurn, Role};
use crate::core::learn::command::ChatCommand;
use crate::core::learn::extract::{
    extraction_prompt, InboxItem, InboxStatus, Proposal, EXTRACTABLE_KINDS,
};
use crate::core::learn::feedback::{case_from_feedback, change_verdict, Exchange, Feedback};
use crate::core::learn::revise;
use crate::core::memory::{ChangedBy, Kind, Memory, MemoryId, Source};
use crate::core::schema::stores;
use crate::core::settings::{keys, LearningSettings};
use crate::ui::bank_changes::{self, apply_proposal, new_memory_id, Remembered};
use crate::web::llm::{self, CallControl};

use super::session::{now, Chat, Context, Notice, Undo};

/// How many similar memories extraction shows the model.
const EXTRACTION_NEIGHBOURS: usize = 8;
/// How many hits are compared with a "Forget …" request to find what it means.
const MATCH_HITS: usize = 5;

/// Applies `changes` and returns the memories saved, or the first failure in
/// plain words.
async fn apply(chat: Chat, changes: Vec<MemoryChange>) -> Result<Vec<Memory>, String> {
    bank_changes::apply(chat.services, changes).await
}

/// The memory as stored now (live or in the trash).
async fn current_memory(chat: Chat, id: &MemoryId) -> Result<Memory, String> {
    bank_changes::stored_memory(chat.services, id)
        .await?
        .ok_or_else(|| "This memory no longer exists.".to_owned())
}

/// Runs "Remember …" or "Forget …" without asking the model.
pub async fn run_command(chat: Chat, command: ChatCommand) {
    let context = chat.context().await;
    let result = match command {
        ChatCommand::Remember(text) => {
            remember(
                chat,
                &context,
                &text,
                Kind::Fact,
                Source::Manual,
                ChangedBy::User,
            )
            .await
        }
        ChatCommand::Forget(query) => forget(chat, &context, &query).await,
    };
    match result {
        Ok(notice) => {
            chat.draft.set(String::new());
            chat.notice.set(Some(notice));
        }
        // The command stays in the composer, to be fixed or sent again.
        Err(error) => chat.complain(error),
    }
}

/// Stores `text` as a memory of the assistant's pool, unless the pool already
/// says it: then the existing memory is kept (with the longer wording).
pub async fn remember(
    chat: Chat,
    context: &Context,
    text: &str,
    kind: Kind,
    source: Source,
    changed_by: ChangedBy,
) -> Result<Notice, String> {
    let pool = &context.assistant.pool;
    let remembered =
        bank_changes::remember(chat.services, pool, text, kind, source, changed_by).await?;
    Ok(match remembered {
        Remembered::AlreadyKnown(existing) => Notice {
            text: format!("Already remembered: “{}”", existing.text),
            undo: None,
            is_error: false,
        },
        Remembered::Merged(merged) => Notice {
            text: format!("Updated what was remembered: “{}”", merged.text),
            undo: None,
            is_error: false,
        },
        Remembered::Added(saved) => Notice {
            text: format!("Remembered: “{}”", saved.text),
            undo: Some(Undo::Trash {
                id: saved.id,
                revision: saved.revision,
            }),
            is_error: false,
        },
    })
}

/// Moves the memory that best matches `query` to the trash.
async fn forget(chat: Chat, context: &Context, query: &str) -> Result<Notice, String> {
    chat.wait_for_bank().await?;
    let worker = chat.services.worker().map_err(|e| e.to_string())?;
    let filter = MemoryFilter {
        pools: context.assistant.readable_pools(),
        ..MemoryFilter::default()
    };
    let hits = worker
        .search(query.to_owned(), MATCH_HITS, filter)
        .await
        .map_err(|e| format!("Your memories could not be searched: {e}"))?
        .hits;
    let target = forget_target(query, &hits)
        .ok_or_else(|| format!("No memory matches “{query}”, so nothing was forgotten."))?
        .clone();
    apply(
        chat,
        vec![MemoryChange::Trash {
            id: target.id.clone(),
            base_revision: target.revision,
            changed_by: ChangedBy::User,
        }],
    )
    .await?;
    Ok(Notice {
        text: format!("Forgot: “{}”", target.text),
        undo: Some(Undo::Restore(target.id)),
        is_error: false,
    })
}

/// Reverses what a notice reports.
pub fn undo(chat: Chat, undo: Undo) {
    chat.notice.set(None);
    spawn_local(async move {
        let result = match undo {
            Undo::Conversation(conversation) => match chat.db() {
                Ok(db) => crate::web::conversations::save(&db, &conversation)
                    .await
                    .map(|()| {
                        chat.list.update(|list| {
                            list.push(*conversation);
                            crate::core::chat::newest_first(list);
                        })
                    })
                    .map_err(|e| e.to_string()),
                Err(error) => Err(error),
            },
            Undo::Restore(id) => apply(
                chat,
                vec![MemoryChange::Restore {
                    id,
                    changed_by: ChangedBy::User,
                }],
            )
            .await
            .map(|_| ()),
            Undo::Trash { id, revision } => apply(
                chat,
                vec![MemoryChange::Trash {
                    id,
                    base_revision: revision,
                    changed_by: ChangedBy::User,
                }],
            )
            .await
            .map(|_| ()),
        };
        match result {
            Ok(()) => chat.say("Undone."),
            Err(error) => chat.complain(format!("Could not undo: {error}")),
        }
    });
}

/// The user's verdict on an answer: its exchange becomes a case (or its case
/// changes), and the memories it cited and the reranker learn from it.
pub async fn give_feedback(
    chat: Chat,
    answer_id: String,
    feedback: Feedback,
) -> Result<(), String> {
    let found = chat.current.with_untracked(|current| {
        let conversation = current.as_ref()?;
        let index = conversation
            .messages
            .iter()
            .position(|m| m.id == answer_id)?;
        let answer = conversation.messages.get(index)?.clone();
        let question = crate::core::chat::question_of(&conversation.messages, index)?
            .text
            .clone();
        Some((conversation.id.clone(), answer, question))
    });
    let (conversation_id, answer, question) =
        found.ok_or_else(|| "This answer is no longer in the conversation.".to_owned())?;
    let context = chat.context().await;
    let time = now();
    let existing = match &answer.case_id {
        Some(id) => current_memory(chat, id).await.ok(),
        None => None,
    };
    let change = match existing.filter(|case| case.trashed_at.is_none()) {
        Some(case) => match change_verdict(&case, &feedback, time).map_err(|e| e.to_string())? {
            Some((memory, _)) => Some(MemoryChange::Save {
                memory,
                base_revision: Some(case.revision),
                changed_by: ChangedBy::Feedback,
            }),
            None => None,
        },
        None => {
            let exchange = Exchange {
                conversation_id,
                message_id: answer.id.clone(),
                question,
                answer: answer.text.clone(),
                pool: context.assistant.pool.clone(),
            };
            let case = case_from_feedback(&exchange, &feedback, new_memory_id(), time)
                .map_err(|e| e.to_string())?;
            Some(MemoryChange::Save {
                memory: case,
                base_revision: None,
                changed_by: ChangedBy::Feedback,
            })
        }
    };
    let case_id = match change {
        Some(change) => apply(chat, vec![change])
            .await?
            .into_iter()
            .next()
            .map(|memory| memory.id),
        None => answer.case_id.clone(),
    };
    let previous = answer.feedback;
    let current = Some(feedback.outcome);
    if previous != current {
        let worker = chat.services.worker().map_err(|e| e.to_string())?;
        worker
            .record_verdict(answer.used.clone(), answer.cited.clone(), previous, current)
            .await
            .map_err(|e| e.to_string())?;
    }
    chat.update_message(&answer_id, |message| {
        message.feedback = current;
        message.case_id = case_id.or(message.case_id.take());
    });
    chat.persist().await
}

/// Saves the user's new text of a memory shown under an answer.
pub async fn edit_memory(chat: Chat, id: MemoryId, text: String) -> Result<(), String> {
    let current = current_memory(chat, &id).await?;
    let revision = current.revision;
    let (memory, _) = revise(&current, ChangedBy::User, now(), |memory| {
        memory.text = text.trim().to_owned();
    });
    apply(
        chat,
        vec![MemoryChange::Save {
            memory,
            base_revision: Some(revision),
            changed_by: ChangedBy::User,
        }],
    )
    .await
    .map(|_| ())
}

/// Pins or unpins a memory; returns whether it is pinned now.
pub async fn toggle_pin(chat: Chat, id: MemoryId) -> Result<bool, String> {
    let current = current_memory(chat, &id).await?;
    let revision = current.revision;
    let (memory, _) = revise(&current, ChangedBy::User, now(), |memory| {
        memory.pinned = !memory.pinned;
    });
    let pinned = memory.pinned;
    apply(
        chat,
        vec![MemoryChange::Save {
            memory,
            base_revision: Some(revision),
            changed_by: ChangedBy::User,
        }],
    )
    .await?;
    Ok(pinned)
}

/// Leaves a memory out of this conversation's retrieval from now on.
pub async fn exclude(chat: Chat, id: MemoryId) -> Result<(), String> {
    chat.change(|conversation| {
        if !conversation.excluded.contains(&id) {
            conversation.excluded.push(id);
        }
    });
    chat.persist().await
}

/// After a completed exchange: asks the model what is worth remembering, if
/// Settings → Learning says so.
pub async fn after_exchange(chat: Chat, context: Context, answer_id: String, answer: String) {
    let Ok(db) = chat.db() else {
        return;
    };
    let settings = db
        .get_value::<LearningSettings>(stores::SETTINGS, keys::LEARNING)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    if !settings.extraction {
        return;
    }
    let found = chat.current.with_untracked(|current| {
        let conversation = current.as_ref()?;
        let index = conversation
            .messages
            .iter()
            .position(|m| m.id == answer_id)?;
        let question = crate::core::chat::question_of(&conversation.messages, index)?
            .text
            .clone();
        Some((conversation.id.clone(), question))
    });
    let Some((conversation_id, question)) = found else {
        return;
    };
    match extract(
        chat,
        &context,
        &conversation_id,
        &question,
        &answer,
        settings.auto_apply,
    )
    .await
    {
        Ok(0) => {}
        Ok(count) => chat.suggestions.update(|all| {
            all.insert(answer_id, count);
        }),
        // Extraction is a background nicety: its failure must not disturb the
        // answer, and its text (which may quote the conversation) is not logged.
        Err(_) => {}
    }
}

/// One extraction call; returns how many proposals were kept (written to the
/// inbox, or applied).
async fn extract(
    chat: Chat,
    context: &Context,
    conversation_id: &str,
    question: &str,
    answer: &str,
    auto_apply: bool,
) -> Result<usize, String> {
    let worker = chat.services.worker().map_err(|e| e.to_string())?;
    let filter = MemoryFilter {
        pools: vec![context.assistant.pool.clone()],
        kinds: EXTRACTABLE_KINDS.to_vec(),
        ..MemoryFilter::default()
    };
    let hits = worker
        .search(
            format!("{question}\n{answer}"),
            EXTRACTION_NEIGHBOURS,
            filter,
        )
        .await
        .map_err(|e| e.to_string())?
        .hits;
    let similar: Vec<&Memory> = hits.iter().map(|hit| &hit.memory).collect();
    let turns = [
        ChatTurn::new(Role::User, question),
        ChatTurn::new(Role::Assistant, answer),
    ];
    let prompt = extraction_prompt(&turns, &similar);
    let (profile, key) = chat.provider(context).await?;
    let request = profile
        .chat_request(key.as_ref(), prompt.turns())
        .map_err(|e| e.to_string())?;
    let reply = llm::complete(&request, &CallControl::new())
        .await
        .map_err(|_| "the extraction call failed".to_owned())?;
    let extraction = prompt.read_reply(&reply).map_err(|e| e.to_string())?;
    let proposals = extraction.proposals;
    if proposals.is_empty() {
        return Ok(0);
    }
    // The revision of the memory the model saw, so that a memory changed in
    // the meantime is not overwritten with a proposal about its old text.
    let seen_revision = |proposal: &Proposal| {
        let id = proposal.target()?;
        hits.iter()
            .find(|hit| &hit.memory.id == id)
            .map(|hit| hit.memory.revision)
    };
    let pool = &context.assistant.pool;
    if auto_apply {
        let mut applied = 0;
        for proposal in proposals {
            let seen = seen_revision(&proposal);
            if apply_proposal(chat.services, pool, conversation_id, proposal, seen)
                .await
                .is_ok()
            {
                applied += 1;
            }
        }
        return Ok(applied);
    }
    let db = chat.db()?;
    let count = proposals.len();
    for proposal in proposals {
        let item = InboxItem {
            id: crate::ui::providers::new_id("i"),
            conversation_id: conversation_id.to_owned(),
            created_at: now(),
            seen_revision: seen_revision(&proposal),
            proposal,
            status: InboxStatus::Pending,
            pool: Some(pool.clone()),
        };
        db.put(stores::INBOX, &item)
            .await
            .map_err(|e| e.to_string())?;
    }
    chat.services.inbox_changed.update(|count| *count += 1);
    Ok(count)
}

/// "Remember this" on a message: its text becomes a note of the assistant's pool.
pub async fn remember_message(chat: Chat, message_id: String) -> Result<(), String> {
    let found = chat.current.with_untracked(|current| {
        let conversation = current.as_ref()?;
        let message = conversation.messages.iter().find(|m| m.id == message_id)?;
        Some((conversation.id.clone(), message.text.clone()))
    });
    let (conversation_id, text) =
        found.ok_or_else(|| "This message is no longer in the conversation.".to_owned())?;
    if text.trim().is_empty() {
        return Err("There is no text to remember.".into());
    }
    let context = chat.context().await;
    let source = Source::Conversation {
        conversation_id,
        message_id: Some(message_id),
    };
    let notice = remember(chat, &context, &text, Kind::Note, source, ChangedBy::User).await?;
    chat.notice.set(Some(notice));
    Ok(())
}
