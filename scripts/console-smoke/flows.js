// The console's merchandiser flows, driven in jsdom against a running server, with assertions. Run by
// `cargo test` (crates/vitrine-server/tests/console_dom.rs) against a seeded test server:
//   node flows.js http://127.0.0.1:PORT PINNED_ID
// PINNED_ID is a product the test expects a pin to move to the top of "trail boot". Exits non-zero,
// naming the step, when what a merchandiser would see is wrong.
'use strict';
const { loadConsole } = require('./load-console');

const [base, pinned] = process.argv.slice(2);
if (!base || !pinned) {
  console.error('usage: node flows.js BASE_URL PINNED_ID');
  process.exit(2);
}

function fail(step, why) {
  throw new Error(`${step}: ${why}`);
}

(async () => {
  const { w, $ } = await loadConsole(base);
  const errorShown = () => ($('error').hidden ? '' : $('error').textContent);

  /** Waits until `check()` returns something truthy (it may throw while not ready); fails the step after 10 s. */
  async function until(step, check) {
    const deadline = Date.now() + 10_000;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const v = check();
        if (v) return v;
      } catch (e) {
        last = String(e.message || e);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    fail(step, `timed out${last ? ` (${last})` : ''}; error box: "${errorShown()}"`);
  }
  const submit = (form) => $(form).dispatchEvent(new w.Event('submit', { cancelable: true }));
  const tab = (name) => w.document.querySelector(`nav button[data-tab=${name}]`).click();
  const rows = (out) => [...$(out).querySelectorAll('tbody tr')];
  async function search(q) {
    $('search-out').replaceChildren();
    $('search-q').value = q;
    submit('search-form');
    return until(`search "${q}"`, () => rows('search-out').length > 0 && rows('search-out'));
  }

  // Search: results explained, query words marked, outside text never parsed as markup.
  let hits = await search('trail boot');
  if (!$('search-out').textContent.includes('Understood:')) fail('search', 'no parsed query shown');
  if (!hits[0].querySelector('mark')) fail('search', 'the matched words are not marked in the title');
  if ($('search-out').querySelector('img, script')) fail('search', 'a product title was inserted as markup');
  if (!$('search-out').textContent.includes('<img')) fail('search', 'the title with markup characters is not shown as text');
  console.log(`search: ${hits.length} results, first: ${hits[0].textContent.slice(0, 80)}`);

  // Autocomplete.
  $('search-q').value = 'trail b';
  $('search-q').dispatchEvent(new w.Event('input'));
  await until('suggest', () => [...$('search-suggest').children].some((o) => o.value === 'trail boot'));
  console.log('suggest: "trail b" offers "trail boot"');

  // Rules: a pin applied from the console moves the product to the top of the next search.
  tab('rules');
  await until('rules load', () => $('rules-where').textContent.includes('Kept in'));
  $('rules-text').value = `[[pin]]\nquery = "trail boot"\nproduct = "${pinned}"\nposition = 1\n`;
  $('rules-actor').value = '';
  submit('rules-form');
  await until('rules without a name', () => errorShown().includes('Enter your name'));
  $('rules-actor').value = 'console test';
  $('rules-note').value = 'pin for the launch';
  submit('rules-form');
  const applied = await until('rules apply', () => /Applied .* as version (\d+)/.exec($('rules-status').textContent));
  const pinVersion = Number(applied[1]);
  await until('rules history', () => rows('rules-history')[0].textContent.includes('pin for the launch'));
  tab('search');
  hits = await search('trail boot');
  if (!hits[0].textContent.includes(pinned)) fail('pin', `first result is not ${pinned}: ${hits[0].textContent}`);
  console.log(`rules: version ${pinVersion} pins ${pinned} first`);

  // Someone else changes the rules while the page is open: the console's edit is refused, not applied.
  tab('rules');
  await until('rules reload', () => $('rules-where').textContent.includes(`version ${pinVersion}`));
  const other = await fetch(`${base}/v1/search/rules`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: 'out_of_stock = "hide"\n', actor: 'someone else' }),
  });
  if (!other.ok) fail('concurrent edit', `the other edit failed: ${other.status}`);
  $('rules-text').value = 'out_of_stock = "ignore"\n';
  submit('rules-form');
  await until('stale edit refused', () => errorShown().includes('409') && errorShown().includes('someone else'));
  console.log(`stale edit: ${errorShown()}`);

  // Restore the pin's version from the history.
  tab('rules');
  const restore = await until('restore button', () => rows('rules-history')
    .find((r) => r.querySelector('td').textContent === String(pinVersion))
    .querySelector('button'));
  restore.click();
  await until('restore', () => $('rules-status').textContent.includes(`Version ${pinVersion} restored`));
  const top = await until('history after restore', () => rows('rules-history')[0].textContent.includes('rolled back') && rows('rules-history')[0]);
  if (!top.textContent.includes('in force')) fail('restore', 'the restored version is not shown in force');
  if (!$('rules-text').value.includes(pinned)) fail('restore', 'the editor does not show the restored text');
  tab('search');
  hits = await search('trail boot');
  if (!hits[0].textContent.includes(pinned)) fail('restore', 'the restored pin does not apply');
  console.log(`restore: ${top.textContent.slice(0, 100)}`);

  // Store figures.
  tab('store');
  await until('store', () => $('store-out').textContent.includes('products'));
  if (errorShown()) fail('store', errorShown());
  console.log('store: figures shown');
  console.log('all console flows passed');
})().catch((e) => {
  console.error(String(e.stack || e));
  process.exit(1);
});
