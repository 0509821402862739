// Trunk post_build hook (Trunk.toml): runs on the staged build before it replaces dist/.
// - Writes the service worker's build info: a version (hash of every file) and the
//   list of files to precache. Trunk hashes most file names, but not the worker's,
//   so the version must come from the contents.
// - In release builds, adds the Content Security Policy to index.html. (Not in
//   `trunk serve` debug builds: its live reload injects an inline script.)
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

const staging = process.env.TRUNK_STAGING_DIR;
if (!staging) throw new Error('run by trunk as a post_build hook (TRUNK_STAGING_DIR is not set)');
const release = process.env.TRUNK_PROFILE === 'release';

// The model is large and cached on its own; the service worker is never precached.
const NOT_PRECACHED = [/^models\//, /^sw\.js$/];

async function listFiles(dir) {
  const entries = await readdir(dir, { withFileTypes: true });
  const files = await Promise.all(
    entries.map((entry) => {
      const path = join(dir, entry.name);
      return entry.isDirectory() ? listFiles(path) : [path];
    }),
  );
  return files.flat();
}

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  // The LLM provider is whatever base URL the user configures (local or remote).
  'connect-src *',
  "worker-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'none'",
].join('; ');

if (release) {
  const indexPath = join(staging, 'index.html');
  const index = await readFile(indexPath, 'utf8');
  const meta = `<meta http-equiv="Content-Security-Policy" content="${CONTENT_SECURITY_POLICY}" />`;
  if (!index.includes('<meta charset="utf-8" />')) throw new Error('index.html lost its charset meta');
  await writeFile(indexPath, index.replace('<meta charset="utf-8" />', `<meta charset="utf-8" />\n    ${meta}`));
}

const files = (await listFiles(staging))
  .map((path) => relative(staging, path).split(sep).join('/'))
  .filter((path) => !NOT_PRECACHED.some((pattern) => pattern.test(path)))
  .sort();
const hash = createHash('sha256');
for (const path of files) {
  hash.update(path);
  hash.update(await readFile(join(staging, path)));
}
const build = { version: hash.digest('hex').slice(0, 16), precache: files };

const swPath = join(staging, 'sw.js');
const sw = await readFile(swPath, 'utf8');
const placeholder = 'const BUILD = null;';
if (!sw.includes(placeholder)) throw new Error('sw.js has no BUILD placeholder');
await writeFile(swPath, sw.replace(placeholder, `const BUILD = ${JSON.stringify(build)};`));
console.log(`post_build: service worker ${build.version}, ${files.length} files precached${release ? ', CSP set' : ''}`);
