// Starts the app. This is a file of its own rather than trunk's inline loader so
// that the Content Security Policy can forbid inline scripts. Trunk fills in the
// data attributes (see `pattern_script` in Trunk.toml).
(() => {
  const script = document.currentScript;
  const showFailure = (error) => {
    const message = document.createElement('p');
    message.setAttribute('role', 'alert');
    message.className = 'boot-failure';
    message.textContent =
      'Casebook could not start in this browser (' + (error && error.message ? error.message : error) +
      '). It needs a current Chrome, Edge, Firefox or Safari with WebAssembly enabled.';
    document.body.append(message);
  };
  import(script.dataset.js)
    .then((app) => app.default({ module_or_path: script.dataset.wasm }))
    .catch(showFailure);
})();
