// window.startWorker(url) → { request(body) → Promise<reply>, requestWithId(body) → {id, reply},
// statuses: [...], bank: [...], progress: Map(id → {done, total}), changedElsewhere: [ids] }.
// Messages are the worker protocol's JSON shapes (src/core/protocol.rs).
window.startWorker = (scriptUrl) =>
  new Promise((resolve, reject) => {
    const worker = new Worker(scriptUrl);
    const pending = new Map();
    const statuses = [];
    const bank = [];
    const progress = new Map();
    const changedElsewhere = [];
    let nextId = 1;
    const requestWithId = (body) => {
      const id = nextId++;
      const reply = new Promise((done, fail) => {
        pending.set(id, { done, fail });
        worker.postMessage({ id, request: body });
      });
      return { id, reply };
    };
    const handle = {
      statuses,
      bank,
      progress,
      changedElsewhere,
      requestWithId,
      request: (body) => requestWithId(body).reply,
      terminate: () => worker.terminate(),
    };
    worker.onerror = (event) => reject(new Error(event.message || 'worker failed to load'));
    worker.onmessage = ({ data }) => {
      if (data.type === 'ready') resolve(handle);
      else if (data.type === 'model') statuses.push(data.status);
      else if (data.type === 'bank') bank.push(data.status);
      else if (data.type === 'memories_changed_elsewhere') changedElsewhere.push(...data.ids);
      else if (data.type === 'progress') progress.set(data.id, { done: data.done, total: data.total });
      else if (data.type === 'reply') pending.get(data.id)?.done(data.reply);
      else if (data.type === 'failed') pending.get(data.id)?.fail(new Error(data.message));
    };
  });
