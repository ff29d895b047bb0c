// The dashboard's page: vanilla JavaScript, nothing loaded from the network. Pages are hash routes
// (#/overview, #/jobs?state=ready, #/job/<id>), one renderer per section the server names
// (/api/meta): a section the server does not name is not shown. Everything is built with DOM calls
// and text nodes, never from HTML strings, so no job's data can become markup. Changes are POSTs
// carrying the CSRF token of the page's <meta>.
'use strict';

const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const page = document.getElementById('page');
const COUNTED = ['ready', 'delayed', 'reserved', 'failed', 'completed', 'cancelled'];
const WAITING = ['blocked', 'delayed', 'ready', 'reserved'];
const FINISHED = ['completed', 'failed', 'cancelled', 'expired'];
let meta;
let overview;
let windowName = 'hour';
let refresh;
let generation = 0;

// ---- building the page

function h(tag, props, ...children) {
  const svg = tag.startsWith('svg:');
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child !== undefined && child !== null && child !== false) el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const enc = encodeURIComponent;
const num = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en'));
const json = (value) => JSON.stringify(value, null, 2);
const time = (ms) => (ms === null || ms === undefined ? '–' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'));

function duration(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

function relative(ms) {
  if (ms === null || ms === undefined) return '–';
  const delta = ms - Date.now();
  return delta > 0 ? `in ${duration(delta)}` : `${duration(-delta)} ago`;
}

const stamp = (ms) => h('span', { title: time(ms) }, relative(ms));
const badge = (text, kind) => h('span', { class: `badge ${kind || `st-${text}`}` }, text);
const fact = (label, value) => [h('dt', {}, label), h('dd', {}, value)];
const table = (head, rows, empty) => (rows.length === 0 ? h('p', { class: 'muted empty' }, empty) : h('table', {}, h('thead', {}, h('tr', {}, head.map((t) => h('th', {}, t)))), h('tbody', {}, rows)));

function say(text, kind) {
  const notice = document.getElementById('notice');
  notice.replaceChildren(text);
  notice.className = `notice ${kind}`;
  notice.hidden = false;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => (notice.hidden = true), kind === 'bad' ? 12_000 : 6_000);
}

// ---- talking to the server

async function answerOf(response) {
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

const get = async (path) => answerOf(await fetch(path, { headers: { Accept: 'application/json' } }));

/** Runs an action (after `question`, when asked), says what it did, and shows the page again. */
async function act(path, body, question) {
  if (question && !window.confirm(question)) return;
  try {
    const headers = { 'Content-Type': 'application/json', 'X-CSRF-Token': CSRF };
    say((await answerOf(await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) }))).message, 'ok');
  } catch (error) {
    say(error.message, 'bad');
  }
  await show();
}

const button = (label, action, onclick, kind) => (meta.readOnly ? null : h('button', { class: kind || '', 'data-action': action, onclick }, label));

// ---- charts: inline SVG, one bar per step (stacked), or a line with a dot per step

const W = 320;
const H = 90;

function chart(title, series, layers, format) {
  const total = (p) => layers.reduce((sum, [key]) => sum + (p[key] || 0), 0);
  const peak = Math.max(0, ...series.map(total));
  const max = peak || 1;
  const step = W / Math.max(1, series.length);
  const y = (v) => H - (v / max) * (H - 6);
  const svg = h('svg:svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': title },
    h('svg:line', { x1: 0, x2: W, y1: H - 0.5, y2: H - 0.5, class: 'base' }));
  if (layers[0][1] === 'line') {
    const [key] = layers[0];
    let d = '';
    series.forEach((p, i) => {
      if (p[key] === null || p[key] === undefined) return;
      const x = i * step + step / 2;
      d += `${d && series[i - 1] && series[i - 1][key] !== null ? 'L' : 'M'}${x.toFixed(1)},${y(p[key]).toFixed(1)}`;
      svg.append(h('svg:circle', { cx: x, cy: y(p[key]), r: 2, class: 'dot' }, h('svg:title', {}, `${time(p.at)}: ${format(p[key])}`)));
    });
    svg.prepend(h('svg:path', { d: d || 'M0,0', class: 'line' }));
  } else {
    series.forEach((p, i) => {
      let base = H;
      for (const [key, kind] of layers) {
        const height = ((p[key] || 0) / max) * (H - 6);
        if (height <= 0) continue;
        base -= height;
        svg.append(h('svg:rect', { x: i * step + 0.5, y: base, width: Math.max(1, step - 1), height, class: kind },
          h('svg:title', {}, `${time(p.at)}: ${layers.map(([k]) => `${p[k] || 0} ${k}`).join(', ')}`)));
      }
    });
  }
  const span = windowName === 'hour' ? 'an hour ago' : 'a day ago';
  return h('figure', {}, h('figcaption', {}, title, h('span', { class: 'muted' }, ` · peak ${format(peak)}`)),
    svg, h('div', { class: 'axis' }, h('span', {}, span), h('span', {}, 'now')));
}

