//! The evaluation page (/evaluation): runs an evaluation set (JSON Lines of
//! questions with expected answers or expected memories) with memory off, on,
//! and on with the learned scorer, against the user's provider, and saves each
//! run; and checks that every correction is still retrieved for its question.
//!
//! Its state lives above the pages (like the chat's), so a run goes on while
//! the user looks at other pages.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::core::assistant::{with_default_assistant, Assistant};
use crate::core::bank::MemoryFilter;
use crate::core::chat::retrieval_k;
use crate::core::eval::{
    parse_eval_set, CaseResult, CorrectionCheck, EvalCase, EvalMode, EvalRun, ModeSummary,
};
use crate::core::listing::ListQuery;
use crate::core::memory::Kind;
use crate::core::protocol::{BankStatus, Reranking};
use crate::core::schema::stores;
use crate::web::llm::{self, CallControl, ChatEnd};
use crate::web::{chosen_file, file_bytes};

use super::bank_changes::wait_for_bank;
use super::chat::{compose_prompt, Chat, Context};
use super::memory::format_date_time;
use super::services::{BankState, Services};

/// The largest evaluation file read (500 cases fit in far less).
const MAX_SET_BYTES: f64 = 5_000_000.0;
/// The recall cut-off offered first: about the memories one prompt holds.
const DEFAULT_K: usize = 5;
/// The most corrections checked at once (the newest), so the check stays quick.
const MAX_CORRECTIONS_CHECKED: usize = 200;
/// How many memories are read from the worker at a time while looking for them.
const LIST_PAGE: usize = 500;

/// The chosen set: its name and cases, or why it cannot run.
type ChosenSet = Option<Result<(String, Vec<EvalCase>), String>>;

#[derive(Debug, Clone, PartialEq)]
struct Progress {
    done: usize,
    total: usize,
    /// What runs now, e.g. "Question 3 of 12 · Memory on".
    label: String,
}

/// The correction check, as the page shows it.
#[derive(Debug, Clone, PartialEq)]
enum CorrectionState {
    Idle,
    Checking,
    Checked {
        check: CorrectionCheck,
        /// There were more corrections than were checked.
        capped: bool,
    },
    Failed(String),
}

#[derive(Clone, Copy)]
pub struct Evaluation {
    services: Services,
    chat: Chat,
    set: RwSignal<ChosenSet>,
    modes: RwSignal<Vec<EvalMode>>,
    answers: RwSignal<bool>,
    k: RwSignal<usize>,
    assistant_id: RwSignal<String>,
    assistants: RwSignal<Vec<Assistant>>,
    progress: RwSignal<Option<Progress>>,
    control: StoredValue<Option<CallControl>, LocalStorage>,
    /// The run in progress, then the run the user looks at.
    shown: RwSignal<Option<EvalRun>>,
    /// Saved runs, newest first (`None` until read).
    saved: RwSignal<Option<Result<Vec<EvalRun>, String>>>,
    /// A run deleted a moment ago, which Undo puts back.
    deleted: RwSignal<Option<EvalRun>>,
    notice: RwSignal<Option<String>>,
    corrections: RwSignal<CorrectionState>,
    /// The memory changed while the corrections were being checked: check again.
    recheck: StoredValue<bool>,
}

/// Creates the evaluation's state for the whole session (see the module docs).
pub fn provide_evaluation_state() {
    let services = expect_context::<Services>();
    let chat = expect_context::<Chat>();
    let evaluation = Evaluation {
        services,
        chat,
        set: RwSignal::new(None),
        modes: RwSignal::new(EvalMode::ALL.to_vec()),
        answers: RwSignal::new(true),
        k: RwSignal::new(DEFAULT_K),
        assistant_id: RwSignal::new(chat.assistant_choice.get_untracked()),
        assistants: RwSignal::new(Vec::new()),
        progress: RwSignal::new(None),
        control: StoredValue::new_local(None),
        shown: RwSignal::new(None),
        saved: RwSignal::new(None),
        deleted: RwSignal::new(None),
        notice: RwSignal::new(None),
        corrections: RwSignal::new(CorrectionState::Idle),
        recheck: StoredValue::new(false),
    };
    provide_context(evaluation);
}

