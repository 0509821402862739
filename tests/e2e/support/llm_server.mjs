// A scripted LLM provider on 127.0.0.1 for end-to-end tests: it speaks OpenAI's chat
// completions and Anthropic's messages API (streamed and not), with their error bodies and
// CORS conventions, records every request, and answers each chat request with the next
// scripted reply: text, an HTTP error, a stall, a dropped connection, a malformed or failing
// stream, or an echo of the prompt it received.
//
//   const llm = await startLlmServer({ apiKey: 'sk-test' });
//   llm.script({ text: 'Hello [M1]' }, { status: 429 }, (request) => ({ echoPrompt: true }));
//   // ... the app calls llm.url + '/v1/chat/completions' or llm.url + '/v1/messages' ...
//   llm.requests  // [{ method, path, headers, body, raw, time }], oldest first
//   llm.configure({ cors: 'refuse' });  // change any start option for the next requests
//   llm.reset();  // forget requests and script, restore the options given at start
//   await llm.close();
//
// Streams reach the client the way a real network delivers them at its worst: every TCP
// write ends inside an event, in the middle of a line or between the bytes of one UTF-8
// character, with a pause between writes so that "Stop" can be pressed mid-answer.
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export const DEFAULT_MODEL = 'casebook-test-model';
export const DEFAULT_REPLY_TEXT =
  'From what you told me before [M1], the answer is 42 — served with a café au lait ☕.';
const DEFAULT_CHUNK_DELAY_MS = 10;
// Long texts (an echoed prompt) are grouped into at most this many deltas so that a stream
// never takes more than about a second at the default delay.
const MAX_DELTAS = 48;
const DEFAULT_RETRY_AFTER_SECONDS = 2;

const REPLY_KEYS = new Set([
  'text', 'chunkDelayMs', 'status', 'body', 'headers', 'stall', 'cutAfter', 'stallAfter',
  'malformed', 'errorAfter200', 'afterChunks', 'echoPrompt',
]);

/// Starts the server. Options (all can be changed later with `configure`):
/// - port: 0 picks a free port;
/// - apiKey: when set, requests without this key get the provider's 401;
/// - cors: 'allow' (answer preflights for the requested headers and let the page read the
///   response, as providers that support browsers do) or 'refuse' (no CORS headers at all,
///   so the browser blocks the call);
/// - anthropicBrowserHeader: like Anthropic, refuse browser calls (those with an Origin) that
///   lack `anthropic-dangerous-direct-browser-access: true` (default true);
/// - defaultReply: the reply when the script is empty (an object or a function of the request);
/// - models: the model ids that /v1/models lists.
export async function startLlmServer({ port = 0, ...options } = {}) {
  const initial = {
    apiKey: undefined,
    cors: 'allow',
    anthropicBrowserHeader: true,
    defaultReply: { text: DEFAULT_REPLY_TEXT },
    models: [DEFAULT_MODEL],
    ...options,
  };
  checkOptions(initial);
  const state = { options: { ...initial }, queue: [], serial: 0 };
  const requests = [];
  // Responses that are deliberately left unanswered, ended by reset() and close().
  const stalled = new Set();

  const server = createServer((request, response) => {
    handle(request, response, { state, requests, stalled }).catch((error) => {
      if (!response.headersSent) {
        response.writeHead(500, { 'content-type': 'text/plain' });
      }
      response.end(`llm_server: ${error.stack ?? error}`);
    });
  });
  await new Promise((ready, failed) => {
    server.once('error', failed);
    server.listen(port, '127.0.0.1', ready);
  });

  const endStalls = () => {
    for (const response of stalled) response.destroy();
    stalled.clear();
  };

  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    /// Queues replies; each chat request (either provider) takes the next one.
    script(...replies) {
      replies.forEach(checkReply);
      state.queue.push(...replies);
    },
    /// How many scripted replies are still waiting for a request.
    get queued() {
      return state.queue.length;
    },
    configure(changes) {
      const options = { ...state.options, ...changes };
      checkOptions(options);
      state.options = options;
    },
    reset() {
      requests.length = 0;
      state.queue.length = 0;
      state.options = { ...initial };
      endStalls();
    },
    close() {
      endStalls();
      server.closeAllConnections();
      return new Promise((done) => server.close(done));
    },
  };
}

