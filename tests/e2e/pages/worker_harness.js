// window.startWorker(url) → { request(body) → Promise<reply>, statuses: [...] }.
// Messages are the worker protocol's JSON shapes (src/core/protocol.rs).
window.startWorker = (scriptUrl) =>
  new Promise((resolve, reject) => {
    const worker = new Worker(scriptUrl);
    const pending = new Map();
    const statuses = [];
    let nextId = 1;
    const handle = {
      statuses,
      request(body) {
        const id = nextId++;
        return new Promise((done, fail) => {
          pending.set(id, { done, fail });
          worker.postMessage({ id, request: body });
        });
      },
      terminate: () => worker.terminate(),
    };
    worker.onerror = (event) => reject(new Error(event.message || 'worker failed to load'));
    worker.onmessage = ({ data }) => {
      if (data.type === 'ready') resolve(handle);
      else if (data.type === 'model') statuses.push(data.status);
      else if (data.type === 'reply') pending.get(data.id)?.done(data.reply);
      else if (data.type === 'failed') pending.get(data.id)?.fail(new Error(data.message));
    };
  });
