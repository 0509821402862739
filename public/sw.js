// Casebook's service worker: keeps the app shell (this build's files) in a
// versioned cache so the app starts offline, and removes older versions once a
// new one takes over. The model files are cached separately by the worker that
// loads them, so an app update never evicts (or re-downloads) the model.
//
// BUILD is written by scripts/post_build.mjs at build time: the build's version
// and the list of files to precache.
const BUILD = null;

const SHELL_PREFIX = 'casebook-shell-';
const SHELL_CACHE = SHELL_PREFIX + BUILD.version;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(SHELL_CACHE).then((cache) =>
      // `reload`: bypass the HTTP cache, which may still hold a previous build's
      // unhashed files (worker.js, worker_bg.wasm).
      cache.addAll(BUILD.precache.map((path) => new Request(path, { cache: 'reload' }))),
    ),
  );
  // No skipWaiting() here: a new version waits until the user chooses to reload,
  // so an answer being written is never cut off by an update.
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(SHELL_PREFIX) && name !== SHELL_CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('message', (event) => {
  if (event.data && event.data.type === 'skip-waiting') self.skipWaiting();
  if (event.data && event.data.type === 'version' && event.ports[0]) {
    event.ports[0].postMessage(BUILD.version);
  }
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  // Other origins (LLM providers) and the model files go straight to the network.
  if (url.origin !== self.location.origin) return;
  const scope = new URL(self.registration.scope);
  if (url.pathname.startsWith(scope.pathname + 'models/')) return;

  if (request.mode === 'navigate') {
    // Every page of the app is the same index.html; the router picks the view.
    event.respondWith(
      caches
        .match(new URL('index.html', scope).href, { cacheName: SHELL_CACHE })
        .then((shell) => shell || fetch(request)),
    );
    return;
  }
  event.respondWith(
    caches.match(request, { cacheName: SHELL_CACHE }).then((hit) => hit || fetch(request)),
  );
});