impl Evaluation {
    fn is_running(&self) -> bool {
        self.progress.with(Option::is_some)
    }

    /// Reads the saved runs and the assistants (once per session).
    async fn load(self) {
        let Some(db) = self.services.ready_db() else {
            return;
        };
        let assistants: Vec<Assistant> = db.all(stores::ASSISTANTS).await.unwrap_or_default();
        self.assistants.set(with_default_assistant(assistants));
        let saved = db
            .all::<EvalRun>(stores::EVALUATIONS)
            .await
            .map(|mut runs| {
                runs.sort_by_key(|run| std::cmp::Reverse(run.started_at));
                runs
            })
            .map_err(|error| format!("The saved evaluations could not be read: {error}"));
        if self.shown.with_untracked(Option::is_none) {
            if let Ok(runs) = &saved {
                self.shown.set(runs.first().cloned());
            }
        }
        self.saved.set(Some(saved));
    }

    fn choose_text(&self, name: String, text: &str) {
        self.set.set(Some(
            parse_eval_set(text)
                .map(|cases| (name, cases))
                .map_err(|error| error.to_string()),
        ));
    }

    /// What answers are made of: the chosen assistant, the chat's budgets, and
    /// (memory off) no memory at all.
    async fn context(self, temporary: bool) -> Context {
        let id = self.assistant_id.get_untracked();
        let assistant = self
            .assistants
            .with_untracked(|all| all.iter().find(|a| a.id == id).cloned())
            .unwrap_or_else(Assistant::default_assistant);
        Context {
            assistant,
            config: self.chat.compose_settings().await,
            temporary,
            excluded: Vec::new(),
        }
    }

    fn stop(&self) {
        if let Some(control) = self.control.get_value() {
            control.stop();
        }
    }

    /// Runs the chosen set in the chosen modes, showing results as they come,
    /// and saves the run (also a stopped one).
    async fn run(self) {
        let Some(Ok((name, cases))) = self.set.get_untracked() else {
            return;
        };
        let answers = self.answers.get_untracked();
        // Without answers, memory off has nothing to measure.
        let modes: Vec<EvalMode> = EvalMode::ALL
            .into_iter()
            .filter(|mode| self.modes.with_untracked(|chosen| chosen.contains(mode)))
            .filter(|mode| answers || mode.uses_memory())
            .collect();
        if modes.is_empty() {
            self.notice.set(Some(if answers {
                "Choose at least one way to answer.".into()
            } else {
                "Without answers only retrieval is measured: choose \"Memory on\" or the learned scorer.".into()
            }));
            return;
        }
        self.notice.set(None);
        let control = CallControl::new();
        self.control.set_value(Some(control.clone()));
        self.progress.set(Some(Progress {
            done: 0,
            total: cases.len() * modes.len(),
            label: "Getting ready…".into(),
        }));
        let outcome = self.run_cases(name, cases, modes, answers, &control).await;
        self.progress.set(None);
        self.control.set_value(None);
        match outcome {
            Ok(run) => self.save(run).await,
            Err(error) => self.notice.set(Some(error)),
        }
    }