// ---- the overview: one card per queue, redrawn with each snapshot of the live feed

function percentiles(q) {
  const row = (label, p) => h('tr', {}, h('th', {}, label), p ? [num(p.count), duration(p.avgMs), duration(p.p50Ms), duration(p.p95Ms), duration(p.p99Ms)].map((v) => h('td', {}, v)) : h('td', { colspan: 5, class: 'muted' }, 'nothing measured'));
  return h('table', { class: 'pct' }, h('thead', {}, h('tr', {}, ['', 'jobs', 'avg', 'p50', 'p95', 'p99'].map((t) => h('th', {}, t)))),
    h('tbody', {}, row('wait', q.wait), row('run', q.run)));
}

function queueCard(q) {
  const paused = overview.paused.includes(q.queue);
  const link = (state) => (state === 'failed' ? `#/failed?queue=${enc(q.queue)}` : `#/jobs?state=${state}&queue=${enc(q.queue)}`);
  return h('section', { class: 'card', 'data-queue': q.queue },
    h('header', {}, h('h2', {}, q.queue), paused && badge('paused', 'warn'), h('span', { class: 'grow' }),
      button(paused ? 'Resume' : 'Pause', paused ? 'resume' : 'pause', () => act(`/api/queues/${paused ? 'resume' : 'pause'}`, { queue: q.queue }), 'small')),
    h('div', { class: 'counts' }, COUNTED.map((state) => h('a', { class: `count st-${state}`, href: link(state), 'data-count': state, title: FINISHED.includes(state) ? 'records kept now' : 'jobs now' },
      h('b', {}, num(q.counts[state])), h('span', {}, state)))),
    h('div', { class: 'figs' },
      chart('Throughput', q.series, [['completed', 'ok'], ['failed', 'bad']], num),
      chart('Wait time p50', q.series, [['waitP50Ms', 'line']], duration)),
    h('h3', {}, windowName === 'hour' ? 'In the last hour' : 'In the last day'),
    h('div', { class: 'split' },
      h('dl', { class: 'facts' }, fact('oldest ready now', duration(q.oldestReadyMs)), fact('completed / min', num(q.perMinute)),
        fact('completed', num(q.completed)), fact('failed', num(q.failed)), fact('retried', num(q.retried))),
      percentiles(q)));
}

/** A queue with figures in the other window only (or none: paused and empty): its counts, nothing in this one. */
function quiet(name) {
  const known = [...overview.hour, ...overview.day].find((q) => q.queue === name);
  const counts = Object.fromEntries(COUNTED.map((state) => [state, 0]));
  return { queue: name, counts, oldestReadyMs: null, ...known, series: [], completed: 0, failed: 0, retried: 0, perMinute: 0, wait: null, run: null };
}

function renderOverview() {
  if (!overview) return h('p', { class: 'muted' }, 'Waiting for the first figures…');
  const figures = overview[windowName];
  const names = [...new Set([...overview.hour, ...overview.day].map((q) => q.queue).concat(overview.paused))].sort();
  const toggle = (name, label) => h('button', { class: windowName === name ? 'on' : '', 'data-window': name, onclick: () => { windowName = name; show(); } }, label);
  return [
    h('div', { class: 'title' }, h('h1', {}, 'Overview'), h('span', { class: 'muted' }, `${num(overview.workers)} worker${overview.workers === 1 ? '' : 's'} live · ${time(overview.at)}`),
      h('span', { class: 'grow' }), h('div', { class: 'toggle' }, toggle('hour', 'Last hour'), toggle('day', 'Last day'))),
    names.length === 0 ? h('p', { class: 'muted empty' }, 'No jobs yet: dispatch one (queue dispatch <Job>) and it shows here.') : null,
    names.map((name) => queueCard(figures.find((q) => q.queue === name) || quiet(name))),
  ];
}

