//! The chat's state and what it does: open, send, stream, stop, retry and
//! save conversations. Components only read these signals and call these
//! methods.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use futures_util::future::{join, join3};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::assistant::{with_default_assistant, Assistant};
use crate::core::bank::MemoryFilter;
use crate::core::chat::{history_turns, question_of, retrieval_k, title_from, NoProvider};
use crate::core::compose::cited_tags;
use crate::core::compose::{
    compose, Candidate, ComposeConfig, ComposedPrompt, MemoryAccess, PromptRequest,
};
use crate::core::conversation::{ChatTurn, Conversation, Message, MessageState, Role, UsedMemory};
use crate::core::llm::{ApiKey, HttpRequest, ProviderProfile};
use crate::core::memory::MemoryId;
use crate::core::protocol::SearchHit;
use crate::core::schema::stores;
use crate::core::settings::keys;
use crate::ui::providers::new_id;
use crate::ui::services::Services;
use crate::web::conversations;
use crate::web::db::Db;
use crate::web::llm::{self, CallControl, ChatEnd, ChatProgress};

use super::learning;

/// The answer being written, updated as text arrives.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    pub message_id: String,
    pub text: String,
    /// What happens before the first text (searching, waiting to retry).
    pub phase: Phase,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Preparing,
    /// A failure that may pass; the call is sent again at `until` (Date.now ms).
    Waiting {
        reason: String,
        until: f64,
    },
    Streaming,
}

/// A message shown above the composer, with an undo where one makes sense.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub undo: Option<Undo>,
    pub is_error: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Undo {
    /// Put a deleted conversation back.
    Conversation(Box<Conversation>),
    /// Take a forgotten memory out of the trash.
    Restore(MemoryId),
    /// Move a memory just remembered to the trash.
    Trash { id: MemoryId, revision: u32 },
}

/// What a prompt is made of: the assistant that answers and the budgets.
#[derive(Debug, Clone)]
pub struct Context {
    pub assistant: Assistant,
    pub config: ComposeConfig,
    pub temporary: bool,
    pub excluded: Vec<MemoryId>,
}

/// Exactly what will be sent: turns, and the memories in them.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub turns: Vec<ChatTurn>,
    pub used: Vec<UsedMemory>,
}

/// Moves the router to a path (the open conversation is in the address).
pub type Navigate = Rc<dyn Fn(&str)>;

#[derive(Clone, Copy)]
pub struct Chat {
    pub services: Services,
    /// Saved conversations, newest first.
    pub list: RwSignal<Vec<Conversation>>,
    pub list_error: RwSignal<Option<String>>,
    /// The open conversation (`None`: a new one, not started yet).
    pub current: RwSignal<Option<Conversation>>,
    /// The open conversation reads and writes no memory and is not saved.
    pub temporary: RwSignal<bool>,
    pub live: RwSignal<Option<Live>>,
    pub draft: RwSignal<String>,
    pub notice: RwSignal<Option<Notice>>,
    /// The assistant a new conversation talks to.
    pub assistant_choice: RwSignal<String>,
    pub assistants: RwSignal<Vec<Assistant>>,
    /// Memory suggestions written to the inbox, by answer id.
    pub suggestions: RwSignal<HashMap<String, usize>>,
    control: StoredValue<Option<CallControl>, LocalStorage>,
    navigate: StoredValue<Navigate, LocalStorage>,
    /// The prompt budgets as last read (see [`Chat::answer`]).
    last_config: StoredValue<Option<ComposeConfig>>,
}

impl Chat {
    pub fn new(services: Services, navigate: Navigate) -> Chat {
        Chat {
            services,
            list: RwSignal::new(Vec::new()),
            list_error: RwSignal::new(None),
            current: RwSignal::new(None),
            temporary: RwSignal::new(false),
            live: RwSignal::new(None),
            draft: RwSignal::new(String::new()),
            notice: RwSignal::new(None),
            assistant_choice: RwSignal::new(crate::core::assistant::DEFAULT_ASSISTANT.to_owned()),
            assistants: RwSignal::new(Vec::new()),
            suggestions: RwSignal::new(HashMap::new()),
            control: StoredValue::new_local(None),
            navigate: StoredValue::new_local(navigate),
            last_config: StoredValue::new(None),
        }
    }

