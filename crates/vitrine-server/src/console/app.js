// Vitrine console: a merchandiser's view over the same JSON API that engineers use. No framework,
// no build step. Everything shown is inserted as text (never as HTML), because product titles and
// generated copy come from outside.
'use strict';

const $ = (id) => document.getElementById(id);

/** An element with attributes (`class`, `on…` handlers, others as attributes) and text/node children. */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    // Through the CSSOM: the content policy forbids style attributes, not style properties.
    else if (k === 'style') Object.assign(e.style, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

/** Calls the API; a non-2xx answer throws with the problem's detail. */
async function api(path, options) {
  const init = Object.assign({ headers: { 'content-type': 'application/json' } }, options || {});
  const res = await fetch(path, init);
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const why = body && (body.detail || body.title);
    throw new Error(`${init.method || 'GET'} ${path}: ${res.status} ${why || res.statusText}`);
  }
  return body;
}

function showError(err) {
  const box = $('error');
  box.textContent = err ? String(err.message || err) : '';
  box.hidden = !err;
}

/** Runs an async action, reporting its failure instead of losing it. */
function guarded(action) {
  return async (event) => {
    if (event && event.preventDefault) event.preventDefault();
    showError(null);
    try {
      await action(event);
    } catch (err) {
      showError(err);
    }
  };
}

const fmt = (x, digits = 3) => (typeof x === 'number' ? x.toFixed(digits) : x === undefined || x === null ? '' : String(x));

function table(headers, rows) {
  return el('table', null,
    el('thead', null, el('tr', null, headers.map((h) => el('th', null, h)))),
    el('tbody', null, rows));
}

// ---- tabs -------------------------------------------------------------------------------------

const loaders = {};

function openTab(name) {
  for (const b of document.querySelectorAll('nav button')) b.classList.toggle('active', b.dataset.tab === name);
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== `tab-${name}`;
  if (loaders[name]) guarded(loaders[name])();
}

// ---- search -----------------------------------------------------------------------------------

function parsedSummary(parsed) {
  const chips = [];
  if (parsed.text !== undefined) chips.push(el('span', { class: 'chip' }, `searched: "${parsed.text}"`));
  for (const c of parsed.corrections || []) chips.push(el('span', { class: 'chip' }, `corrected ${c.from} → ${c.to}`));
  if (parsed.price) {
    const p = parsed.price;
    chips.push(el('span', { class: 'chip' }, `price ${p.min !== undefined ? p.min : ''}–${p.max !== undefined ? p.max : ''}`));
  }
  for (const a of parsed.attributes || []) chips.push(el('span', { class: 'chip' }, `${a.name}: ${a.display || a.value}`));
  for (const x of parsed.exclusions || []) chips.push(el('span', { class: 'chip neg' }, `not ${x.value}`));
  if (parsed.in_stock) chips.push(el('span', { class: 'chip' }, 'in stock only'));
  if (parsed.cheap) chips.push(el('span', { class: 'chip' }, 'cheap'));
  return el('p', null, 'Understood: ', chips);
}

/** The signals that moved a result most, as signed bars (largest magnitude first). */
function contributions(explain) {
  const parts = [];
  if (explain.ranker_contributions) {
    const top = Object.entries(explain.ranker_contributions)
      .filter(([, v]) => v !== 0)
      .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
      .slice(0, 4);
    const scale = Math.max(...top.map(([, v]) => Math.abs(v)), 1e-9);
    for (const [name, v] of top) {
      parts.push(el('div', null,
        el('span', { class: v < 0 ? 'bar neg' : 'bar', style: { width: `${Math.round((40 * Math.abs(v)) / scale)}px` } }),
        `${name} ${v > 0 ? '+' : ''}${fmt(v)}`));
    }
  } else {
    parts.push(el('div', { class: 'muted' },
      `lexical #${fmt(explain.lexical_rank, 0) || '–'}, semantic #${fmt(explain.semantic_rank, 0) || '–'}`));
  }
  for (const r of explain.rules || []) parts.push(el('span', { class: 'chip' }, r));
  if (explain.personal_factor && explain.personal_factor !== 1) {
    parts.push(el('span', { class: 'chip' }, `personal ×${fmt(explain.personal_factor, 2)}`));
  }
  return parts;
}