const OPTION_KEYS = new Set(['apiKey', 'cors', 'anthropicBrowserHeader', 'defaultReply', 'models']);

function checkOptions(options) {
  const unknown = Object.keys(options).filter((key) => !OPTION_KEYS.has(key));
  if (unknown.length > 0) {
    throw new TypeError(`llm_server: unknown option(s) ${unknown.join(', ')}`);
  }
  const { cors, defaultReply, models } = options;
  if (cors !== 'allow' && cors !== 'refuse') {
    throw new TypeError(`llm_server: cors must be 'allow' or 'refuse', not ${JSON.stringify(cors)}`);
  }
  checkReply(defaultReply);
  if (!Array.isArray(models) || models.length === 0) {
    throw new TypeError('llm_server: models must list at least one model id');
  }
}

// A typo in a script ({ txt: ... }) would otherwise silently become the default reply.
function checkReply(reply) {
  if (typeof reply === 'function') return;
  if (reply === null || typeof reply !== 'object') {
    throw new TypeError(`llm_server: a reply is an object or a function, not ${JSON.stringify(reply)}`);
  }
  const unknown = Object.keys(reply).filter((key) => !REPLY_KEYS.has(key));
  if (unknown.length > 0) {
    throw new TypeError(`llm_server: unknown reply field(s) ${unknown.join(', ')}`);
  }
}

async function handle(request, response, { state, requests, stalled }) {
  const url = new URL(request.url, 'http://127.0.0.1');
  const raw = await readBody(request);
  const record = {
    method: request.method,
    path: url.pathname,
    headers: { ...request.headers },
    body: parseJson(raw),
    raw,
    time: Date.now(),
  };
  requests.push(record);
  response.socket?.setNoDelay(true);

  const { options } = state;
  const origin = request.headers.origin;
  const provider = providerOf(record);

  if (request.method === 'OPTIONS') {
    answerPreflight(request, response, options.cors);
    return;
  }

  // Anthropic answers a browser call without the opt-in header with a 401 that carries no
  // CORS header, so the page sees only a network error.
  if (provider === ANTHROPIC && origin && options.anthropicBrowserHeader &&
      request.headers['anthropic-dangerous-direct-browser-access'] !== 'true') {
    sendJson(response, 401, {}, ANTHROPIC.errorBody(401, {
      type: 'authentication_error',
      message: "CORS requests must set 'anthropic-dangerous-direct-browser-access' header",
    }));
    return;
  }
  const cors = corsHeaders(provider, origin, options.cors);

  if (options.apiKey !== undefined) {
    const sent = provider.keyOf(request.headers);
    if (sent !== options.apiKey) {
      sendJson(response, 401, cors, provider.keyError(sent));
      return;
    }
  }

  const isChat = request.method === 'POST' && url.pathname === provider.chatPath;
  if (request.method === 'GET' && url.pathname === '/v1/models') {
    sendJson(response, 200, cors, provider.modelList(options.models));
    return;
  }
  if (!isChat) {
    sendJson(response, 404, cors, provider.notFound(request.method, url.pathname));
    return;
  }
  const invalid = provider.validate(record);
  if (invalid) {
    sendJson(response, 400, cors, provider.errorBody(400, { message: invalid }));
    return;
  }

  const next = state.queue.length > 0 ? state.queue.shift() : options.defaultReply;
  const reply = typeof next === 'function' ? await next(record) : next;
  checkReply(reply);
  state.serial += 1;
  await answerChat({ provider, record, reply, cors, response, stalled, state });
}

function readBody(request) {
  return new Promise((done, failed) => {
    const parts = [];
    request.on('data', (part) => parts.push(part));
    request.on('end', () => done(Buffer.concat(parts).toString('utf8')));
    request.on('error', failed);
  });
}

