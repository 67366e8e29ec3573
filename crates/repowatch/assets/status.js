// The status page of `repowatch serve` keeps itself current: every few seconds
// it asks for the page's <main> again (If-None-Match, so an unchanged page
// costs a 304) and swaps it in, keeping open <details> open. No build step, no
// dependencies. Paused while the tab is hidden.
(() => {
  'use strict';
  const main = document.getElementById('main');
  const live = document.getElementById('live');
  if (!main || !live) return;
  const updated = document.getElementById('updated');
  // The server's times are in settings.timezone; so is this one.
  const zone = { timeZone: main.dataset.tz || undefined };
  let clock;
  try {
    clock = new Intl.DateTimeFormat('sv-SE', { ...zone, dateStyle: 'short', timeStyle: 'medium' });
  } catch (_) {
    clock = new Intl.DateTimeFormat('sv-SE', { dateStyle: 'short', timeStyle: 'medium' });
  }
  const every = Number(main.dataset.refreshMs) || 3000;
  const url = new URL('status/main', document.baseURI);
  url.search = new URLSearchParams({ lang: document.documentElement.lang }).toString();
  let etag = main.dataset.etag || '';
  let timer = 0;

  async function refresh() {
    timer = 0;
    if (document.hidden) return;
    try {
      const res = await fetch(url, { headers: etag ? { 'If-None-Match': etag } : {}, credentials: 'same-origin', cache: 'no-store' });
      if (res.status === 200) {
        const open = new Set([...main.querySelectorAll('details[open][data-key]')].map((d) => d.dataset.key));
        main.innerHTML = await res.text();
        for (const d of main.querySelectorAll('details[data-key]')) if (open.has(d.dataset.key)) d.open = true;
        etag = res.headers.get('ETag') || '';
      } else if (res.status !== 304) {
        throw new Error(String(res.status));
      }
      live.classList.remove('stale');
      live.textContent = live.dataset.live;
      if (updated) updated.textContent = clock.format(new Date());
    } catch (_) {
      live.classList.add('stale');
      live.textContent = live.dataset.stale;
    }
    schedule();
  }
  function schedule() {
    if (!timer) timer = setTimeout(refresh, every);
  }
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) { clearTimeout(timer); timer = 0; refresh(); }
  });
  schedule();
})();
