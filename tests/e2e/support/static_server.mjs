// Serves the built app (dist/) on 127.0.0.1 like a static host would: correct MIME
// types (wasm streaming compile needs application/wasm) and the single-page-app
// fallback, so that /memory or /settings load index.html on a reload.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, relative, resolve } from 'node:path';

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

/// `options.transform(pathname, body)` may rewrite a file on its way out (e.g. to
/// publish a "new version" of sw.js while a test runs); it can be changed later
/// through the returned object.
export async function serveDist(root, options = {}) {
  const base = resolve(root);
  const state = { transform: options.transform ?? ((_, body) => body) };
  const server = createServer(async (request, response) => {
    try {
      const path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
      let file = normalize(join(base, path));
      if (!file.startsWith(base)) {
        response.writeHead(403).end();
        return;
      }
      let info = await stat(file).catch(() => null);
      if (info?.isDirectory()) {
        file = join(file, 'index.html');
        info = await stat(file).catch(() => null);
      }
      if (!info) {
        if (extname(path) !== '') {
          response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
          return;
        }
        file = join(base, 'index.html');
      }
      const body = state.transform(relative(base, file), await readFile(file));
      response.writeHead(200, {
        'content-type': MIME[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-cache',
      });
      response.end(body);
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
    close: () => new Promise((done) => server.close(done)),
  };
}