function parseJson(text) {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function answerPreflight(request, response, mode) {
  const origin = request.headers.origin;
  if (mode === 'refuse' || !origin) {
    response.writeHead(204).end();
    return;
  }
  response.writeHead(204, {
    'access-control-allow-origin': origin,
    'access-control-allow-methods': 'GET, POST, OPTIONS',
    'access-control-allow-headers': request.headers['access-control-request-headers'] ?? '',
    // Tests switch CORS off and on between calls: a cached preflight would hide that.
    'access-control-max-age': '0',
    vary: 'Origin, Access-Control-Request-Headers',
  });
  response.end();
}

function corsHeaders(provider, origin, mode) {
  if (mode === 'refuse' || !origin) return {};
  // Anthropic allows any origin (once opted in) and exposes every header; OpenAI-compatible
  // servers echo the page's Origin.
  if (provider === ANTHROPIC) {
    return { 'access-control-allow-origin': '*', 'access-control-expose-headers': '*' };
  }
  return { 'access-control-allow-origin': origin, vary: 'Origin' };
}

function sendJson(response, status, headers, body) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

async function answerChat({ provider, record, reply, cors, response, stalled, state }) {
  if (reply.status !== undefined) {
    const headers = { ...cors, ...provider.errorHeaders(reply.status), ...reply.headers };
    const body = reply.body ?? provider.errorBody(reply.status, { model: modelOf(record, state) });
    sendJson(response, reply.status, headers, body);
    return;
  }
  if (reply.stall) {
    stalled.add(response);
    return;
  }
  const text = reply.echoPrompt ? provider.describePrompt(record.body) : reply.text ?? DEFAULT_REPLY_TEXT;
  const answer = {
    id: provider.idPrefix + state.serial,
    model: modelOf(record, state),
    deltas: splitIntoDeltas(text),
    text,
    promptTokens: Math.ceil(JSON.stringify(provider.promptOf(record.body)).length / 4),
  };
  const delayMs = reply.chunkDelayMs ?? DEFAULT_CHUNK_DELAY_MS;

  if (record.body.stream !== true) {
    await answerWhole({ provider, record, reply, cors, response, stalled, answer, delayMs });
    return;
  }

  const stream = provider.streamEvents(answer, record.body);
  const shown = Math.min(reply.cutAfter ?? reply.stallAfter ?? reply.afterChunks ?? 1, stream.deltas.length);
  let events;
  if (reply.cutAfter !== undefined || reply.stallAfter !== undefined) {
    events = [...stream.head, ...stream.deltas.slice(0, shown)];
  } else if (reply.malformed) {
    events = [...stream.head, ...stream.deltas.slice(0, shown), provider.malformedEvent,
      ...stream.deltas.slice(shown), ...stream.tail];
  } else if (reply.errorAfter200) {
    events = [...stream.head, ...stream.deltas.slice(0, shown), provider.errorEvent(reply.errorAfter200)];
  } else {
    events = [...stream.head, ...stream.deltas, ...stream.tail];
  }

  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...cors,
  });
  response.flushHeaders();
  await writeAwkwardly(response, events, delayMs);
  if (reply.cutAfter !== undefined) {
    response.destroy();
  } else if (reply.stallAfter !== undefined) {
    stalled.add(response);
  } else {
    response.end();
  }
}

// A non-streamed answer; the stream faults have their whole-body equivalents.
async function answerWhole({ provider, reply, cors, response, stalled, answer, delayMs }) {
  if (reply.errorAfter200) {
    sendJson(response, 200, cors, provider.errorBody(500, reply.errorAfter200));
    return;
  }
  const body = reply.malformed ? 'this is not JSON {' : JSON.stringify(provider.wholeAnswer(answer));
  if (reply.cutAfter === undefined && reply.stallAfter === undefined) {
    sendJson(response, 200, cors, body);
    return;
  }
  response.writeHead(200, { 'content-type': 'application/json', ...cors });
  await writeOut(response, body.slice(0, Math.floor(body.length / 2)));
  await sleep(delayMs);
  if (reply.cutAfter !== undefined) {
    response.destroy();
  } else {
    stalled.add(response);
  }
}

