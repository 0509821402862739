// A real LLM for end-to-end tests: llama.cpp's HTTP server with SmolLM2-135M-Instruct, run
// by scripts/llm/serve_llama.py from the venv that scripts/llm/setup.sh prepares. It speaks
// OpenAI's /v1/chat/completions and Anthropic's /v1/messages, streamed; temperature 0 is
// deterministic. The model mostly paraphrases its input: use it to test plumbing (prompts,
// streaming, stop, errors), not meaning.
//
//   const llama = llamaAvailable();
//   test('...', { skip: llama.available ? false : llama.reason }, async () => {
//     const server = await startLlamaServer({ apiKey: 'sk-local' });
//     try { ... server.url + '/v1/chat/completions' ... } finally { await server.close(); }
//   });
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SCRIPT = join(ROOT, 'scripts/llm/serve_llama.py');
const REQUIREMENTS = join(ROOT, 'scripts/llm/requirements.txt');
const VENV = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'casebook', 'llm-venv');
const PYTHON = join(VENV, 'bin', 'python');
const STDERR_KEPT = 16 * 1024;
const STOP_GRACE_MS = 5_000;

/// Whether the venv is installed and matches scripts/llm/requirements.txt. In CI the test
/// command installs it, so there it always counts as available: a missing venv must fail
/// the tests, never skip them silently.
export function llamaAvailable() {
  if (process.env.CI) return { available: true };
  if (!existsSync(PYTHON)) {
    return { available: false, reason: `no local LLM server at ${VENV}: run scripts/setup.sh (setup_llm_server)` };
  }
  const want = createHash('sha256').update(readFileSync(REQUIREMENTS)).digest('hex');
  const stamp = join(VENV, '.requirements.sha256');
  const have = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (have !== want) {
    return { available: false, reason: `the local LLM server at ${VENV} is out of date: run scripts/setup.sh` };
  }
  return { available: true };
}

/// Starts the server and resolves once it answers, with { url, model, startupMs, close() }.
/// Options: apiKey (required by the server when set), corsOrigins ('localhost' lets pages
/// on localhost or 127.0.0.1, any port, call it), nCtx, threads, readyTimeoutMs.
/// close() kills the process and waits for it to exit; the process also ends by itself if
/// this one dies, because it stops when its standard input closes.
export async function startLlamaServer({
  apiKey,
  corsOrigins = 'localhost',
  nCtx = 4096,
  threads = 2,
  readyTimeoutMs = 60_000,
} = {}) {
  if (!existsSync(PYTHON)) {
    throw new Error(`no local LLM server at ${VENV}: run scripts/setup.sh (setup_llm_server)`);
  }
  const args = [SCRIPT, '--cors-origins', corsOrigins, '--n-ctx', String(nCtx), '--threads', String(threads)];
  if (apiKey !== undefined) args.push('--api-key', apiKey);
  const started = performance.now();
  const child = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });

  // llama.cpp logs a lot: keep only the end, for error messages, and keep draining the pipe
  // so that the server never blocks on a full one.
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text) => {
    stderr = (stderr + text).slice(-STDERR_KEPT);
  });
  const exited = new Promise((done) => {
    child.once('exit', (code, signal) => done({ code, signal }));
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };

  const lines = createInterface({ input: child.stdout });
  const readyLine = new Promise((done) => {
    lines.once('line', done);
  });
  let timer;
  const timeout = new Promise((done) => {
    timer = setTimeout(() => done({ timedOut: true }), readyTimeoutMs);
  });
  const outcome = await Promise.race([
    readyLine.then((line) => ({ line })),
    exited.then((exit) => ({ exit })),
    timeout,
    new Promise((done) => child.once('error', (error) => done({ error }))),
  ]);
  clearTimeout(timer);

  const failure = (what) =>
    new Error(`the local LLM server ${what}; the end of its log:\n${stderr.trim().split('\n').slice(-20).join('\n')}`);
  if (outcome.error) throw new Error(`could not start ${PYTHON}: ${outcome.error.message}`);
  if (outcome.exit) {
    throw failure(`exited (code ${outcome.exit.code}, signal ${outcome.exit.signal}) before it was ready`);
  }
  if (outcome.timedOut) {
    await stop();
    throw failure(`was not ready within ${readyTimeoutMs / 1000} s`);
  }
  let ready;
  try {
    ready = JSON.parse(outcome.line);
  } catch {
    ready = undefined;
  }
  if (ready?.ready !== true || typeof ready.url !== 'string') {
    await stop();
    throw failure(`printed ${JSON.stringify(outcome.line)} instead of its ready line`);
  }
  return {
    url: ready.url,
    model: ready.model,
    startupMs: performance.now() - started,
    close: stop,
  };
}
