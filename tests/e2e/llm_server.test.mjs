// Keeps the scripted LLM server (support/llm_server.mjs) honest: node's fetch talks to it as
// the app will, and every reply kind, fault and record is checked without a browser.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startLlmServer, readEventStream, splitIntoDeltas, DEFAULT_MODEL, DEFAULT_REPLY_TEXT,
} from './support/llm_server.mjs';

const PAGE_ORIGIN = 'http://127.0.0.1:8123';
let llm;

before(async () => {
  llm = await startLlmServer();
});

after(async () => {
  await llm?.close();
});

afterEach(() => {
  llm.reset();
});

const openaiChat = (body, headers = {}) =>
  fetch(`${llm.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test', ...headers },
    body: JSON.stringify({ model: 'gpt-test', messages: [{ role: 'user', content: 'Hi' }], stream: true, ...body }),
  });

const anthropicChat = (body, headers = {}) =>
  fetch(`${llm.url}/v1/messages`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-api-key': 'sk-ant-test',
      'anthropic-version': '2023-06-01',
      ...headers,
    },
    body: JSON.stringify({
      model: 'claude-test', max_tokens: 256, messages: [{ role: 'user', content: 'Hi' }], stream: true, ...body,
    }),
  });

const openaiText = (events) =>
  events
    .filter(({ data }) => data !== '[DONE]')
    .map(({ data }) => JSON.parse(data).choices?.[0]?.delta?.content ?? '')
    .join('');

const anthropicText = (events) =>
  events
    .filter(({ event }) => event === 'content_block_delta')
    .map(({ data }) => JSON.parse(data).delta.text)
    .join('');

test('an OpenAI stream has the provider shape, ends with [DONE] and carries the whole text', async () => {
  llm.script({ text: 'Grüße aus Köln — see [M3].' });
  const response = await openaiChat({ stream_options: { include_usage: true } });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /^text\/event-stream/);
  const { events, ending } = await readEventStream(response);
  assert.equal(ending, 'end');

  const [first, ...others] = events;
  const firstChunk = JSON.parse(first.data);
  assert.equal(firstChunk.object, 'chat.completion.chunk');
  assert.equal(firstChunk.model, 'gpt-test');
  assert.deepEqual(firstChunk.choices[0].delta, { role: 'assistant', content: null });
  assert.equal(others.at(-1).data, '[DONE]');
  const usage = JSON.parse(others.at(-2).data);
  assert.deepEqual(usage.choices, []);
  assert.equal(usage.usage.total_tokens, usage.usage.prompt_tokens + usage.usage.completion_tokens);
  assert.equal(JSON.parse(others.at(-3).data).choices[0].finish_reason, 'stop');
  assert.equal(openaiText(events), 'Grüße aus Köln — see [M3].');
});

test('without include_usage there is no usage chunk', async () => {
  const { events } = await readEventStream(await openaiChat({}));
  assert.equal(events.at(-1).data, '[DONE]');
  assert.equal(JSON.parse(events.at(-2).data).choices[0].finish_reason, 'stop');
  assert.ok(events.every(({ data }) => data === '[DONE]' || !('usage' in JSON.parse(data))));
  assert.equal(openaiText(events), DEFAULT_REPLY_TEXT);
});

test('network reads end mid-line and split UTF-8 characters', async () => {
  const { reads } = await readEventStream(await openaiChat({}));
  assert.ok(reads.length > 5, `only ${reads.length} reads`);
  const text = (bytes) => Buffer.from(bytes).toString('latin1');
  // Only the very last read may end where an event ends.
  assert.ok(reads.slice(0, -1).every((bytes) => !text(bytes).endsWith('\n\n')), 'a read ended on an event boundary');
  const strict = new TextDecoder('utf-8', { fatal: true });
  const broken = reads.filter((bytes) => {
    try {
      strict.decode(bytes);
      return false;
    } catch {
      return true;
    }
  });
  assert.ok(broken.length > 0, 'no read split a multi-byte character');
});

test('a non-streamed OpenAI answer is one chat.completion object', async () => {
  llm.script({ text: 'Plain answer.' });
  const response = await openaiChat({ stream: false });
  const body = await response.json();
  assert.equal(body.object, 'chat.completion');
  assert.deepEqual(body.choices[0].message, { role: 'assistant', content: 'Plain answer.', refusal: null });
  assert.equal(body.choices[0].finish_reason, 'stop');
  assert.ok(body.usage.prompt_tokens > 0);
});

test('an Anthropic stream has its events in order and the whole text', async () => {
  llm.script({ text: 'Bonjour, ça va? [M2]' });
  const response = await anthropicChat({});
  assert.equal(response.status, 200);
  const { events, ending } = await readEventStream(response);
  assert.equal(ending, 'end');
  const names = events.map(({ event }) => event);
  const deltas = names.filter((name) => name === 'content_block_delta').length;
  assert.ok(deltas >= 3);
  assert.deepEqual(names, [
    'message_start', 'content_block_start', 'ping',
    ...Array(deltas).fill('content_block_delta'),
    'content_block_stop', 'message_delta', 'message_stop',
  ]);
  assert.ok(events.every(({ event, data }) => JSON.parse(data).type === event));
  const start = JSON.parse(events[0].data).message;
  assert.equal(start.model, 'claude-test');
  assert.equal(start.role, 'assistant');
  const messageDelta = JSON.parse(events.at(-2).data);
  assert.equal(messageDelta.delta.stop_reason, 'end_turn');
  assert.equal(messageDelta.usage.output_tokens, deltas);
  assert.equal(anthropicText(events), 'Bonjour, ça va? [M2]');
});

test('a non-streamed Anthropic answer is one message object', async () => {
  llm.script({ text: 'Whole.' });
  const body = await (await anthropicChat({ stream: false })).json();
  assert.equal(body.type, 'message');
  assert.deepEqual(body.content, [{ type: 'text', text: 'Whole.' }]);
  assert.equal(body.stop_reason, 'end_turn');
});

test('/v1/models answers in the shape of the provider that asks', async () => {
  const openai = await (await fetch(`${llm.url}/v1/models`, { headers: { authorization: 'Bearer x' } })).json();
  assert.equal(openai.object, 'list');
  assert.deepEqual(openai.data.map(({ id, object }) => [id, object]), [[DEFAULT_MODEL, 'model']]);
  const anthropic = await (await fetch(`${llm.url}/v1/models`, {
    headers: { 'x-api-key': 'x', 'anthropic-version': '2023-06-01' },
  })).json();
  assert.deepEqual(anthropic.data.map(({ id, type }) => [id, type]), [[DEFAULT_MODEL, 'model']]);
  assert.equal(anthropic.has_more, false);
});

test('scripted HTTP errors have each provider\'s error body, and 429 says when to retry', async () => {
  const statuses = [401, 404, 429, 500, 529];
  llm.script(...statuses.map((status) => ({ status })));
  const openaiTypes = [];
  for (const status of statuses) {
    const response = await openaiChat({});
    assert.equal(response.status, status);
    const { error } = await response.json();
    assert.equal(typeof error.message, 'string');
    openaiTypes.push(error.type);
    assert.equal(response.headers.get('retry-after'), status === 429 ? '2' : null);
  }
  assert.deepEqual(openaiTypes, ['invalid_request_error', 'invalid_request_error', 'requests', 'server_error', 'server_error']);

  llm.script(...statuses.map((status) => ({ status })));
  const anthropicTypes = [];
  for (const status of statuses) {
    const response = await anthropicChat({});
    assert.equal(response.status, status);
    const body = await response.json();
    assert.equal(body.type, 'error');
    anthropicTypes.push(body.error.type);
    assert.equal(response.headers.get('retry-after'), status === 429 ? '2' : null);
  }
  assert.deepEqual(anthropicTypes, ['authentication_error', 'not_found_error', 'rate_limit_error', 'api_error', 'overloaded_error']);
});

test('an error reply can bring its own body and headers', async () => {
  llm.script({ status: 429, body: { error: { message: 'slow down' } }, headers: { 'retry-after': '7' } });
  const response = await openaiChat({});
  assert.equal(response.headers.get('retry-after'), '7');
  assert.deepEqual(await response.json(), { error: { message: 'slow down' } });
});

test('with an API key set, a wrong or missing key gets the provider\'s 401 and the right one passes', async () => {
  llm.configure({ apiKey: 'sk-right-key-123' });
  const wrong = await openaiChat({}, { authorization: 'Bearer sk-wrong-key-456' });
  assert.equal(wrong.status, 401);
  const { error } = await wrong.json();
  assert.equal(error.code, 'invalid_api_key');
  assert.ok(!error.message.includes('sk-wrong-key-456'), 'the key is masked in the message');
  const missing = await openaiChat({}, { authorization: '' });
  assert.equal(missing.status, 401);
  assert.equal((await openaiChat({ stream: false }, { authorization: 'Bearer sk-right-key-123' })).status, 200);

  const anthropicWrong = await anthropicChat({}, { 'x-api-key': 'nope' });
  assert.equal(anthropicWrong.status, 401);
  assert.deepEqual((await anthropicWrong.json()).error, { type: 'authentication_error', message: 'invalid x-api-key' });
  assert.equal((await anthropicChat({ stream: false }, { 'x-api-key': 'sk-right-key-123' })).status, 200);
});

test('a preflight is answered for the page\'s origin with the headers it asked for', async () => {
  const response = await fetch(`${llm.url}/v1/chat/completions`, {
    method: 'OPTIONS',
    headers: {
      origin: PAGE_ORIGIN,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type',
    },
  });
  assert.equal(response.status, 204);
  assert.equal(response.headers.get('access-control-allow-origin'), PAGE_ORIGIN);
  assert.equal(response.headers.get('access-control-allow-headers'), 'authorization,content-type');
  assert.match(response.headers.get('access-control-allow-methods'), /POST/);
  const chat = await openaiChat({ stream: false }, { origin: PAGE_ORIGIN });
  assert.equal(chat.headers.get('access-control-allow-origin'), PAGE_ORIGIN);
});

test('refusing CORS leaves out every CORS header', async () => {
  llm.configure({ cors: 'refuse' });
  const preflight = await fetch(`${llm.url}/v1/chat/completions`, {
    method: 'OPTIONS',
    headers: { origin: PAGE_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
  });
  const chat = await openaiChat({ stream: false }, { origin: PAGE_ORIGIN });
  for (const response of [preflight, chat]) {
    const cors = [...response.headers.keys()].filter((name) => name.startsWith('access-control-'));
    assert.deepEqual(cors, []);
  }
});

test('Anthropic refuses browser calls without the direct-browser-access header, as the real API does', async () => {
  const refused = await anthropicChat({ stream: false }, { origin: PAGE_ORIGIN });
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get('access-control-allow-origin'), null);
  assert.match((await refused.json()).error.message, /anthropic-dangerous-direct-browser-access/);
  assert.equal(llm.queued, 0);

  const allowed = await anthropicChat(
    { stream: false },
    { origin: PAGE_ORIGIN, 'anthropic-dangerous-direct-browser-access': 'true' },
  );
  assert.equal(allowed.status, 200);
  assert.equal(allowed.headers.get('access-control-allow-origin'), '*');
});

test('a stall accepts the request and never answers', async () => {
  llm.script({ stall: true });
  const started = fetch(`${llm.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'wait' }] }),
    signal: AbortSignal.timeout(500),
  });
  await assert.rejects(started, { name: 'TimeoutError' });
  assert.equal(llm.requests.at(-1).body.messages[0].content, 'wait');
});