function modelOf(record, state) {
  const asked = record.body?.model;
  return typeof asked === 'string' && asked !== '' ? asked : state.options.models[0];
}

/// Splits text into deltas the way a tokenizer-driven stream looks: words with their leading
/// whitespace, grouped when there are more than MAX_DELTAS of them.
export function splitIntoDeltas(text, maxDeltas = MAX_DELTAS) {
  const words = text.match(/\s*\S+|\s+/gu) ?? [];
  const perDelta = Math.max(1, Math.ceil(words.length / maxDeltas));
  const deltas = [];
  for (let start = 0; start < words.length; start += perDelta) {
    deltas.push(words.slice(start, start + perDelta).join(''));
  }
  return deltas;
}

// Each event is cut once: between the bytes of its first multi-byte character if it has
// one, otherwise in the middle of its first line. Writes run from one cut to the next, so no
// write ever ends at an event or line boundary.
async function writeAwkwardly(response, events, delayMs) {
  const buffers = events.map((event) => Buffer.from(event, 'utf8'));
  const cuts = buffers.map(awkwardCut);
  let carry = Buffer.alloc(0);
  for (let index = 0; index < buffers.length; index += 1) {
    if (response.destroyed) return;
    const buffer = buffers[index];
    await writeOut(response, Buffer.concat([carry, buffer.subarray(0, cuts[index])]));
    carry = buffer.subarray(cuts[index]);
    await sleep(delayMs);
  }
  if (!response.destroyed && carry.length > 0) await writeOut(response, carry);
}

// Resolves once the bytes are handed to the socket, so that destroying the connection
// right after (cutAfter) drops what follows and never what was already sent; a client that
// hangs up (Stop) ends the wait as well.
function writeOut(response, bytes) {
  return new Promise((done) => {
    response.once('close', done);
    response.write(bytes, () => {
      response.off('close', done);
      done();
    });
  });
}

function awkwardCut(buffer) {
  const continuation = buffer.findIndex((byte) => (byte & 0xc0) === 0x80);
  if (continuation > 0) return continuation;
  const lineEnd = buffer.indexOf(0x0a);
  return Math.max(1, Math.floor((lineEnd > 0 ? lineEnd : buffer.length) / 2));
}

const sse = (data) => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
const namedSse = (event, data) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
const nowSeconds = () => Math.floor(Date.now() / 1000);

// Text of a message's content: a string, or an array of parts of which the text ones count.
function contentText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (part?.type === 'text' && typeof part.text === 'string' ? part.text : `[${part?.type} part]`))
      .join('\n');
  }
  return '';
}

function describeMessages(model, messages) {
  const lines = messages.map(({ role, content }) => `${role}: ${contentText(content)}`);
  return [`Prompt received (model ${model}, ${messages.length} messages):`, ...lines].join('\n');
}

function maskKey(key) {
  return key.length <= 8 ? '*'.repeat(key.length) : `${key.slice(0, 3)}${'*'.repeat(key.length - 7)}${key.slice(-4)}`;
}