// ---- jobs: one state at a time, a page at a time; failed jobs with retry and forget

function timeOf(job) {
  if (job.state === 'reserved') return job.startedAt;
  return WAITING.includes(job.state) ? job.availableAt : job.finishedAt;
}

function jobRow(job, selectable) {
  const failed = job.state === 'failed';
  return h('tr', { 'data-job': job.id },
    selectable && h('td', {}, h('input', { type: 'checkbox', class: 'pick', value: job.id, 'aria-label': `select ${job.id}` })),
    h('td', {}, h('a', { href: `#/job/${enc(job.id)}`, class: 'mono' }, job.id)),
    h('td', {}, job.name || h('span', { class: 'muted' }, 'unreadable')), h('td', {}, job.queue),
    h('td', {}, `${job.attempts}${job.maxTries ? ` / ${job.maxTries}` : ''}`), h('td', {}, stamp(timeOf(job))),
    failed && h('td', { class: 'error' }, job.error || ''),
    h('td', { class: 'actions' },
      failed && button('Retry', 'retry', () => act('/api/failed/retry', { ids: [job.id] })),
      failed && button('Forget', 'forget', () => act('/api/failed/forget', { ids: [job.id] }, `Delete the failed record of job ${job.id}?`), 'quiet'),
      WAITING.includes(job.state) && button('Cancel', 'cancel', () => act('/api/jobs/cancel', { ids: [job.id] }, `Cancel job ${job.id}?`), 'quiet')));
}

async function renderJobs(params, failedOnly) {
  const state = failedOnly ? 'failed' : params.get('state') || 'ready';
  const base = failedOnly ? '#/failed?' : `#/jobs?state=${state}&`;
  const query = new URLSearchParams(failedOnly ? {} : { state });
  for (const key of ['queue', 'cursor']) if (params.get(key)) query.set(key, params.get(key));
  const data = await get(`/api/${failedOnly ? 'failed' : 'jobs'}?${query}`);
  const queue = data.queue || '';
  const selectable = failedOnly && !meta.readOnly && data.jobs.length > 0;
  const picked = () => [...page.querySelectorAll('input.pick:checked')].map((box) => box.value);
  const withPicked = (fn) => () => (picked().length ? fn(picked()) : say('Select jobs first (the boxes on the left).', 'bad'));
  const where = queue ? ` of queue ${queue}` : '';
  const search = h('form', { class: 'search', onsubmit: (e) => { e.preventDefault(); const id = e.target.elements.id.value.trim(); if (id) location.hash = `#/job/${enc(id)}`; } },
    h('input', { name: 'id', placeholder: 'Find a job by id', autocomplete: 'off', spellcheck: 'false' }), h('button', { type: 'submit' }, 'Find'));
  const filter = h('select', { 'aria-label': 'queue', onchange: (e) => (location.hash = `${base}queue=${enc(e.target.value)}`) },
    h('option', { value: '' }, 'every queue'), data.queues.map((name) => h('option', { value: name, selected: name === queue }, name)));
  return [
    h('div', { class: 'title' }, h('h1', {}, failedOnly ? 'Failed jobs' : 'Jobs'), h('span', { class: 'grow' }), filter, search),
    failedOnly ? null : h('nav', { class: 'tabs' }, meta.states.map((s) => h('a', { href: `#/jobs?state=${s}${queue ? `&queue=${enc(queue)}` : ''}`, class: s === state ? 'on' : '' }, s))),
    selectable && h('div', { class: 'toolbar' },
      h('label', {}, h('input', { type: 'checkbox', onchange: (e) => page.querySelectorAll('input.pick').forEach((box) => (box.checked = e.target.checked)) }), ' all on this page'),
      button('Retry selected', 'retry-selected', withPicked((ids) => act('/api/failed/retry', { ids }))),
      button('Forget selected', 'forget-selected', withPicked((ids) => act('/api/failed/forget', { ids }, `Delete ${ids.length} failed record(s)?`)), 'quiet'),
      h('span', { class: 'grow' }),
      button(`Retry all${where}`, 'retry-all', () => act('/api/failed/retry', { all: true, queue }, `Put every failed job${where} back on its queue?`)),
      button(`Forget all${where}`, 'forget-all', () => act('/api/failed/forget', { all: true, queue }, `Delete every failed record${where}? This cannot be undone.`), 'danger')),
    table([selectable ? '' : null, 'id', 'job', 'queue', 'tries', state === 'reserved' ? 'started' : WAITING.includes(state) ? 'available' : 'finished', failedOnly ? 'error' : null, ''].filter((t) => t !== null),
      data.jobs.map((job) => jobRow(job, selectable)), `No ${state} jobs${where}${params.get('cursor') ? ' after this page' : ''}.`),
    h('div', { class: 'pager' }, params.get('cursor') && h('a', { href: `${base}queue=${enc(queue)}` }, '« First page'),
      data.cursor && h('a', { href: `${base}queue=${enc(queue)}&cursor=${enc(data.cursor)}`, 'data-next': '' }, 'Next page »')),
  ];
}