    pub fn db(&self) -> Result<Db, String> {
        self.services
            .ready_db()
            .ok_or_else(|| "The memory store is not open yet (see the status bar).".to_owned())
    }

    pub fn is_busy(&self) -> bool {
        self.live.with(Option::is_some)
    }

    pub fn say(&self, text: impl Into<String>) {
        self.notice.set(Some(Notice {
            text: text.into(),
            undo: None,
            is_error: false,
        }));
    }

    pub fn complain(&self, text: impl Into<String>) {
        self.notice.set(Some(Notice {
            text: text.into(),
            undo: None,
            is_error: true,
        }));
    }

    /// Reads the saved conversations and the assistants.
    pub async fn load(self, db: Db) {
        match conversations::list(&db).await {
            Ok(list) => self.list.set(list),
            Err(error) => self.list_error.set(Some(format!(
                "The saved conversations could not be read: {error}"
            ))),
        }
        let assistants: Vec<Assistant> = db.all(stores::ASSISTANTS).await.unwrap_or_default();
        self.assistants.set(with_default_assistant(assistants));
    }

    /// Shows the conversation the address names when that needs nothing read:
    /// a new one, or the one already open. Returns the id still to be read.
    ///
    /// The chat page calls this as it is drawn, so a question typed right
    /// after following the Chat link goes into the new conversation, never
    /// into the one shown before (which would then be closed under it).
    pub fn show(self, id: Option<String>) -> Option<String> {
        let open_id = self
            .current
            .with_untracked(|current| current.as_ref().map(|c| c.id.clone()));
        if open_id == id {
            return None;
        }
        if self.is_busy() {
            self.stop();
        }
        self.notice.set(None);
        if id.is_none() {
            self.current.set(None);
            self.temporary.set(false);
        }
        id
    }

    /// Opens the conversation `id` (from the address), or a new one.
    pub async fn open(self, id: Option<String>) {
        let Some(id) = self.show(id) else {
            return;
        };
        let Ok(db) = self.db() else {
            return;
        };
        match conversations::load(&db, &id).await {
            Ok(Some(mut conversation)) => {
                // An answer that was streaming when the page closed is partial.
                for message in &mut conversation.messages {
                    if message.state == MessageState::Streaming {
                        message.state = MessageState::Stopped;
                    }
                }
                self.temporary.set(false);
                self.current.set(Some(conversation));
            }
            Ok(None) => {
                self.current.set(None);
                self.complain("That conversation no longer exists (it may have been deleted).");
            }
            Err(error) => self.complain(format!("The conversation could not be read: {error}")),
        }
    }

    pub fn go(&self, path: &str) {
        (self.navigate.get_value())(path);
    }

    /// Saves the open conversation (unless it is temporary) and lists it first.
    pub async fn persist(self) -> Result<(), String> {
        if self.temporary.get_untracked() {
            return Ok(());
        }
        let Some(conversation) = self.current.get_untracked() else {
            return Ok(());
        };
        let db = self.db()?;
        conversations::save(&db, &conversation)
            .await
            .map_err(|error| format!("The conversation could not be saved: {error}"))?;
        self.list.update(|list| {
            list.retain(|c| c.id != conversation.id);
            list.insert(0, conversation);
        });
        Ok(())
    }

    /// Changes the open conversation (and its last change time).
    pub fn change(&self, change: impl FnOnce(&mut Conversation)) {
        self.current.update(|current| {
            if let Some(conversation) = current {
                change(conversation);
                conversation.updated_at = now();
            }
        });
    }

    pub fn update_message(&self, id: &str, change: impl FnOnce(&mut Message)) {
        self.change(|conversation| {
            if let Some(message) = conversation.messages.iter_mut().find(|m| m.id == id) {
                change(message);
            }
        });
    }

    pub fn stop(&self) {
        if let Some(control) = self.control.get_value() {
            control.stop();
        }
    }

