// The real local LLM server (support/llama_server.mjs): it starts, lists its model, streams
// an answer the way OpenAI and Anthropic do, checks its key, and lets a page on 127.0.0.1
// call it across origins. Skipped with a reason where its venv is not installed (never in CI).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startLlamaServer, llamaAvailable } from './support/llama_server.mjs';
import { readEventStream } from './support/llm_server.mjs';

const llama = llamaAvailable();
const skip = llama.available ? false : llama.reason;
const API_KEY = 'sk-casebook-local';
const PAGE_ORIGIN = 'http://127.0.0.1:8123';
const PROMPT = [
  { role: 'system', content: 'You are a helpful assistant. Memories:\n[M1] The user\'s cat is called Miso.' },
  { role: 'user', content: 'What is my cat called?' },
];
let server;

before(async () => {
  if (!skip) server = await startLlamaServer({ apiKey: API_KEY });
});

after(async () => {
  await server?.close();
});

const chat = (body, headers = {}) =>
  fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}`, ...headers },
    // cache_prompt: false, so that a repeated prompt is computed again and timings are real.
    body: JSON.stringify({ model: 'any', messages: PROMPT, temperature: 0, cache_prompt: false, ...body }),
  });

test('the server starts and lists its model', { skip }, async (t) => {
  t.diagnostic(`started in ${(server.startupMs / 1000).toFixed(2)} s`);
  const response = await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${API_KEY}` } });
  assert.equal(response.status, 200);
  const { data } = await response.json();
  assert.deepEqual(data.map(({ id }) => id), [server.model]);
});

test('a chat completion streams at temperature 0 and ends with [DONE]', { skip }, async (t) => {
  const sent = performance.now();
  const response = await chat({ stream: true, max_tokens: 32, stream_options: { include_usage: true } });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /^text\/event-stream/);
  const { events, ending } = await readEventStream(response);
  const received = performance.now();
  assert.equal(ending, 'end');
  assert.equal(events.at(-1).data, '[DONE]');
  const chunks = events.slice(0, -1).map(({ data }) => JSON.parse(data));
  assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: null });
  const deltas = chunks.map((chunk) => chunk.choices[0]?.delta?.content).filter((content) => typeof content === 'string');
  assert.ok(deltas.length >= 2, `${deltas.length} content deltas`);
  assert.notEqual(deltas.join('').trim(), '');
  const { usage, timings } = chunks.at(-1);
  assert.deepEqual(chunks.at(-1).choices, []);
  assert.ok(usage.completion_tokens > 0 && usage.prompt_tokens > 0);
  t.diagnostic(
    `${usage.prompt_tokens} prompt tokens at ${timings.prompt_per_second.toFixed(0)} tok/s, ` +
      `${usage.completion_tokens} generated at ${timings.predicted_per_second.toFixed(1)} tok/s, ` +
      `${((received - sent) / 1000).toFixed(2)} s in all`,
  );
});

test('temperature 0 gives the same answer twice', { skip }, async () => {
  const answer = async () => (await (await chat({ max_tokens: 12 })).json()).choices[0].message.content;
  const first = await answer();
  assert.notEqual(first.trim(), '');
  assert.equal(await answer(), first);
});

test('Anthropic\'s messages API streams too', { skip }, async () => {
  const response = await fetch(`${server.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({
      model: 'any', max_tokens: 8, stream: true, temperature: 0,
      system: PROMPT[0].content, messages: [PROMPT[1]],
    }),
  });
  assert.equal(response.status, 200);
  const { events } = await readEventStream(response);
  const names = events.map(({ event }) => event);
  assert.equal(names[0], 'message_start');
  assert.equal(names.at(-1), 'message_stop');
  const text = events
    .filter(({ event }) => event === 'content_block_delta')
    .map(({ data }) => JSON.parse(data).delta.text)
    .join('');
  assert.notEqual(text.trim(), '');
});

test('a wrong or missing key gets 401 with an authentication error', { skip }, async () => {
  for (const headers of [{ authorization: 'Bearer sk-wrong' }, { authorization: '' }]) {
    const response = await chat({ max_tokens: 1 }, headers);
    assert.equal(response.status, 401);
    assert.deepEqual(await response.json(), {
      error: { message: 'Invalid API Key', type: 'authentication_error', code: 401 },
    });
  }
});

test('a page on 127.0.0.1 may call it across origins, a foreign page may not', { skip }, async () => {
  const preflight = (origin) =>
    fetch(`${server.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
  // The preflight carries no key, and the server must not ask for one.
  const allowed = await preflight(PAGE_ORIGIN);
  assert.equal(allowed.status, 200);
  assert.equal(allowed.headers.get('access-control-allow-origin'), PAGE_ORIGIN);
  assert.match(allowed.headers.get('access-control-allow-methods'), /POST/);
  assert.equal(allowed.headers.get('access-control-allow-headers'), '*');
  const models = await fetch(`${server.url}/v1/models`, {
    headers: { origin: PAGE_ORIGIN, authorization: `Bearer ${API_KEY}` },
  });
  assert.equal(models.headers.get('access-control-allow-origin'), PAGE_ORIGIN);

  const foreign = await preflight('http://example.com');
  assert.equal(foreign.headers.get('access-control-allow-origin'), null);
});

test('close() stops the process', { skip }, async () => {
  await server.close();
  await assert.rejects(fetch(`${server.url}/health`), TypeError);
  await server.close();
});