// ---- one job's whole record

async function renderJob(id) {
  const job = await get(`/api/job/${enc(id)}`);
  if (!FINISHED.includes(job.state)) refresh = setTimeout(show, 2000);
  const since = (ms) => (ms === null || job.createdAt === null ? '' : ` (+${duration(ms - job.createdAt)})`);
  const progress = typeof job.progress === 'number'
    ? h('span', { class: 'progress' }, h('progress', { max: 100, value: job.progress }), ` ${job.progress}%`)
    : job.progress === null ? '–' : h('code', {}, JSON.stringify(job.progress));
  return [
    h('div', { class: 'title' }, h('h1', {}, job.name || 'Unreadable job'), badge(job.state), h('span', { class: 'grow' }),
      job.state === 'failed' && button('Retry', 'retry', () => act('/api/failed/retry', { ids: [job.id] })),
      job.state === 'failed' && button('Forget', 'forget', () => act('/api/failed/forget', { ids: [job.id] }, 'Delete this failed record?').then(() => (location.hash = '#/failed')), 'quiet'),
      WAITING.includes(job.state) && button('Cancel', 'cancel', () => act('/api/jobs/cancel', { ids: [job.id] }, 'Cancel this job?'), 'quiet')),
    h('div', { class: 'split' },
      h('dl', { class: 'facts' }, fact('id', h('span', { class: 'mono' }, job.id)), fact('queue', `${job.queue} on ${job.connection}`), fact('state', job.state),
        fact('attempts', `${job.attempts}${job.maxTries ? ` of ${job.maxTries}` : ''}`), fact('priority', job.priority), fact('progress', progress)),
      h('ol', { class: 'timeline' }, [['created', job.createdAt], [job.state === 'reserved' ? 'lease until' : 'available', job.availableAt], ['started', job.startedAt], ['finished', job.finishedAt]]
        .map(([label, ms]) => h('li', { class: ms === null ? 'later' : '' }, h('b', {}, label), ms === null ? ' –' : [` ${time(ms)}`, h('span', { class: 'muted' }, since(ms))])))),
    h('h3', {}, 'Data'),
    job.closed ? h('p', { class: 'closed' }, 'encrypted or unreadable', h('span', { class: 'muted' }, ` (${job.closed})`)) : h('pre', {}, json(job.data)),
    job.state === 'completed' && [h('h3', {}, 'Result'), h('pre', {}, json(job.result))],
    job.error && [h('h3', {}, 'Error'), h('pre', { class: 'error' }, job.error)],
  ];
}

// ---- workers and schedules