const unescapeHtml = (t) => t.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');

/** The server's highlighted title (escaped text and <mark> tags only) as nodes, never parsed as HTML. */
function markedTitle(hit) {
  if (!hit.highlighted_title) return [hit.title];
  let marked = false;
  const nodes = [];
  for (const part of hit.highlighted_title.split(/(<mark>|<\/mark>)/)) {
    if (part === '<mark>') marked = true;
    else if (part === '</mark>') marked = false;
    else if (part) nodes.push(marked ? el('mark', null, unescapeHtml(part)) : unescapeHtml(part));
  }
  return nodes;
}

async function runSearch() {
  const params = new URLSearchParams({ q: $('search-q').value, explain: 'true', highlight: 'true', limit: $('search-limit').value || '20' });
  const user = $('search-user').value.trim();
  if (user) params.set('user_id', user);
  const a = await api(`/v1/search?${params}`);
  const rows = a.hits.map((h, i) => el('tr', null,
    el('td', { class: 'num' }, i + 1),
    el('td', null, el('div', null, markedTitle(h)), el('div', { class: 'muted' }, `${h.id} · ${h.brand || ''}`)),
    el('td', { class: 'num' }, `${fmt(h.price, 2)} ${h.currency || ''}`),
    el('td', null, h.in_stock ? 'yes' : 'no'),
    el('td', { class: 'num' }, fmt(h.score)),
    el('td', null, h.explain ? contributions(h.explain) : '')));
  $('search-out').replaceChildren(
    parsedSummary(a.parsed || {}),
    ...(a.notices || []).map((n) => el('p', { class: 'muted' }, n)),
    el('p', { class: 'muted' }, `${a.total} matching · request ${a.request_id}`),
    table(['#', 'product', 'price', 'in stock', 'score', 'why it ranks here'], rows));
}

let suggestTimer = null;
function suggestSoon() {
  clearTimeout(suggestTimer);
  suggestTimer = setTimeout(guarded(async () => {
    const q = $('search-q').value.trim();
    if (!q) return;
    const s = await api(`/v1/suggest?${new URLSearchParams({ q, limit: '8' })}`);
    $('search-suggest').replaceChildren(...s.suggestions.map((x) => el('option', { value: x.text }, `${x.source} · ${x.count}`)));
  }), 150);
}

// ---- search rules -----------------------------------------------------------------------------

/** The version the text box was loaded from: an edit names it, so a concurrent change is refused, not lost. */
let rulesBase = null;

async function loadRules() {
  const r = await api('/v1/search/rules');
  $('rules-where').textContent = r.editable
    ? `Kept in ${r.path} on the server${r.version === null ? '' : `; version ${r.version}`}.`
    : 'No rules file is configured ([search] rules = "rules.toml"), so the default rules apply and cannot be edited here.';
  $('rules-text').value = r.text;
  $('rules-text').readOnly = !r.editable;
  $('rules-save').disabled = !r.editable;
  $('rules-actor').value = localStorage.getItem('vitrine.reviewer') || '';
  $('rules-status').textContent = '';
  rulesBase = r.version;
  await loadRulesHistory(r.editable);
}

function rulesActor() {
  const actor = $('rules-actor').value.trim();
  if (!actor) throw new Error('Enter your name: every rules change is recorded with who made it.');
  localStorage.setItem('vitrine.reviewer', actor);
  return actor;
}

function rulesApplied(r, what) {
  const counts = `${r.rules.pin.length} pins, ${r.rules.boost.length} boosts${r.rules.diversity ? ', diversity' : ''}`;
  return `${what} at ${new Date().toLocaleTimeString()} as version ${r.version}: ${counts}, out of stock: ${r.rules.out_of_stock}.`;
}