    async fn run_cases(
        self,
        name: String,
        cases: Vec<EvalCase>,
        modes: Vec<EvalMode>,
        answers: bool,
        control: &CallControl,
    ) -> Result<EvalRun, String> {
        let with_memory = self.context(false).await;
        let without_memory = self.context(true).await;
        let provider = if answers {
            let (profile, key) = self.chat.provider(&with_memory).await?;
            Some((profile, key))
        } else {
            None
        };
        wait_for_bank(self.services).await?;
        let worker = self.services.worker().map_err(|e| e.to_string())?;
        let k = self.k.get_untracked();
        let scorer_ready = self
            .services
            .bank_state
            .with_untracked(|state| match state {
                BankState::Ready(status) => status.reranker.ready,
                _ => false,
            });
        let mut run = EvalRun {
            id: format!("eval-{}", js_sys::Date::now() as u64),
            name,
            started_at: js_sys::Date::now() as u64,
            k,
            answers,
            model: provider
                .as_ref()
                .map(|(profile, _)| format!("{} · {}", profile.name, profile.model)),
            scorer_ready,
            modes: modes.clone(),
            cases,
            results: Vec::new(),
            stopped: false,
        };
        self.shown.set(Some(run.clone()));
        let filter = MemoryFilter {
            pools: with_memory.assistant.readable_pools(),
            ..MemoryFilter::default()
        };
        let search_k = k.max(retrieval_k(&with_memory.config));
        let total = run.cases.len() * modes.len();
        'cases: for index in 0..run.cases.len() {
            let question = run.cases[index].question.clone();
            for &mode in &modes {
                if control.is_stopped() {
                    run.stopped = true;
                    break 'cases;
                }
                self.progress.set(Some(Progress {
                    done: run.results.len(),
                    total,
                    label: format!(
                        "Question {} of {} · {}",
                        index + 1,
                        run.cases.len(),
                        mode.label()
                    ),
                }));
                let started = js_sys::Date::now();
                let mut result = CaseResult {
                    case: index,
                    mode,
                    retrieved: Vec::new(),
                    answer: None,
                    error: None,
                    elapsed_ms: 0.0,
                };
                let mut hits = Vec::new();
                if mode.uses_memory() {
                    let reranking = if mode == EvalMode::LearnedScorer {
                        Reranking::Learned
                    } else {
                        Reranking::Plain
                    };
                    match worker
                        .search_reranked(question.clone(), search_k, filter.clone(), reranking)
                        .await
                    {
                        Ok(found) => hits = found.hits,
                        Err(error) => {
                            result.error =
                                Some(format!("The memories could not be searched: {error}"))
                        }
                    }
                    result.retrieved = hits.iter().map(|hit| hit.memory.id.clone()).collect();
                }
                if let (Some((profile, key)), None) = (&provider, &result.error) {
                    let context = if mode.uses_memory() {
                        &with_memory
                    } else {
                        &without_memory
                    };
                    let answer =
                        compose_prompt(context, &question, &[], &hits, &[]).and_then(|composed| {
                            profile
                                .chat_request(key.as_ref(), &composed.turns)
                                .map_err(|error| error.to_string())
                        });
                    match answer {
                        Ok(request) => match llm::complete(&request, control).await {
                            Ok(text) => result.answer = Some(text),
                            Err(ChatEnd::Stopped) => {
                                run.stopped = true;
                                break 'cases;
                            }
                            Err(ChatEnd::Failed(error)) => result.error = Some(error.to_string()),
                            Err(ChatEnd::Finished(_)) => {}
                        },
                        Err(error) => result.error = Some(error),
                    }
                }
                result.elapsed_ms = js_sys::Date::now() - started;
                run.results.push(result);
                self.shown.set(Some(run.clone()));
            }
        }
        Ok(run)
    }

    async fn save(self, run: EvalRun) {
        self.shown.set(Some(run.clone()));
        let saved = match self.services.ready_db() {
            Some(db) => db
                .put(stores::EVALUATIONS, &run)
                .await
                .map_err(|e| e.to_string()),
            None => Err("the memory store is not open".into()),
        };
        match saved {
            Ok(()) => self.saved.update(|saved| {
                if let Some(Ok(runs)) = saved {
                    runs.insert(0, run);
                }
            }),
            Err(error) => self.notice.set(Some(format!(
                "The run finished but could not be saved ({error}); its results stay on this page until you leave Casebook."
            ))),
        }
    }

    fn delete(self, id: String) {
        let Some(db) = self.services.ready_db() else {
            return;
        };
        spawn_local(async move {
            if let Err(error) = db.delete(stores::EVALUATIONS, &id).await {
                self.notice
                    .set(Some(format!("The run could not be deleted: {error}")));
                return;
            }
            let mut removed = None;
            self.saved.update(|saved| {
                if let Some(Ok(runs)) = saved {
                    if let Some(position) = runs.iter().position(|run| run.id == id) {
                        removed = Some(runs.remove(position));
                    }
                }
            });
            if self
                .shown
                .with_untracked(|shown| shown.as_ref().is_some_and(|run| run.id == id))
            {
                self.shown.set(None);
            }
            self.deleted.set(removed);
        });
    }

    fn undo_delete(self) {
        let Some(run) = self.deleted.get_untracked() else {
            return;
        };
        self.deleted.set(None);
        spawn_local(async move { self.save(run).await });
    }

    /// Searches each correction's question and counts those still among the
    /// first K (the recall cut-off chosen above).
    /// A check asked for while one runs is run after it.
    async fn check_corrections(self) {
        if self
            .corrections
            .with_untracked(|c| *c == CorrectionState::Checking)
        {
            self.recheck.set_value(true);
            return;
        }
        loop {
            self.recheck.set_value(false);
            self.corrections.set(CorrectionState::Checking);
            let state = match self.correction_check().await {
                Ok((check, capped)) => CorrectionState::Checked { check, capped },
                Err(error) => CorrectionState::Failed(error),
            };
            self.corrections.set(state);
            if !self.recheck.get_value() {
                break;
            }
        }
    }

    async fn correction_check(self) -> Result<(CorrectionCheck, bool), String> {
        wait_for_bank(self.services).await?;
        let worker = self.services.worker().map_err(|e| e.to_string())?;
        let context = self.context(false).await;
        let filter = MemoryFilter {
            pools: context.assistant.readable_pools(),
            ..MemoryFilter::default()
        };
        // Corrections given in the chat are cases with a corrected answer, so
        // cases are read too, newest first, a page at a time.
        let mut corrections = Vec::new();
        let mut capped = false;
        let mut offset = 0;
        loop {
            let page = worker
                .list_memories(ListQuery {
                    filter: MemoryFilter {
                        kinds: vec![Kind::Case, Kind::Correction],
                        ..filter.clone()
                    },
                    offset,
                    limit: LIST_PAGE,
                    ..ListQuery::default()
                })
                .await
                .map_err(|error| format!("The corrections could not be listed: {error}"))?;
            offset += page.memories.len();
            for memory in page.memories {
                if !memory.is_correction() {
                    continue;
                }
                if let Some(question) = memory.case.as_ref().map(|case| case.question.clone()) {
                    if corrections.len() == MAX_CORRECTIONS_CHECKED {
                        capped = true;
                        break;
                    }
                    corrections.push((memory.id, question));
                }
            }
            if capped || offset >= page.total || offset == 0 {
                break;
            }
        }
        let mut check = CorrectionCheck {
            k: self.k.get_untracked(),
            ..CorrectionCheck::default()
        };
        for (id, question) in &corrections {
            let hits = worker
                .search(question.clone(), check.k, filter.clone())
                .await
                .map_err(|error| format!("The memories could not be searched: {error}"))?
                .hits;
            let ranked: Vec<_> = hits.into_iter().map(|hit| hit.memory.id).collect();
            check.record(id, question, &ranked);
        }
        Ok((check, capped))
    }
}