async function renderWorkers() {
  const { workers } = await get('/api/workers');
  refresh = setTimeout(show, 3000);
  return [h('div', { class: 'title' }, h('h1', {}, 'Workers'), h('span', { class: 'muted' }, `${workers.length} live`)),
    table(['name', 'host', 'pid', 'queues', 'concurrency', 'running', 'started', 'jobs done', 'RSS', 'last beat'], workers.map((w) => h('tr', { 'data-worker': w.name },
      [w.name, w.host, w.pid, w.queues.join(', '), w.concurrency].map((v) => h('td', {}, v)),
      h('td', {}, w.running.length === 0 ? h('span', { class: 'muted' }, 'idle') : w.running.map((id) => h('a', { href: `#/job/${enc(id)}`, class: 'mono block' }, id))),
      h('td', {}, stamp(w.startedAt)), h('td', {}, num(w.jobsDone)), h('td', {}, `${Math.round(w.rssBytes / 1_048_576)} MB`), h('td', {}, stamp(w.beatAt)))),
    'No worker is running: start one with queue work.')];
}

async function renderSchedules() {
  const { schedules, problems } = await get('/api/schedules');
  return [h('div', { class: 'title' }, h('h1', {}, 'Schedules')),
    problems.map((p) => h('p', { class: 'notice bad' }, p)),
    table(['name', 'job', 'rule', 'queue', 'next run', 'last run', ''], schedules.map((s) => h('tr', { 'data-schedule': s.name },
      h('td', {}, s.name, s.source === 'runtime' ? h('span', { class: 'muted' }, ' (run time)') : null), h('td', {}, s.job), h('td', { class: 'mono' }, s.rule), h('td', {}, s.queue),
      h('td', {}, s.paused ? '–' : stamp(s.nextRunAt)), h('td', {}, stamp(s.firedAt)), h('td', {}, s.paused && badge('paused', 'warn')))),
    'No schedules: declare them in config/schedule.ts.')];
}

// ---- routing, navigation and the live feed

const PAGES = {
  overview: renderOverview,
  jobs: (params) => renderJobs(params, false),
  failed: (params) => renderJobs(params, true),
  workers: renderWorkers,
  schedules: renderSchedules,
};

function where() {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  const [section, ...rest] = path.split('/');
  return { section: section || 'overview', rest: rest.join('/'), params: new URLSearchParams(query) };
}

async function show() {
  clearTimeout(refresh);
  const mine = (generation += 1);
  const { section, rest, params } = where();
  document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('on', a.dataset.section === (section === 'job' ? '' : section)));
  try {
    const content = section === 'job' ? await renderJob(decodeURIComponent(rest)) : await (PAGES[section] || (() => h('p', {}, 'No such page.')))(params);
    if (mine === generation) page.replaceChildren(...[content].flat(Infinity).filter(Boolean));
  } catch (error) {
    if (mine === generation) page.replaceChildren(h('p', { class: 'notice bad' }, error.message));
  }
}

function onOverview(snapshot) {
  overview = snapshot;
  document.getElementById('live').className = 'live on';
  document.querySelector('#live span').textContent = `live · ${new Date(snapshot.at).toLocaleTimeString()}`;
  const failed = snapshot.hour.reduce((sum, q) => sum + q.counts.failed, 0);
  const count = document.querySelector('#nav a[data-section="failed"] .n');
  if (count) count.textContent = failed ? num(failed) : '';
  if (where().section === 'overview') page.replaceChildren(...[renderOverview()].flat(Infinity).filter(Boolean));
}

async function start() {
  meta = await get('/api/meta');
  document.getElementById('where').replaceChildren(`${meta.connection} · ${meta.backend}`, meta.readOnly ? badge('read-only', 'warn') : '');
  document.getElementById('nav').replaceChildren(...meta.sections.filter((s) => PAGES[s.id]).map((s) => h('a', { href: `#/${s.id}`, 'data-section': s.id }, s.title, h('span', { class: 'n' }))));
  const events = new EventSource('/api/events');
  events.addEventListener('overview', (e) => onOverview(JSON.parse(e.data)));
  events.addEventListener('problem', (e) => say(`The backend does not answer: ${JSON.parse(e.data).error}`, 'bad'));
  events.onerror = () => {
    document.getElementById('live').className = 'live off';
    document.querySelector('#live span').textContent = 'reconnecting…';
  };
  window.addEventListener('hashchange', show);
  await show();
}

start().catch((error) => page.replaceChildren(h('p', { class: 'notice bad' }, `The dashboard could not start: ${error.message}`)));
