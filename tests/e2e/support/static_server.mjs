// Serves the built app (dist/) on 127.0.0.1 like a static host would: correct MIME
// types (wasm streaming compile needs application/wasm) and the single-page-app
// fallback, so that /memory or /settings load index.html on a reload.
//
// Tests can change what is served while they run:
// - setTransform((path, body) => body): rewrite a file (e.g. publish a "new" sw.js);
// - setFault((path) => ({ status }) | undefined): answer a path with an HTTP error;
// - setThrottle((path) => bytesPerSecond | undefined): send a file slowly.
// `mounts` serves extra directories under URL prefixes (e.g. test pages).
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.onnx': 'application/octet-stream',
  '.txt': 'text/plain; charset=utf-8',
};

const CHUNK = 64 * 1024;

export async function serveDist(root, { mounts = {} } = {}) {
  const roots = [
    ...Object.entries(mounts).map(([prefix, dir]) => ({ prefix, base: resolve(dir), spa: false })),
    { prefix: '/', base: resolve(root), spa: true },
  ];
  const state = {
    transform: (_, body) => body,
    fault: () => undefined,
    throttle: () => undefined,
  };

  async function locate(path) {
    const { prefix, base, spa } = roots.find((root) => path.startsWith(root.prefix));
    let file = normalize(join(base, path.slice(prefix.length)));
    if (!file.startsWith(base)) return { status: 403 };
    let info = await stat(file).catch(() => null);
    if (info?.isDirectory()) {
      file = join(file, 'index.html');
      info = await stat(file).catch(() => null);
    }
    if (!info) {
      if (!spa || extname(path) !== '') return { status: 404 };
      file = join(base, 'index.html');
    }
    return { file, name: relative(base, file) };
  }

  const server = createServer(async (request, response) => {
    try {
      const path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
      const found = await locate(path);
      const fault = found.name && state.fault(found.name);
      const status = fault?.status ?? found.status;
      if (status) {
        response.writeHead(status, { 'content-type': 'text/plain' }).end(`status ${status}`);
        return;
      }
      const body = state.transform(found.name, await readFile(found.file));
      response.writeHead(200, {
        'content-type': MIME[extname(found.file)] ?? 'application/octet-stream',
        'content-length': body.length,
        'cache-control': 'no-cache',
      });
      const bytesPerSecond = state.throttle(found.name);
      if (!bytesPerSecond) {
        response.end(body);
        return;
      }
      for (let offset = 0; offset < body.length && !response.destroyed; offset += CHUNK) {
        response.write(body.subarray(offset, offset + CHUNK));
        await sleep((CHUNK / bytesPerSecond) * 1000);
      }
      response.end();
    } catch (error) {
      response.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    }
  });
  await new Promise((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    setTransform(transform) {
      state.transform = transform;
    },
    setFault(fault) {
      state.fault = fault;
    },
    setThrottle(throttle) {
      state.throttle = throttle;
    },
    reset() {
      state.transform = (_, body) => body;
      state.fault = () => undefined;
      state.throttle = () => undefined;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise((done) => server.close(done));
    },
  };
}