    /// Sends what the user typed: a memory command, or a question (with the
    /// prompt from the preview, if the user edited one).
    pub fn send(self, text: String, prepared: Option<Prepared>) {
        let question = text.trim().to_owned();
        if question.is_empty() || self.is_busy() {
            return;
        }
        self.notice.set(None);
        if !self.temporary.get_untracked() && prepared.is_none() {
            if let Some(command) = crate::core::learn::command::parse_command(&question) {
                spawn_local(async move {
                    learning::run_command(self, command).await;
                });
                return;
            }
        }
        let started = now();
        if self.current.with_untracked(Option::is_none) {
            let conversation = Conversation {
                id: new_id("c"),
                title: title_from(&question),
                assistant_id: self.assistant_choice.get_untracked(),
                created_at: started,
                updated_at: started,
                messages: Vec::new(),
                excluded: Vec::new(),
            };
            let id = conversation.id.clone();
            self.current.set(Some(conversation));
            if !self.temporary.get_untracked() {
                self.go(&format!("/?c={id}"));
            }
        }
        let answer_id = new_id("a");
        self.change(|conversation| {
            conversation.messages.push(Message::new(
                new_id("q"),
                Role::User,
                question.clone(),
                started,
            ));
            let mut answer = Message::new(answer_id.clone(), Role::Assistant, "", started);
            answer.state = MessageState::Streaming;
            conversation.messages.push(answer);
        });
        // The question is in the conversation now: it can be retried or
        // edited from there, so the composer is free again.
        self.draft.set(String::new());
        // The question is saved while the answer is prepared: the call to the
        // provider does not wait for the write (IndexedDB still applies it
        // before the answer's own save, which starts later).
        let save_question = async move {
            if let Err(error) = self.persist().await {
                self.complain(error);
            }
        };
        spawn_local(async move {
            join(self.answer(answer_id, prepared), save_question).await;
        });
    }

    /// Writes (again) the answer `answer_id` to the question before it.
    pub fn retry(self, answer_id: String) {
        if self.is_busy() {
            return;
        }
        self.update_message(&answer_id, |message| {
            message.text.clear();
            message.state = MessageState::Streaming;
            message.used.clear();
            message.cited.clear();
            message.notice = None;
        });
        spawn_local(async move { self.answer(answer_id, None).await });
    }

    /// Takes a question whose answer failed back into the composer, removing
    /// the exchange, so the user can change it.
    pub fn edit_question(self, answer_id: String) {
        if self.is_busy() {
            return;
        }
        let mut question = None;
        self.change(|conversation| {
            let Some(index) = conversation.messages.iter().position(|m| m.id == answer_id) else {
                return;
            };
            let asked = question_of(&conversation.messages, index).map(|m| m.id.clone());
            if let Some(asked) = asked {
                question = conversation
                    .messages
                    .iter()
                    .find(|m| m.id == asked)
                    .map(|m| m.text.clone());
                conversation
                    .messages
                    .retain(|m| m.id != asked && m.id != answer_id);
            }
        });
        if let Some(question) = question {
            self.draft.set(question);
            spawn_local(async move {
                if let Err(error) = self.persist().await {
                    self.complain(error);
                }
            });
        }
    }

    /// What answers in the open conversation are made of.
    pub async fn context(self) -> Context {
        let config = self.compose_settings().await;
        self.context_with(config)
    }

    /// [`Chat::context`] with the budgets `config`.
    fn context_with(self, config: ComposeConfig) -> Context {
        let assistant_id = self
            .current
            .with_untracked(|c| c.as_ref().map(|c| c.assistant_id.clone()))
            .unwrap_or_else(|| self.assistant_choice.get_untracked());
        let assistant = self
            .assistants
            .with_untracked(|all| all.iter().find(|a| a.id == assistant_id).cloned())
            .unwrap_or_else(Assistant::default_assistant);
        Context {
            assistant,
            config,
            temporary: self.temporary.get_untracked(),
            excluded: self
                .current
                .with_untracked(|c| c.as_ref().map(|c| c.excluded.clone()))
                .unwrap_or_default(),
        }
    }

    /// The prompt budgets the user set (the defaults until the store opens).
    pub async fn compose_settings(self) -> ComposeConfig {
        let config = match self.db() {
            Ok(db) => db
                .get_value::<ComposeConfig>(stores::SETTINGS, keys::CHAT)
                .await
                .ok()
                .flatten()
                .unwrap_or_default(),
            Err(_) => ComposeConfig::default(),
        };
        self.last_config.set_value(Some(config.clone()));
        config
    }