const OPENAI = {
  chatPath: '/v1/chat/completions',
  idPrefix: 'chatcmpl-casebook',

  keyOf(headers) {
    const match = /^Bearer (.+)$/.exec(headers.authorization ?? '');
    return match?.[1];
  },

  keyError(sent) {
    const message = sent === undefined
      ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
      : `Incorrect API key provided: ${maskKey(sent)}. You can find your API key at https://platform.openai.com/account/api-keys.`;
    return { error: { message, type: 'invalid_request_error', param: null, code: sent === undefined ? null : 'invalid_api_key' } };
  },

  modelList(models) {
    return {
      object: 'list',
      data: models.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'casebook-tests' })),
    };
  },

  notFound(method, path) {
    return { error: { message: `Invalid URL (${method} ${path})`, type: 'invalid_request_error', param: null, code: null } };
  },

  validate({ body }) {
    if (body === null || typeof body !== 'object') return 'We could not parse the JSON body of your request.';
    if (typeof body.model !== 'string') return 'you must provide a model parameter';
    if (!Array.isArray(body.messages) || body.messages.length === 0) return "Missing required parameter: 'messages'.";
    return undefined;
  },

  errorHeaders(status) {
    return status === 429 ? { 'retry-after': String(DEFAULT_RETRY_AFTER_SECONDS) } : {};
  },

  errorBody(status, { model = DEFAULT_MODEL, type, message } = {}) {
    const standard = {
      400: ['invalid_request_error', 'Invalid request.', null],
      401: ['invalid_request_error', 'Incorrect API key provided: sk-***. You can find your API key at https://platform.openai.com/account/api-keys.', 'invalid_api_key'],
      403: ['invalid_request_error', 'Country, region, or territory not supported', 'unsupported_country_region_territory'],
      404: ['invalid_request_error', `The model \`${model}\` does not exist or you do not have access to it.`, 'model_not_found'],
      429: ['requests', `Rate limit reached for ${model} in organization org-casebook on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in ${DEFAULT_RETRY_AFTER_SECONDS}s. Visit https://platform.openai.com/account/rate-limits to learn more.`, 'rate_limit_exceeded'],
      500: ['server_error', 'The server had an error while processing your request. Sorry about that!', null],
    }[status] ?? ['server_error', 'The engine is currently overloaded, please try again later.', null];
    return { error: { message: message ?? standard[1], type: type ?? standard[0], param: null, code: standard[2] } };
  },

  promptOf(body) {
    return body.messages;
  },

  describePrompt(body) {
    return describeMessages(body.model, body.messages);
  },

  streamEvents({ id, model, deltas, promptTokens }, body) {
    const created = nowSeconds();
    const chunk = (choices, extra = {}) =>
      sse({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_casebook', choices, ...extra });
    const choice = (delta, finishReason = null) => [{ index: 0, delta, logprobs: null, finish_reason: finishReason }];
    const tail = [chunk(choice({}, 'stop'))];
    if (body.stream_options?.include_usage === true) {
      tail.push(chunk([], {
        usage: { prompt_tokens: promptTokens, completion_tokens: deltas.length, total_tokens: promptTokens + deltas.length },
      }));
    }
    tail.push(sse('[DONE]'));
    return {
      head: [chunk(choice({ role: 'assistant', content: null }))],
      deltas: deltas.map((content) => chunk(choice({ content }))),
      tail,
    };
  },

  malformedEvent: 'data: {"id":"chatcmpl-broken","choices":[{"index":0,"delta":{"content":"trunc\n\n',

  errorEvent({ type = 'server_error', message = 'The server had an error while processing your request. Sorry about that!' }) {
    return sse({ error: { message, type, param: null, code: null } });
  },

  wholeAnswer({ id, model, text, deltas, promptTokens }) {
    return {
      id,
      object: 'chat.completion',
      created: nowSeconds(),
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: promptTokens, completion_tokens: deltas.length, total_tokens: promptTokens + deltas.length },
    };
  },
};

