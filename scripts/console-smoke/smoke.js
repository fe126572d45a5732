// Loads the console of a running server into jsdom, runs its script, and drives every tab, printing
// what a merchandiser would see. Usage (with `vitrine demo` serving on the default port):
//   cd scripts/console-smoke && npm install && node smoke.js http://127.0.0.1:7700
// Exits non-zero if any action shows an error.
'use strict';
const { loadConsole } = require('./load-console');

const base = process.argv[2] || 'http://127.0.0.1:7700';
const settle = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

(async () => {
  const { w, $ } = await loadConsole(base);
  let failed = false;
  const report = (what, out) => {
    const error = $('error').hidden ? '' : $('error').textContent;
    failed = failed || Boolean(error);
    console.log(`${what}: ${$(out).textContent.slice(0, 600)}${error ? `\n  ERROR: ${error}` : ''}\n`);
  };

  $('search-q').value = 'navy linen shirt under $60, not slim fit';
  $('search-form').dispatchEvent(new w.Event('submit', { cancelable: true }));
  await settle(3000);
  report('search', 'search-out');

  $('search-q').value = 'lin';
  $('search-q').dispatchEvent(new w.Event('input'));
  await settle(1000);
  console.log(`suggest: ${[...$('search-suggest').children].map((o) => o.value).join(', ')}\n`);

  for (const [tab, out] of [['rules', 'rules-where'], ['recommend', 'models-out'], ['store', 'store-out'], ['review', 'review-out']]) {
    w.document.querySelector(`nav button[data-tab=${tab}]`).click();
    await settle(1500);
    report(tab, out);
  }
  const cards = () => $('review-out').querySelectorAll('.card');
  const waiting = cards().length;
  if (waiting > 0) {
    const first = cards()[0].querySelector('strong').textContent;
    const approve = [...cards()[0].querySelectorAll('button')].find((b) => b.textContent.startsWith('Approve'));
    approve.click();
    await settle(1500);
    report(`review without a reviewer name (${first})`, 'review-out');
    failed = false; // the refusal above is the expected answer
    $('reviewer').value = 'console smoke test';
    [...cards()[0].querySelectorAll('button')].find((b) => b.textContent.startsWith('Approve')).click();
    await settle(2000);
    report(`review after approving ${first} (${waiting} were waiting, now ${cards().length})`, 'review-out');
    if (cards().length !== waiting - 1) failed = true;
  }

  w.document.querySelector('nav button[data-tab=recommend]').click();
  $('rec-user').value = 'U-000003';
  $('rec-form').dispatchEvent(new w.Event('submit', { cancelable: true }));
  await settle(1500);
  report('recommendation preview', 'rec-out');
  process.exit(failed ? 1 : 0);
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