    /// The memories for `question` among those the assistant reads (none in a
    /// temporary chat).
    pub async fn retrieve(
        self,
        context: &Context,
        question: &str,
    ) -> Result<Vec<SearchHit>, String> {
        if context.temporary {
            return Ok(Vec::new());
        }
        self.wait_for_bank().await?;
        let filter = MemoryFilter {
            pools: context.assistant.readable_pools(),
            exclude: context.excluded.clone(),
            ..MemoryFilter::default()
        };
        let worker = self.services.worker().map_err(|e| e.to_string())?;
        worker
            .search(question.to_owned(), retrieval_k(&context.config), filter)
            .await
            .map(|results| results.hits)
            .map_err(|error| format!("Your memories could not be searched: {error}"))
    }

    /// Waits until the case bank has opened (a question asked right after the
    /// page loads).
    pub async fn wait_for_bank(self) -> Result<(), String> {
        crate::ui::bank_changes::wait_for_bank(self.services).await
    }

    /// The provider profile that answers, and its key.
    pub async fn provider(
        self,
        context: &Context,
    ) -> Result<(ProviderProfile, Option<ApiKey>), String> {
        let db = self.db()?;
        let settings = llm::provider_settings(&db)
            .await
            .map_err(|error| format!("The provider settings could not be read: {error}"))?;
        let profile = settings
            .profile_for(&context.assistant)
            .map_err(|error: NoProvider| error.to_string())?
            .clone();
        let key = llm::key_for(&db, &profile.id)
            .await
            .map_err(|error| error.to_string())?;
        Ok((profile, key))
    }

    /// Writes the answer `answer_id`: retrieve, compose (unless `prepared`),
    /// stream, save.
    async fn answer(self, answer_id: String, prepared: Option<Prepared>) {
        let control = CallControl::new();
        self.control.set_value(Some(control.clone()));
        self.live.set(Some(Live {
            message_id: answer_id.clone(),
            text: String::new(),
            phase: Phase::Preparing,
        }));
        // The budgets read for the last answer let the search start at once;
        // they are read again meanwhile (see `set_up_call`).
        let mut context = match self.last_config.get_value() {
            Some(config) => self.context_with(config),
            None => self.context().await,
        };
        let setup = self.set_up_call(&mut context, &answer_id, prepared).await;
        let (request, prepared, model) = match setup {
            Ok(setup) => setup,
            Err(error) => {
                self.finish(
                    &answer_id,
                    String::new(),
                    MessageState::Failed { error },
                    None,
                )
                .await;
                return;
            }
        };
        if control.is_stopped() {
            self.finish(&answer_id, String::new(), MessageState::Stopped, None)
                .await;
            return;
        }
        self.update_message(&answer_id, |message| {
            message.used = prepared.used.clone();
            message.model = Some(model);
        });
        if !context.temporary && !prepared.used.is_empty() {
            let ids: Vec<MemoryId> = prepared.used.iter().map(|u| u.memory_id.clone()).collect();
            if let Ok(worker) = self.services.worker() {
                spawn_local(async move {
                    // Use counts are statistics: a failure costs nothing the user would notice.
                    let _ = worker.mark_used(ids).await;
                });
            }
        }

        let text = Rc::new(RefCell::new(String::new()));
        let shown = Rc::new(Cell::new(0usize));
        let frame_pending = Rc::new(Cell::new(false));
        let live = self.live;
        let mut on_progress = {
            let text = text.clone();
            move |progress: ChatProgress| match progress {
                ChatProgress::Retrying {
                    error, delay_ms, ..
                } => live.update(|live| {
                    if let Some(live) = live {
                        live.phase = Phase::Waiting {
                            reason: error.to_string(),
                            until: js_sys::Date::now() + delay_ms as f64,
                        };
                    }
                }),
                ChatProgress::Accepted => live.update(|live| {
                    if let Some(live) = live {
                        live.phase = Phase::Streaming;
                    }
                }),
                ChatProgress::Text(more) => {
                    text.borrow_mut().push_str(&more);
                    // Re-render once per frame, however fast tokens arrive.
                    if !frame_pending.replace(true) {
                        let text = text.clone();
                        let shown = shown.clone();
                        let frame_pending = frame_pending.clone();
                        request_animation_frame(move || {
                            frame_pending.set(false);
                            let all = text.borrow();
                            let from = shown.replace(all.len());
                            let added = all.get(from..).unwrap_or_default().to_owned();
                            live.update(|live| {
                                if let Some(live) = live {
                                    live.text.push_str(&added);
                                }
                            });
                        });
                    }
                }
                ChatProgress::Usage(_) => {}
            }
        };
        let end = llm::stream_chat(&request, &control, &mut on_progress).await;
        let answer = text.borrow().clone();
        let (state, notice) = match end {
            ChatEnd::Finished(reason) => (MessageState::Complete, reason.notice()),
            ChatEnd::Stopped => (MessageState::Stopped, None),
            ChatEnd::Failed(error) => (
                MessageState::Failed {
                    error: error.to_string(),
                },
                None,
            ),
        };
        let complete = state == MessageState::Complete;
        let cited = cited_tags(&answer, &prepared.used);
        self.update_message(&answer_id, |message| message.cited = cited);
        self.finish(&answer_id, answer.clone(), state, notice).await;
        if complete && !context.temporary {
            learning::after_exchange(self, context, answer_id, answer).await;
        }
    }