async function saveRules() {
  const actor = rulesActor();
  const body = { text: $('rules-text').value, actor, note: $('rules-note').value.trim() || null };
  if (rulesBase !== null) body.base_version = rulesBase;
  const r = await api('/v1/search/rules', { method: 'PUT', body: JSON.stringify(body) });
  $('rules-note').value = '';
  await loadRules();
  $('rules-status').textContent = rulesApplied(r, 'Applied');
}

async function rollbackRules(version) {
  const actor = rulesActor();
  const r = await api('/v1/search/rules/rollback', { method: 'POST', body: JSON.stringify({ version, actor }) });
  await loadRules();
  $('rules-status').textContent = rulesApplied(r, `Version ${version} restored`);
}

async function loadRulesHistory(editable) {
  const h = await api('/v1/search/rules/history?limit=50');
  if (!h.versions.length) {
    $('rules-history').replaceChildren(el('p', { class: 'muted' }, 'No version recorded yet.'));
    return;
  }
  const rows = h.versions.map((v, i) => el('tr', null,
    el('td', { class: 'num' }, v.version),
    el('td', null, new Date(v.created_at).toLocaleString()),
    el('td', null, v.actor),
    el('td', null, v.source, v.note ? ` · ${v.note}` : ''),
    el('td', null, el('details', null, el('summary', null, 'text'), el('pre', null, v.text))),
    el('td', null, i === 0 || !editable ? (i === 0 ? 'in force' : '') :
      el('button', { type: 'button', onclick: guarded(() => rollbackRules(v.version)) }, 'Restore'))));
  $('rules-history').replaceChildren(table(['version', 'when', 'who', 'how', '', ''], rows));
}

// ---- copy review ------------------------------------------------------------------------------

function copyText(copy) {
  if (copy && typeof copy === 'object') {
    const lines = [];
    for (const [k, v] of Object.entries(copy)) lines.push(`${k}: ${Array.isArray(v) ? v.join(' • ') : typeof v === 'object' ? JSON.stringify(v) : v}`);
    return lines.join('\n');
  }
  return String(copy);
}

async function decide(entry, verb, reason) {
  const reviewer = $('reviewer').value.trim();
  if (!reviewer) throw new Error('Enter your name as reviewer first: every decision is recorded with who made it.');
  localStorage.setItem('vitrine.reviewer', reviewer);
  const v = entry.version;
  await api(`/v1/products/${encodeURIComponent(v.product_id)}/content/${v.version}/${verb}`, {
    method: 'POST',
    body: JSON.stringify({ reviewer, reason: reason || (verb === 'approve' ? 'approved in console' : 'rejected in console') }),
  });
  await loadReview();
}

async function loadReview() {
  const q = await api('/v1/content/review-queue?limit=50');
  if (!q.items.length) {
    $('review-out').replaceChildren(el('p', { class: 'muted' }, 'Nothing waits for review.'));
    return;
  }
  $('review-out').replaceChildren(...q.items.map((entry) => {
    const v = entry.version;
    const reason = el('input', { size: 32, placeholder: 'reason (recorded)' });
    return el('div', { class: 'card' },
      el('div', null, el('strong', null, v.product_id), ` version ${v.version} · ${v.state} · confidence ${fmt(v.confidence, 2)}`),
      el('div', { class: 'muted' }, `impact ${fmt(entry.impact, 2)} = ${entry.views} views × ${fmt(entry.conversion, 4)} conversion × ${fmt(entry.margin, 2)} margin · by ${v.created_by}`),
      el('pre', null, copyText(v.copy)),
      el('details', null, el('summary', null, 'validation report'), el('pre', null, JSON.stringify(v.report, null, 2))),
      el('div', null,
        reason,
        el('button', { type: 'button', onclick: guarded(() => decide(entry, 'approve', reason.value)) }, 'Approve and publish'),
        ' ',
        el('button', { type: 'button', onclick: guarded(() => decide(entry, 'reject', reason.value)) }, 'Reject')));
  }));
}

// ---- recommendations --------------------------------------------------------------------------

async function modelAction(path) {
  const m = await api(path, { method: 'POST' });
  renderModels(m);
}

