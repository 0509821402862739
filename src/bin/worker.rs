//! The background worker: it will own the embedding model and the vector index,
//! so that heavy work never runs on the page's thread.

#[cfg(target_arch = "wasm32")]
fn main() {
    worker::run();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("The Casebook worker runs inside the browser; build it with trunk.");
    std::process::exit(2);
}

#[cfg(target_arch = "wasm32")]
mod worker {
    use casebook::core::protocol::{self, Envelope, WorkerEvent, WorkerInfo};
    use wasm_bindgen::prelude::*;
    use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

    pub fn run() {
        console_error_panic_hook::set_once();
        let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
        let reply_scope = scope.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(answer) = handle(event.data()) {
                post(&reply_scope, &answer);
            }
        });
        scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // The handler lives as long as the worker does.
        on_message.forget();
        post(
            &scope,
            &WorkerEvent::Ready {
                info: WorkerInfo::of_this_build(),
            },
        );
    }

    fn handle(data: JsValue) -> Option<WorkerEvent> {
        match serde_wasm_bindgen::from_value::<Envelope>(data.clone()) {
            Ok(Envelope { id, request }) => Some(WorkerEvent::Reply {
                id,
                reply: protocol::answer_stateless(&request),
            }),
            Err(error) => {
                // Answer under the sender's id if the envelope has one; otherwise
                // nobody waits for an answer and the console is the only witness.
                let id = js_sys::Reflect::get(&data, &"id".into())
                    .ok()
                    .and_then(|id| id.as_f64());
                match id {
                    Some(id) => Some(WorkerEvent::Failed {
                        id: id as u32,
                        message: format!("The worker could not read the request: {error}"),
                    }),
                    None => {
                        web_sys::console::error_1(
                            &format!("worker: message without an id: {error}").into(),
                        );
                        None
                    }
                }
            }
        }
    }

    fn post(scope: &DedicatedWorkerGlobalScope, event: &WorkerEvent) {
        match serde_wasm_bindgen::to_value(event) {
            Ok(message) => {
                if let Err(error) = scope.post_message(&message) {
                    web_sys::console::error_2(&"worker: postMessage failed".into(), &error);
                }
            }
            Err(error) => web_sys::console::error_1(
                &format!("worker: could not encode an answer: {error}").into(),
            ),
        }
    }
}