    /// The request for the answer `answer_id`, what is in it, and the name of
    /// the model writing it. `context` gets the budgets as they are now.
    async fn set_up_call(
        self,
        context: &mut Context,
        answer_id: &str,
        prepared: Option<Prepared>,
    ) -> Result<(HttpRequest, Prepared, String), String> {
        let (question, history) = self
            .current
            .with_untracked(|current| {
                let messages = &current.as_ref()?.messages;
                let index = messages.iter().position(|m| m.id == answer_id)?;
                let question = question_of(messages, index)?.text.clone();
                let before_question = messages[..index]
                    .iter()
                    .rposition(|m| m.role == Role::User)
                    .unwrap_or(0);
                Some((question, history_turns(&messages[..before_question])))
            })
            .ok_or_else(|| "The question of this answer is gone.".to_owned())?;
        // The memories are searched while the provider's settings and the
        // budgets are read (a prompt prepared in the preview has its memories
        // already).
        let searched = &*context;
        let search = async {
            if prepared.is_some() {
                Ok(Vec::new())
            } else {
                self.retrieve(searched, &question).await
            }
        };
        let (provider, mut hits, config) =
            join3(self.provider(searched), search, self.compose_settings()).await;
        let (profile, key) = provider?;
        let searched_k = retrieval_k(&context.config);
        context.config = config;
        // Budgets changed since the last answer (in another tab, say) may
        // want more or fewer memories.
        if prepared.is_none() && retrieval_k(&context.config) != searched_k {
            hits = self.retrieve(context, &question).await;
        }
        let prepared = match prepared {
            Some(prepared) => prepared,
            None => {
                let composed = compose_prompt(context, &question, &history, &hits?, &[])?;
                Prepared {
                    turns: composed.turns,
                    used: composed.used,
                }
            }
        };
        let request = profile
            .chat_request(key.as_ref(), &prepared.turns)
            .map_err(|error| error.to_string())?;
        let model = format!("{} · {}", profile.name, profile.model);
        Ok((request, prepared, model))
    }

    async fn finish(
        self,
        answer_id: &str,
        text: String,
        state: MessageState,
        notice: Option<String>,
    ) {
        self.update_message(answer_id, |message| {
            message.text = text;
            message.state = state;
            message.notice = notice;
        });
        self.live.set(None);
        self.control.set_value(None);
        if let Err(error) = self.persist().await {
            self.complain(error);
        }
    }
}

/// The prompt for `question`, from the memories `hits`, leaving out `removed`.
pub fn compose_prompt(
    context: &Context,
    question: &str,
    history: &[ChatTurn],
    hits: &[SearchHit],
    removed: &[MemoryId],
) -> Result<ComposedPrompt, String> {
    let candidates: Vec<Candidate<'_>> = hits
        .iter()
        .map(|hit| Candidate {
            memory: &hit.memory,
            explanation: &hit.explanation,
            features: &hit.features,
        })
        .collect();
    let memories = if context.temporary {
        MemoryAccess::Temporary
    } else {
        MemoryAccess::Bank {
            candidates: &candidates,
            removed,
        }
    };
    compose(
        &PromptRequest {
            system_prompt: &context.assistant.system_prompt,
            history,
            question,
            memories,
        },
        &context.config,
    )
    .map_err(|error| error.to_string())
}

/// Milliseconds since the epoch.
pub use crate::ui::bank_changes::now;