#[component]
pub fn EvaluationPage() -> impl IntoView {
    let evaluation = expect_context::<Evaluation>();
    let services = evaluation.services;

    // Reads the saved runs once the store is open, and checks the corrections
    // then, after every change to the memory (the bank's status moves) and
    // when the cut-off or the assistant changes.
    let loaded = StoredValue::new(false);
    Effect::new(
        move |previous: Option<Option<(BankStatus, usize, String)>>| {
            let status = services.bank_state.with(|state| match state {
                BankState::Ready(status) => Some((
                    status.clone(),
                    evaluation.k.get(),
                    evaluation.assistant_id.get(),
                )),
                _ => None,
            });
            if services.ready_db().is_some() && !loaded.get_value() {
                loaded.set_value(true);
                spawn_local(evaluation.load());
            }
            if status.is_some() && previous.as_ref() != Some(&status) {
                spawn_local(evaluation.check_corrections());
            }
            status
        },
    );

    view! {
        <section class="page evaluation" aria-labelledby="evaluation-title">
            <h1 id="evaluation-title">"Evaluation"</h1>
            <p class="hint">
                "Does the memory make answers better? Run a set of questions with memory off, on, and on with "
                "the learned scorer, and compare. Each run is saved in this browser."
            </p>
            <SetChooser/>
            <RunControls/>
            <RunResults/>
            <SavedRuns/>
            <CorrectionReport/>
        </section>
    }
}