const ANTHROPIC = {
  chatPath: '/v1/messages',
  idPrefix: 'msg_casebook',

  keyOf(headers) {
    return headers['x-api-key'];
  },

  keyError(sent) {
    return ANTHROPIC.errorBody(401, {
      message: sent === undefined ? 'x-api-key header is required' : 'invalid x-api-key',
    });
  },

  modelList(models) {
    return {
      data: models.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-01-01T00:00:00Z' })),
      has_more: false,
      first_id: models[0],
      last_id: models[models.length - 1],
    };
  },

  notFound() {
    return ANTHROPIC.errorBody(404, { message: 'Not Found' });
  },

  validate({ body, headers }) {
    if (!headers['anthropic-version']) return 'anthropic-version: header is required';
    if (body === null || typeof body !== 'object') return 'There was an issue with your request body: it is not valid JSON.';
    if (typeof body.model !== 'string') return 'model: Field required';
    if (typeof body.max_tokens !== 'number') return 'max_tokens: Field required';
    if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: Field required';
    return undefined;
  },

  errorHeaders(status) {
    return {
      'request-id': 'req_casebook',
      ...(status === 429 ? { 'retry-after': String(DEFAULT_RETRY_AFTER_SECONDS) } : {}),
    };
  },

  errorBody(status, { model = DEFAULT_MODEL, type, message } = {}) {
    const standard = {
      400: ['invalid_request_error', 'Invalid request.'],
      401: ['authentication_error', 'invalid x-api-key'],
      403: ['permission_error', 'Your API key does not have permission to use the specified resource.'],
      404: ['not_found_error', `model: ${model}`],
      413: ['request_too_large', 'Request exceeds the maximum allowed number of bytes.'],
      429: ['rate_limit_error', 'This request would exceed the rate limit for your organization of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.'],
      500: ['api_error', 'Internal server error'],
    }[status] ?? ['overloaded_error', 'Overloaded'];
    return { type: 'error', error: { type: type ?? standard[0], message: message ?? standard[1] }, request_id: 'req_casebook' };
  },

  promptOf(body) {
    return { system: body.system, messages: body.messages };
  },

  describePrompt(body) {
    const messages = body.system === undefined
      ? body.messages
      : [{ role: 'system', content: body.system }, ...body.messages];
    return describeMessages(body.model, messages);
  },

  streamEvents({ id, model, deltas, promptTokens }) {
    return {
      head: [
        namedSse('message_start', {
          type: 'message_start',
          message: {
            id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null,
            usage: { input_tokens: promptTokens, output_tokens: 1 },
          },
        }),
        namedSse('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
        namedSse('ping', { type: 'ping' }),
      ],
      deltas: deltas.map((text) =>
        namedSse('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })),
      tail: [
        namedSse('content_block_stop', { type: 'content_block_stop', index: 0 }),
        namedSse('message_delta', {
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: deltas.length },
        }),
        namedSse('message_stop', { type: 'message_stop' }),
      ],
    };
  },

  malformedEvent: 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_del\n\n',

  errorEvent({ type = 'overloaded_error', message = 'Overloaded' }) {
    return namedSse('error', { type: 'error', error: { type, message } });
  },

  wholeAnswer({ id, model, text, deltas, promptTokens }) {
    return {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [{ type: 'text', text }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: promptTokens, output_tokens: deltas.length },
    };
  },
};

// Both APIs share /v1/models; Anthropic's clients are recognised by their headers.
function providerOf({ path, headers }) {
  if (path === ANTHROPIC.chatPath) return ANTHROPIC;
  if (path === OPENAI.chatPath) return OPENAI;
  return headers['x-api-key'] !== undefined || headers['anthropic-version'] !== undefined ? ANTHROPIC : OPENAI;
}

/// Reads a server-sent event stream from a fetch Response the way a careful client must:
/// decoding UTF-8 across reads and splitting events by line, whatever the read boundaries.
/// Returns { reads: the raw byte chunks, events: [{ event, data }], ending } where ending is
/// 'end', 'cancelled' (stopWhen(events) returned true, like a user pressing Stop) or the
/// error the body failed with.
export async function readEventStream(response, { stopWhen } = {}) {
  const reads = [];
  const events = [];
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  let pending = '';
  let event = { event: undefined, data: [] };
  let ending = 'end';
  const field = (line, name) => line.slice(name.length + 1).replace(/^ /, '');
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      reads.push(value);
      pending += decoder.decode(value, { stream: true });
      const lines = pending.split('\n');
      pending = lines.pop();
      for (const line of lines.map((text) => text.replace(/\r$/, ''))) {
        if (line === '') {
          if (event.data.length > 0) events.push({ event: event.event, data: event.data.join('\n') });
          event = { event: undefined, data: [] };
        } else if (line.startsWith('event:')) {
          event.event = field(line, 'event');
        } else if (line.startsWith('data:')) {
          event.data.push(field(line, 'data'));
        }
      }
      if (stopWhen?.(events)) {
        await reader.cancel();
        ending = 'cancelled';
        break;
      }
    }
  } catch (error) {
    ending = error;
  }
  return { reads, events, ending };
}