function renderModels(m) {
  const rows = m.versions.map((v) => el('tr', null,
    el('td', { class: 'num' }, v.version),
    el('td', null, v.created_at),
    el('td', null, [v.version === m.serving ? 'serving' : '', v.version === m.active ? ' active' : '', v.version === m.previous ? ' previous' : ''].join('').trim()),
    el('td', null, el('pre', null, JSON.stringify((v.manifest && (v.manifest.metrics || v.manifest.offline)) || {}, null, 1))),
    el('td', null, v.version === m.active ? '' :
      el('button', { type: 'button', onclick: guarded(() => modelAction(`/v1/recommend/models/${v.version}/promote`)) }, 'Promote'))));
  $('models-out').replaceChildren(
    el('p', null, `Serving: ${m.serving === null ? 'the untrained heuristic' : `version ${m.serving}`}. `,
      m.previous === null ? '' : el('button', { type: 'button', onclick: guarded(() => modelAction('/v1/recommend/models/rollback')) }, `Roll back to ${m.previous}`)),
    m.versions.length ? table(['version', 'trained', 'state', 'offline metrics', ''], rows) : el('p', { class: 'muted' }, 'No trained version yet.'));
}

async function loadModels() {
  renderModels(await api('/v1/recommend/models'));
}

async function previewRecommendations() {
  const params = new URLSearchParams({ explain: 'true', count: '20' });
  const user = $('rec-user').value.trim();
  if (user) params.set('user_id', user);
  const items = $('rec-items').value.trim();
  if (items) params.set($('rec-surface').value === 'bought_together' ? 'cart' : 'item', items);
  const r = await api(`/v1/recommend/${encodeURIComponent($('rec-surface').value)}?${params}`);
  const rows = r.items.map((it, i) => {
    const e = it.explain || {};
    const probs = ['p_click', 'p_cart', 'p_purchase', 'p_return'].filter((k) => e[k] !== undefined && e[k] !== null).map((k) => `${k} ${fmt(e[k])}`);
    return el('tr', null,
      el('td', { class: 'num' }, i + 1),
      el('td', null, it.product_id, it.explored ? el('span', { class: 'chip' }, 'explored') : ''),
      el('td', { class: 'num' }, fmt(it.score)),
      el('td', null, (e.sources || []).map((s) => el('span', { class: 'chip' }, `${s.source} ${fmt(s.score, 2)}`))),
      el('td', null, probs.join(' · ')),
      el('td', null, (e.rules || []).map((x) => el('span', { class: 'chip' }, x))));
  });
  $('rec-out').replaceChildren(
    el('p', { class: 'muted' }, `model ${r.model_version === null ? 'heuristic' : r.model_version} · request ${r.request_id}`),
    ...(r.fallbacks || []).map((f) => el('p', { class: 'muted' }, `fallback: ${f}`)),
    table(['#', 'product', 'score', 'sources', 'predicted', 'rules'], rows));
}

// ---- store ------------------------------------------------------------------------------------

async function loadStore() {
  const s = await api('/v1/stats');
  $('store-out').replaceChildren(table(['', ''], Object.entries(s).map(([k, v]) =>
    el('tr', null, el('th', null, k.replace(/_/g, ' ')), el('td', { class: 'num' }, typeof v === 'object' ? JSON.stringify(v) : v)))));
}

// ---- wiring -----------------------------------------------------------------------------------

loaders.rules = loadRules;
loaders.review = loadReview;
loaders.recommend = loadModels;
loaders.store = loadStore;

document.addEventListener('DOMContentLoaded', () => {
  for (const b of document.querySelectorAll('nav button')) b.addEventListener('click', () => openTab(b.dataset.tab));
  $('search-form').addEventListener('submit', guarded(runSearch));
  $('search-q').addEventListener('input', suggestSoon);
  $('review-form').addEventListener('submit', guarded(loadReview));
  $('rules-form').addEventListener('submit', guarded(saveRules));
  $('rec-form').addEventListener('submit', guarded(previewRecommendations));
  $('reviewer').value = localStorage.getItem('vitrine.reviewer') || '';
});
