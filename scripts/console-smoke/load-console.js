// Loads the console of a running server into jsdom and starts its script, as a browser would: the
// page, then app.js with fetch pointed at the server, then DOMContentLoaded. Shared by flows.js (the
// CI flows) and smoke.js (the manual tour).
'use strict';
const { JSDOM } = require('jsdom');

/** The console's window and a getElementById shorthand, once its script has started. */
async function loadConsole(base) {
  const html = await (await fetch(`${base}/console`)).text();
  const script = await (await fetch(`${base}/console/app.js`)).text();
  const dom = new JSDOM(html, { url: `${base}/console`, runScripts: 'outside-only' });
  const w = dom.window;
  w.fetch = (path, init) => fetch(new URL(path, base), init);
  w.eval(script);
  w.document.dispatchEvent(new w.Event('DOMContentLoaded'));
  const $ = (id) => w.document.getElementById(id);
  return { w, $ };
}

module.exports = { loadConsole };