test('cutAfter sends that many deltas, then drops the connection without [DONE]', async () => {
  llm.script({ text: 'one two three four five six', cutAfter: 2 });
  const { events, ending } = await readEventStream(await openaiChat({}));
  assert.notEqual(ending, 'end', 'the body must fail, not end');
  assert.equal(openaiText(events), 'one two');
  assert.ok(events.every(({ data }) => data !== '[DONE]'));

  llm.script({ text: 'one two three four', cutAfter: 3 });
  const anthropic = await readEventStream(await anthropicChat({}));
  assert.notEqual(anthropic.ending, 'end');
  assert.equal(anthropicText(anthropic.events), 'one two three');
  assert.ok(anthropic.events.every(({ event }) => event !== 'message_stop'));
});

test('stallAfter sends that many deltas, then goes quiet with the connection open', async () => {
  llm.script({ text: 'alpha beta gamma', stallAfter: 1 });
  const response = await fetch(`${llm.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream: true }),
    signal: AbortSignal.timeout(1000),
  });
  const { events, ending } = await readEventStream(response);
  assert.equal(ending.name, 'TimeoutError');
  assert.equal(openaiText(events), 'alpha');
});

test('a malformed reply puts a data line that is not JSON into an otherwise whole stream', async () => {
  llm.script({ text: 'first second third', malformed: true });
  const { events } = await readEventStream(await openaiChat({}));
  const unparsable = events.filter(({ data }) => {
    try {
      JSON.parse(data);
      return false;
    } catch {
      return data !== '[DONE]';
    }
  });
  assert.equal(unparsable.length, 1);
  assert.equal(events.at(-1).data, '[DONE]');
  assert.equal(events.findIndex((event) => event === unparsable[0]), 2, 'after the role chunk and one delta');
});

test('errorAfter200 puts the provider\'s error event into the stream and ends it there', async () => {
  llm.script({ text: 'partial answer here', errorAfter200: {} });
  const openai = await readEventStream(await openaiChat({}));
  assert.equal(openai.ending, 'end');
  assert.equal(JSON.parse(openai.events.at(-1).data).error.type, 'server_error');
  assert.ok(openai.events.every(({ data }) => data !== '[DONE]'));

  llm.script({ text: 'partial answer here', errorAfter200: { type: 'api_error', message: 'boom' }, afterChunks: 2 });
  const anthropic = await readEventStream(await anthropicChat({}));
  const last = anthropic.events.at(-1);
  assert.equal(last.event, 'error');
  assert.deepEqual(JSON.parse(last.data).error, { type: 'api_error', message: 'boom' });
  assert.equal(anthropicText(anthropic.events), 'partial answer');
});

test('echoPrompt answers with the prompt it received, system prompt included', async () => {
  llm.script({ echoPrompt: true }, { echoPrompt: true });
  const openai = await readEventStream(await openaiChat({
    messages: [
      { role: 'system', content: 'Memories:\n[M1] The user prefers tea.' },
      { role: 'user', content: [{ type: 'text', text: 'What do I drink?' }] },
    ],
  }));
  const echoed = openaiText(openai.events);
  assert.match(echoed, /2 messages/);
  assert.match(echoed, /system: Memories:\n\[M1\] The user prefers tea\./);
  assert.match(echoed, /user: What do I drink\?/);

  const anthropic = await readEventStream(await anthropicChat({
    system: '[M7] The user lives in Lyon.',
    messages: [{ role: 'user', content: 'Where do I live?' }],
  }));
  assert.match(anthropicText(anthropic.events), /system: \[M7\] The user lives in Lyon\.\nuser: Where do I live\?/);
});

test('replies are taken in order, may be functions of the request, and the default follows', async () => {
  llm.script({ text: 'first' }, (request) => ({ text: `you said ${request.body.messages[0].content}` }));
  assert.equal(llm.queued, 2);
  const texts = [];
  for (const content of ['a', 'b', 'c']) {
    const { events } = await readEventStream(await openaiChat({ messages: [{ role: 'user', content }] }));
    texts.push(openaiText(events));
  }
  assert.deepEqual(texts, ['first', 'you said b', DEFAULT_REPLY_TEXT]);
  assert.equal(llm.queued, 0);

  llm.configure({ defaultReply: { text: 'changed default' } });
  assert.equal(openaiText((await readEventStream(await openaiChat({}))).events), 'changed default');
});

test('every request is recorded with method, path, headers, parsed body and time', async () => {
  const before = Date.now();
  await (await openaiChat({ messages: [{ role: 'user', content: 'remember [M4]' }] }, { origin: PAGE_ORIGIN })).text();
  await (await fetch(`${llm.url}/v1/models`)).text();
  assert.equal(llm.requests.length, 2);
  const [chat, models] = llm.requests;
  assert.equal(chat.method, 'POST');
  assert.equal(chat.path, '/v1/chat/completions');
  assert.equal(chat.headers.authorization, 'Bearer sk-test');
  assert.equal(chat.headers.origin, PAGE_ORIGIN);
  assert.equal(chat.body.messages[0].content, 'remember [M4]');
  assert.equal(JSON.parse(chat.raw).model, 'gpt-test');
  assert.ok(chat.time >= before && chat.time <= models.time);
  assert.equal(models.method, 'GET');
  assert.equal(models.body, undefined);
});

test('requests missing what the provider requires get its 400 and leave the script alone', async () => {
  llm.script({ text: 'kept' });
  const noVersion = await anthropicChat({}, { 'anthropic-version': '' });
  assert.equal(noVersion.status, 400);
  assert.match((await noVersion.json()).error.message, /anthropic-version/);
  const noMaxTokens = await anthropicChat({ max_tokens: undefined });
  assert.equal((await noMaxTokens.json()).error.message, 'max_tokens: Field required');
  const notJson = await fetch(`${llm.url}/v1/chat/completions`, { method: 'POST', body: '{oops' });
  assert.equal(notJson.status, 400);
  assert.equal((await notJson.json()).error.type, 'invalid_request_error');
  const unknownPath = await fetch(`${llm.url}/v1/complete`, { method: 'POST', body: '{}' });
  assert.equal(unknownPath.status, 404);
  assert.equal(llm.queued, 1);
});

test('Stop mid-stream: a slow stream can be cancelled after its first delta', async () => {
  const text = 'this answer streams slowly enough to be stopped';
  llm.script({ text, chunkDelayMs: 200 });
  const { events, ending } = await readEventStream(await openaiChat({}), {
    stopWhen: (seen) => openaiText(seen).length > 0,
  });
  assert.equal(ending, 'cancelled');
  const shown = openaiText(events);
  assert.ok(shown.length > 0 && shown.length < text.length && text.startsWith(shown), shown);
  // The server carries on with the next request.
  assert.equal((await openaiChat({ stream: false })).status, 200);
});

test('reset forgets requests and script and restores the starting options', async () => {
  llm.configure({ apiKey: 'k', cors: 'refuse' });
  llm.script({ text: 'never used' });
  await (await fetch(`${llm.url}/v1/models`)).text();
  llm.reset();
  assert.equal(llm.requests.length, 0);
  assert.equal(llm.queued, 0);
  const response = await openaiChat({ stream: false }, { origin: PAGE_ORIGIN });
  assert.equal(response.status, 200, 'no key required any more');
  assert.equal(response.headers.get('access-control-allow-origin'), PAGE_ORIGIN);
});

test('mistakes in a script are reported at once', () => {
  assert.throws(() => llm.script({ txt: 'typo' }), /unknown reply field\(s\) txt/);
  assert.throws(() => llm.script('text'), /a reply is an object or a function/);
  assert.throws(() => llm.configure({ cors: 'maybe' }), /cors must be/);
  assert.throws(() => llm.configure({ apikey: 'k' }), /unknown option\(s\) apikey/);
});

test('long texts are grouped into a bounded number of deltas without losing a character', () => {
  const long = Array.from({ length: 500 }, (_, index) => `word${index}`).join(' ');
  const deltas = splitIntoDeltas(long);
  assert.ok(deltas.length <= 48);
  assert.equal(deltas.join(''), long);
  assert.deepEqual(splitIntoDeltas(' a  b\n'), [' a', '  b', '\n']);
});