#[component]
fn SetChooser() -> impl IntoView {
    let evaluation = expect_context::<Evaluation>();
    let pasted = RwSignal::new(String::new());
    let on_file = move |event: leptos::ev::Event| {
        let Some(file) = chosen_file(&event) else {
            return;
        };
        if file.size() > MAX_SET_BYTES {
            evaluation.set.set(Some(Err(format!(
                "{} is too large for an evaluation set (at most 5 MB).",
                file.name()
            ))));
            return;
        }
        spawn_local(async move {
            match file_bytes(&file).await {
                Ok(bytes) => evaluation.choose_text(file.name(), &String::from_utf8_lossy(&bytes)),
                Err(error) => evaluation.set.set(Some(Err(format!(
                    "{} could not be read: {error}",
                    file.name()
                )))),
            }
        });
    };
    let on_paste = move |event: leptos::ev::Event| {
        let text = event_target_value(&event);
        pasted.set(text.clone());
        if text.trim().is_empty() {
            evaluation.set.set(None);
        } else {
            evaluation.choose_text("pasted set".into(), &text);
        }
    };
    view! {
        <fieldset class="card">
            <legend>"Evaluation set"</legend>
            <p class="hint">
                "JSON Lines: one question per line, with the answer you expect, the memories that should be found "
                "(their ids, from the memory editor), or both:"
            </p>
            <pre class="example">{r#"{"question": "Which port does our API use?", "expected_answer": "8443"}
    {"question": "How do I deploy?", "expected_memory_ids": ["m0193a2b4c5d6e1f2a3b4c5d6e7f8"]}"#}</pre>
            <label for="eval-file">"Set file (.jsonl)"</label>
            <input id="eval-file" type="file" accept=".jsonl,.json,.txt,application/json"
                disabled=move || evaluation.is_running() on:change=on_file/>
            <label for="eval-text">"or paste the lines"</label>
            <textarea id="eval-text" rows="4" prop:value=move || pasted.get()
                disabled=move || evaluation.is_running() on:input=on_paste></textarea>
            <p data-testid="eval-set-status" role="status">
                {move || match evaluation.set.get() {
                    None => view! { <span class="hint">"No set chosen yet."</span> }.into_any(),
                    Some(Err(error)) => view! { <span class="error">{error}</span> }.into_any(),
                    Some(Ok((name, cases))) => {
                        let answers = cases.iter().filter(|c| c.expected_answer.is_some()).count();
                        let memories = cases.iter().filter(|c| !c.expected_memory_ids.is_empty()).count();
                        view! {
                            <span>{format!(
                                "{name}: {} ({answers} with an expected answer, {memories} with expected memories).",
                                count(cases.len(), "question", "questions")
                            )}</span>
                        }.into_any()
                    }
                }}
            </p>
        </fieldset>
    }
}

#[component]
fn RunControls() -> impl IntoView {
    let evaluation = expect_context::<Evaluation>();
    let toggle_mode = move |mode: EvalMode, on: bool| {
        evaluation.modes.update(|modes| {
            modes.retain(|m| *m != mode);
            if on {
                modes.push(mode);
            }
        })
    };
    let scorer_note = move || {
        evaluation
            .services
            .bank_state
            .with(|state| match state {
                BankState::Ready(status) if !status.reranker.ready => Some(format!(
                    "The learned scorer has not learned enough yet ({} rated citations): until it has, it ranks like memory on.",
                    status.reranker.helped + status.reranker.did_not_help
                )),
                _ => None,
            })
    };
    let can_run =
        move || !evaluation.is_running() && evaluation.set.with(|set| matches!(set, Some(Ok(_))));
    view! {
        <fieldset class="card">
            <legend>"Run"</legend>
            <fieldset class="eval-modes">
                <legend>"Answer each question with"</legend>
                {EvalMode::ALL.into_iter().map(|mode| view! {
                    <label class="checkbox">
                        <input type="checkbox" data-testid=format!("eval-mode-{mode:?}")
                            prop:checked=move || evaluation.modes.with(|modes| modes.contains(&mode))
                            on:change=move |event| toggle_mode(mode, event_target_checked(&event))/>
                        {mode.label()}
                    </label>
                }).collect_view()}
            </fieldset>
            {move || scorer_note().map(|note| view! { <p class="hint">{note}</p> })}
            <label class="checkbox">
                <input type="checkbox" data-testid="eval-answers" bind:checked=evaluation.answers/>
                "Ask the provider for answers (otherwise only which memories are found is measured, and nothing leaves the browser)"
            </label>
            <div class="eval-settings">
                <label for="eval-assistant">"Assistant"</label>
                <select id="eval-assistant" prop:value=move || evaluation.assistant_id.get()
                    on:change=move |event| evaluation.assistant_id.set(event_target_value(&event))>
                    {move || evaluation.assistants.get().into_iter().map(|assistant| view! {
                        <option value=assistant.id.clone()>{assistant.name.clone()}</option>
                    }).collect_view()}
                </select>
                <label for="eval-k">"Recall counts the first"</label>
                <input id="eval-k" type="number" min="1" max="50" prop:value=move || evaluation.k.get().to_string()
                    on:change=move |event| {
                        let k = event_target_value(&event).trim().parse::<usize>().unwrap_or(DEFAULT_K).clamp(1, 50);
                        evaluation.k.set(k);
                    }/>
                <span>"memories found"</span>
            </div>
            <div class="actions">
                {move || if evaluation.is_running() {
                    view! {
                        <button type="button" class="danger" on:click=move |_| evaluation.stop()>"Stop"</button>
                    }.into_any()
                } else {
                    view! {
                        <button type="button" class="primary" data-testid="eval-run" disabled=move || !can_run()
                            on:click=move |_| spawn_local(evaluation.run())>"Run evaluation"</button>
                    }.into_any()
                }}
            </div>
            {move || evaluation.progress.get().map(|progress| view! {
                <div class="eval-progress" role="status">
                    <progress max=progress.total.max(1) value=progress.done aria-label="Evaluation progress"></progress>
                    <span>{format!("{} ({} of {} done)", progress.label, progress.done, progress.total)}</span>
                </div>
            })}
            {move || evaluation.notice.get().map(|notice| view! { <p class="error" role="alert">{notice}</p> })}
        </fieldset>
    }
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |value| format!("{:.0}%", value * 100.0))
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[component]
fn RunResults() -> impl IntoView {
    let evaluation = expect_context::<Evaluation>();
    move || {
        evaluation.shown.get().map(|run| {
            let summaries = run.summaries();
            let title = format!(
                "{} · {} · {}",
                run.name,
                format_date_time(run.started_at),
                run.model.clone().unwrap_or_else(|| "retrieval only".into())
            );
            let stopped = run.stopped.then(|| view! {
                <p class="hint">"This run was stopped before every question had run."</p>
            });
            let scorer = (!run.scorer_ready && run.modes.contains(&EvalMode::LearnedScorer)).then(|| view! {
                <p class="hint">"The learned scorer had not learned enough during this run, so it ranked like memory on."</p>
            });
            let k = run.k;
            // Every answer is listed once the run ends (redrawing them after
            // each question would slow a long run down).
            let details = (!evaluation.is_running()).then(|| view! { <CaseDetails run=run/> });
            view! {
                <section class="card eval-results" aria-labelledby="eval-results-title">
                    <h2 id="eval-results-title">{title}</h2>
                    {stopped}
                    {scorer}
                    <table class="eval-table" data-testid="eval-summary">
                        <thead>
                            <tr>
                                <th scope="col">"Mode"</th>
                                <th scope="col">"Ran"</th>
                                <th scope="col">"Errors"</th>
                                <th scope="col">"Answer has expected"</th>
                                <th scope="col">"Answer F1"</th>
                                <th scope="col">{format!("Memory recall@{k}")}</th>
                                <th scope="col">"Median time"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {summaries.iter().map(|summary| view! {
                                <tr>
                                    <th scope="row">{summary.mode.label()}</th>
                                    <td>{summary.ran}</td>
                                    <td>{summary.errors}</td>
                                    <td>{percent(summary.contains)}</td>
                                    <td>{summary.mean_f1.map_or_else(|| "–".to_owned(), |f1| format!("{f1:.2}"))}</td>
                                    <td>{percent(summary.recall)}</td>
                                    <td>{summary.median_ms.map_or_else(|| "–".to_owned(), |ms| format!("{:.1} s", ms / 1000.0))}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                    <Chart summaries=summaries.clone() k=k/>
                    {details}
                </section>
            }
        })
    }
}

/// Bars of the three measures, one per mode, on a 0–100% scale.
#[component]
fn Chart(summaries: Vec<ModeSummary>, k: usize) -> impl IntoView {
    const WIDTH: f64 = 560.0;
    const HEIGHT: f64 = 180.0;
    const TOP: f64 = 16.0;
    const BOTTOM: f64 = 28.0;
    const BAR: f64 = 28.0;
    type Measure = fn(&ModeSummary) -> Option<f64>;
    let measures: [(String, Measure); 3] = [
        ("Answer has expected".into(), |s| s.contains),
        ("Answer F1".into(), |s| s.mean_f1),
        (format!("Memory recall@{k}"), |s| s.recall),
    ];
    let group_width = WIDTH / measures.len() as f64;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let mut bars = Vec::new();
    for (group, (name, measure)) in measures.iter().enumerate() {
        let group_left = group as f64 * group_width;
        let first = group_left + (group_width - BAR * summaries.len() as f64) / 2.0;
        for (position, summary) in summaries.iter().enumerate() {
            let Some(value) = measure(summary) else {
                continue;
            };
            let height = (value * plot_height).max(1.0);
            let x = first + position as f64 * BAR;
            let y = TOP + plot_height - height;
            let class = format!(
                "bar mode-{}",
                EvalMode::ALL
                    .iter()
                    .position(|m| *m == summary.mode)
                    .unwrap_or(0)
            );
            let tip = format!(
                "{} · {name}: {}",
                summary.mode.label(),
                percent(Some(value))
            );
            bars.push(
                view! {
                    <g>
                        <rect class=class x={x + 2.0} y=y width={BAR - 4.0} height=height aria-label=tip></rect>
                        <text class="bar-value" x={x + BAR / 2.0} y={y - 3.0} text-anchor="middle">
                            {format!("{:.0}", value * 100.0)}
                        </text>
                    </g>
                }
                .into_any(),
            );
        }
        bars.push(
            view! {
                <text class="axis-label" x={group_left + group_width / 2.0} y={HEIGHT - 8.0} text-anchor="middle">
                    {name.clone()}
                </text>
            }
            .into_any(),
        );
    }
    let legend = summaries
        .iter()
        .map(|summary| {
            let class = format!(
                "swatch mode-{}",
                EvalMode::ALL
                    .iter()
                    .position(|m| *m == summary.mode)
                    .unwrap_or(0)
            );
            view! { <li><span class=class aria-hidden="true"></span>{summary.mode.label()}</li> }
        })
        .collect_view();
    view! {
        <figure class="eval-chart">
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img"
                aria-label="The measures of each mode as bars, in percent">
                <line class="axis" x1="0" x2=WIDTH y1={HEIGHT - BOTTOM} y2={HEIGHT - BOTTOM}/>
                {bars}
            </svg>
            <figcaption><ul class="legend">{legend}</ul></figcaption>
        </figure>
    }
}

#[component]
fn CaseDetails(run: EvalRun) -> impl IntoView {
    let rows = run
        .cases
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let results: Vec<CaseResult> = run
                .results
                .iter()
                .filter(|result| result.case == index)
                .cloned()
                .collect();
            let expected = case.expected_answer.clone().unwrap_or_else(|| {
                format!(
                    "memories: {}",
                    case.expected_memory_ids
                        .iter()
                        .map(|id| id.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            });
            let cells = results
                .into_iter()
                .map(|result| {
                    let text = match (&result.error, &result.answer) {
                        (Some(error), _) => format!("Failed: {error}"),
                        (None, Some(answer)) => answer.clone(),
                        (None, None) => format!(
                            "Found: {}",
                            result
                                .retrieved
                                .iter()
                                .take(run.k)
                                .map(|id| id.0.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    view! {
                        <li>
                            <strong>{result.mode.label()}": "</strong>
                            <span class="eval-answer">{text}</span>
                        </li>
                    }
                })
                .collect_view();
            view! {
                <li>
                    <p><strong>{case.question.clone()}</strong>" — expected: "{expected}</p>
                    <ul>{cells}</ul>
                </li>
            }
        })
        .collect_view();
    view! {
        <details class="eval-details">
            <summary>"Every question and answer"</summary>
            <ol>{rows}</ol>
        </details>
    }
}

#[component]
fn SavedRuns() -> impl IntoView {
    let evaluation = expect_context::<Evaluation>();
    view! {
        <section class="card" aria-labelledby="eval-saved-title">
            <h2 id="eval-saved-title">"Saved runs"</h2>
            {move || evaluation.deleted.get().map(|run| view! {
                <p role="status">
                    {format!("Deleted the run of {}. ", run.name)}
                    <button type="button" on:click=move |_| evaluation.undo_delete()>"Undo"</button>
                </p>
            })}
            {move || match evaluation.saved.get() {
                None => view! { <p class="hint">"Reading…"</p> }.into_any(),
                Some(Err(error)) => view! { <p class="error">{error}</p> }.into_any(),
                Some(Ok(runs)) if runs.is_empty() => view! { <p class="hint">"No runs saved yet."</p> }.into_any(),
                Some(Ok(runs)) => view! {
                    <ul class="eval-saved" data-testid="eval-saved">
                        {runs.into_iter().map(|run| {
                            let shown = run.clone();
                            let id = run.id.clone();
                            let label = format!(
                                "{} · {} · {} · {}",
                                run.name,
                                format_date_time(run.started_at),
                                count(run.cases.len(), "question", "questions"),
                                run.model.clone().unwrap_or_else(|| "retrieval only".into())
                            );
                            view! {
                                <li>
                                    <span>{label}</span>
                                    <button type="button" disabled=move || evaluation.is_running()
                                        on:click=move |_| evaluation.shown.set(Some(shown.clone()))>"Show"</button>
                                    <button type="button" disabled=move || evaluation.is_running()
                                        on:click=move |_| evaluation.delete(id.clone())>"Delete"</button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
        </section>
    }
}

#[component]
fn CorrectionReport() -> impl IntoView {
    let evaluation = expect_context::<Evaluation>();
    view! {
        <section class="card" aria-labelledby="eval-corrections-title">
            <h2 id="eval-corrections-title">"Are your corrections still found?"</h2>
            <p class="hint">
                "Every correction you gave is also a test: its question should retrieve it. This runs whenever "
                "the memory changes, with the assistant and cut-off chosen above."
            </p>
            <div data-testid="eval-corrections" role="status">
                {move || match evaluation.corrections.get() {
                    CorrectionState::Idle => view! { <p class="hint">"Waiting for the memory to open…"</p> }.into_any(),
                    CorrectionState::Checking => view! { <p>"Checking…"</p> }.into_any(),
                    CorrectionState::Failed(error) => view! { <p class="error">{error}</p> }.into_any(),
                    CorrectionState::Checked { check, capped } => match check.recall() {
                        None => view! { <p>"No corrections yet: correct an answer in the chat and it is checked here."</p> }.into_any(),
                        Some(recall) => {
                            let found = check.checked - check.misses.len();
                            let misses = check.misses.iter().map(|(id, question, rank)| {
                                let where_found = rank.map_or_else(
                                    || "not found".to_owned(),
                                    |rank| format!("found at rank {rank}"),
                                );
                                view! { <li>{format!("\"{question}\" ({}): {where_found}", id.0)}</li> }
                            }).collect_view();
                            view! {
                                <p>
                                    {format!(
                                        "Recall@{}: {} — {found} of {} found for their question.",
                                        check.k,
                                        percent(Some(recall)),
                                        count(check.checked, "correction", "corrections")
                                    )}
                                    {capped.then_some(" (the newest ones only)")}
                                </p>
                                <ul class="eval-misses">{misses}</ul>
                            }.into_any()
                        }
                    },
                }}
            </div>
            <button type="button" on:click=move |_| spawn_local(evaluation.check_corrections())>"Check again"</button>
        </section>
    }
}
