/* sfnlite console: builds the UI of an execution, executions, state-machines or
   state-machine page from #sfnlite-data and the SVG in #graph-source.
   Plain ES2020, no dependencies, no network except the AWS JSON 1.0 API of
   `sfnlite serve` in live mode. */
(function () {
  'use strict';

  // ---------------------------------------------------------------- helpers
  const SVGNS = 'http://www.w3.org/2000/svg';
  const PAGE_SIZE = 200;
  const POLL_MS = 1500;
  const LIST_POLL_MS = 3000;
  const MAX_TIMELINE_ROWS = 400;
  const MAX_JSON_CHARS = 200000;

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const k in attrs) {
        const v = attrs[k];
        if (v == null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
        else if (k === 'dataset') Object.assign(el.dataset, v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    append(el, children);
    return el;
  }
  function append(el, children) {
    for (const c of children) {
      if (c == null || c === false) continue;
      if (Array.isArray(c)) append(el, c);
      else el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    }
    return el;
  }
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVGNS, tag);
    if (attrs) for (const k in attrs) if (attrs[k] != null) {
      if (k === 'class') el.setAttribute('class', attrs[k]);
      else if (k === 'text') el.textContent = attrs[k];
      else el.setAttribute(k, String(attrs[k]));
    }
    for (const c of children) if (c) el.appendChild(c);
    return el;
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
  const nf = new Intl.NumberFormat('en-US');
  function num(n) { return nf.format(n); }

  function parseTime(t) {
    if (t == null) return NaN;
    if (typeof t === 'number') return t < 1e11 ? t * 1000 : t; // epoch seconds or millis
    return Date.parse(t);
  }
  function fmtTime(ms) {
    if (!isFinite(ms)) return '—';
    const d = new Date(ms);
    return d.toISOString().replace('T', ' ').replace('Z', ' UTC');
  }
  function fmtDur(ms) {
    if (!isFinite(ms)) return '—';
    if (ms < 0) ms = 0;
    if (ms < 1000) return Math.round(ms) + ' ms';
    const sec = ms / 1000;
    if (sec < 60) return (Math.round(sec * 1000) / 1000) + ' s';
    const totalS = Math.floor(sec);
    const d = Math.floor(totalS / 86400), hh = Math.floor(totalS % 86400 / 3600),
      mm = Math.floor(totalS % 3600 / 60), ss = sec - Math.floor(sec / 60) * 60;
    const parts = [];
    if (d) parts.push(d + ' d');
    if (hh) parts.push(hh + ' h');
    if (mm) parts.push(mm + ' min');
    const sr = Math.round(ss * 1000) / 1000;
    if (sr && d === 0) parts.push(sr + ' s');
    return parts.join(' ') || '0 s';
  }
  function fmtAxis(ms) {
    if (ms === 0) return '0';
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (Math.round(ms / 100) / 10) + ' s';
    if (ms < 3600000) return (Math.round(ms / 6000) / 10) + ' min';
    if (ms < 86400000) return (Math.round(ms / 360000) / 10) + ' h';
    return (Math.round(ms / 8640000) / 10) + ' d';
  }
  function niceStep(span, target) {
    const raw = span / target;
    const steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000,
      120000, 300000, 600000, 900000, 1800000, 3600000, 7200000, 10800000, 21600000, 43200000, 86400000];
    for (const st of steps) if (st >= raw) return st;
    return Math.ceil(raw / 86400000) * 86400000;
  }
  function tryParseJson(text) {
    if (typeof text !== 'string') return { ok: true, value: text };
    try { return { ok: true, value: JSON.parse(text) }; } catch (e) { return { ok: false, value: text }; }
  }
  function pretty(v) {
    if (typeof v === 'string') {
      const p = tryParseJson(v);
      if (p.ok && typeof p.value === 'object' && p.value !== null) return JSON.stringify(p.value, null, 2);
      if (p.ok) return JSON.stringify(p.value, null, 2);
      return v;
    }
    if (v === undefined) return '';
    return JSON.stringify(v, null, 2);
  }
  function ptrEsc(name) { return String(name).replace(/~/g, '~0').replace(/\//g, '~1'); }
  function ptrGet(doc, ptr) {
    if (!ptr || ptr === '') return doc;
    const parts = ptr.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    let cur = doc;
    for (const p of parts) {
      if (cur == null || typeof cur !== 'object') return undefined;
      cur = cur[p];
    }
    return cur;
  }
  function debounce(fn, ms) {
    let t = 0;
    return function (...a) { clearTimeout(t); t = setTimeout(() => fn.apply(this, a), ms); };
  }
  function encodeArn(arn) { return encodeURIComponent(arn); }
  function lastSeg(arn) { const i = String(arn || '').lastIndexOf(':'); return i >= 0 ? arn.slice(i + 1) : String(arn || ''); }

  async function copyText(text, btn) {
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(text); ok = true; }
    } catch (e) { ok = false; }
    if (!ok) {
      try {
        const ta = h('textarea', { class: 'c-offscreen', 'aria-hidden': 'true' });
        ta.value = text;
        document.body.appendChild(ta);
        ta.select();
        ok = document.execCommand('copy');
        ta.remove();
      } catch (e) { ok = false; }
    }
    if (btn) {
      const old = btn.textContent;
      btn.textContent = ok ? 'Copied' : 'Copy failed';
      setTimeout(() => { btn.textContent = old; }, 1200);
    }
  }

  // ------------------------------------------------------------- statuses
  const STATUS = {
    RUNNING: { icon: '▶', label: 'Running', cls: 'running' },
    SUCCEEDED: { icon: '✓', label: 'Succeeded', cls: 'succeeded' },
    FAILED: { icon: '✕', label: 'Failed', cls: 'failed' },
    TIMED_OUT: { icon: '⏱', label: 'Timed out', cls: 'failed' },
    ABORTED: { icon: '⊘', label: 'Aborted', cls: 'aborted' },
    PENDING_REDRIVE: { icon: '↻', label: 'Pending redrive', cls: 'running' },
  };
  const OUTCOME = {
    succeeded: { icon: '✓', label: 'Succeeded' },
    failed: { icon: '✕', label: 'Failed' },
    caught: { icon: '↪', label: 'Caught' },
    running: { icon: '▶', label: 'In progress' },
    'not-reached': { icon: '○', label: 'Not reached' },
    aborted: { icon: '⊘', label: 'Aborted' },
  };
  function statusBadge(status) {
    const st = STATUS[status] || { icon: '?', label: String(status || 'Unknown'), cls: 'unknown' };
    return h('span', { class: 'c-badge c-badge-' + st.cls, title: status },
      h('span', { class: 'c-badge-icon', 'aria-hidden': 'true' }, st.icon), ' ', st.label);
  }
  function outcomeBadge(outcome, labelOverride) {
    const o = OUTCOME[outcome] || OUTCOME['not-reached'];
    const cls = outcome === 'aborted' ? 'aborted' : outcome;
    return h('span', { class: 'c-badge c-badge-' + cls },
      h('span', { class: 'c-badge-icon', 'aria-hidden': 'true' }, o.icon), ' ', labelOverride || o.label);
  }

  // ------------------------------------------------------------- API (live)
  async function api(op, body) {
    const url = (DATA && DATA.api) || '/';
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'AWSStepFunctions.' + op },
      body: JSON.stringify(body || {}),
    });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : {}; } catch (e) { json = null; }
    if (!res.ok) {
      const type = json && (json.__type || json.code) ? String(json.__type || json.code).split('#').pop() : 'HTTP ' + res.status;
      const msg = json && (json.message || json.Message) ? (json.message || json.Message) : text.slice(0, 300);
      const err = new Error(op + ': ' + type + (msg ? ': ' + msg : ''));
      err.apiType = type;
      throw err;
    }
    if (json === null) throw new Error(op + ': the answer is not JSON');
    return json;
  }

  // ------------------------------------------------------------- messages
  let msgArea = null;
  function showMessage(text, kind) {
    if (!msgArea) return;
    const item = h('div', { class: 'c-msg c-msg-' + (kind || 'error'), role: kind === 'info' ? 'status' : 'alert' },
      h('span', { class: 'c-msg-icon', 'aria-hidden': 'true' }, kind === 'info' ? 'ℹ' : '⚠'), ' ',
      h('span', { class: 'c-msg-text' }, text), ' ',
      h('button', { type: 'button', class: 'c-btn c-btn-small', 'aria-label': 'Dismiss message', onclick: () => item.remove() }, '×'));
    // keep at most three messages; repeated errors replace each other
    for (const old of Array.from(msgArea.children)) {
      if (old.querySelector('.c-msg-text').textContent === text) old.remove();
    }
    msgArea.appendChild(item);
    while (msgArea.children.length > 3) msgArea.firstChild.remove();
  }

  // ------------------------------------------------------------ JSON view
  function jsonBlock(title, value, opts) {
    opts = opts || {};
    const text = value === undefined ? '' : pretty(value);
    const wrap = h('details', { class: 'c-json', open: opts.open === false ? null : true });
    const copyBtn = h('button', { type: 'button', class: 'c-btn c-btn-small', onclick: (e) => { e.preventDefault(); copyText(text, copyBtn); } }, 'Copy');
    const summary = h('summary', null, h('span', { class: 'c-json-title' }, title),
      opts.note ? h('span', { class: 'c-json-note' }, ' ' + opts.note) : null);
    wrap.appendChild(summary);
    const bar = h('div', { class: 'c-json-bar' }, copyBtn);
    wrap.appendChild(bar);
    if (value === undefined || value === null && opts.emptyText) {
      wrap.appendChild(h('p', { class: 'c-muted' }, opts.emptyText || 'None'));
      copyBtn.disabled = true;
      return wrap;
    }
    const pre = h('pre', { class: 'c-pre', tabindex: '0' });
    if (text.length > MAX_JSON_CHARS) {
      pre.textContent = text.slice(0, MAX_JSON_CHARS);
      const more = h('button', { type: 'button', class: 'c-btn c-btn-small', onclick: () => { pre.textContent = text; more.remove(); } },
        'Show all (' + num(text.length) + ' characters)');
      bar.appendChild(more);
    } else pre.textContent = text;
    wrap.appendChild(pre);
    return wrap;
  }

  // ------------------------------------------------------------ analysis
  // Reads the events into state visits (one per entry of a state), Map iterations,
  // and outcomes; attributes every event to a visit through previousEventId, with
  // a fallback on the most recent open visit of the right kind.
  function eventDetails(e) {
    for (const k in e) if (k.endsWith('EventDetails')) return e[k];
    return null;
  }
  function typeOfEntered(t) { return t.slice(0, t.length - 'StateEntered'.length); }

  function analyse(events, execution, definition) {
    const n = events.length;
    const idToIdx = new Map();
    const times = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const e = events[i];
      idToIdx.set(e.id, i);
      times[i] = parseTime(e.timestamp);
    }
    const visits = [];
    const evVisit = new Int32Array(n).fill(-1);
    const open = new Set();
    const openByName = new Map(); // name -> [visit idx]
    let lastRedriveIdx = -1;
    let execError = null;
    const mapRuns = [];

    function pushOpen(v) {
      open.add(v.idx);
      let arr = openByName.get(v.name);
      if (!arr) openByName.set(v.name, arr = []);
      arr.push(v.idx);
    }
    function closeVisit(v) {
      open.delete(v.idx);
      const arr = openByName.get(v.name);
      if (arr) { const k = arr.lastIndexOf(v.idx); if (k >= 0) arr.splice(k, 1); }
    }
    function prevVisit(i) {
      const e = events[i];
      if (e.previousEventId == null) return -1;
      const pi = idToIdx.get(e.previousEventId);
      if (pi == null || pi >= i) return -1;
      return evVisit[pi];
    }
    function mostRecentOpen(pred) {
      let best = -1;
      for (const vi of open) if (pred(visits[vi]) && vi > best) best = vi;
      return best;
    }
    function climb(vi, pred) {
      let guard = 0;
      while (vi >= 0 && guard++ < 1000) {
        const v = visits[vi];
        if (pred(v)) return vi;
        vi = v.container;
      }
      return -1;
    }
    function childScope(container, name) {
      // pointer prefix of the scope inside the container visit that holds `name`
      if (!container) return '';
      const p = container.pointer;
      const def = ptrGet(definition, p);
      if (!def) return null;
      if (container.type === 'Map') {
        if (def.ItemProcessor) return p + '/ItemProcessor';
        if (def.Iterator) return p + '/Iterator';
        return null;
      }
      if (container.type === 'Parallel' && Array.isArray(def.Branches)) {
        for (let b = 0; b < def.Branches.length; b++) {
          const br = def.Branches[b];
          if (br && br.States && Object.prototype.hasOwnProperty.call(br.States, name)) return p + '/Branches/' + b;
        }
      }
      return null;
    }
    function pointerFor(container, name) {
      let scope;
      if (container == null) scope = '';
      else if (container.pointer == null) return { pointer: null, scope: null };
      else scope = childScope(container, name);
      if (scope == null) return { pointer: null, scope: null };
      const ptr = scope + '/States/' + ptrEsc(name);
      if (definition && ptrGet(definition, ptr) === undefined) return { pointer: null, scope: scope };
      return { pointer: ptr, scope: scope };
    }

    for (let i = 0; i < n; i++) {
      const e = events[i];
      const t = e.type || '';
      if (t === 'ExecutionRedriven') { lastRedriveIdx = i; continue; }
      if (t.startsWith('Execution')) {
        if (t === 'ExecutionFailed' || t === 'ExecutionTimedOut' || t === 'ExecutionAborted') {
          const d = eventDetails(e) || {};
          execError = { error: d.error, cause: d.cause, idx: i, type: t };
          // A state that failed on its own (States.Runtime: a bad path, a Map's items) is
          // followed directly by ExecutionFailed: the failure is that state's.
          const pv = prevVisit(i);
          if (t === 'ExecutionFailed' && pv >= 0 && !visits[pv].failure && visits[pv].exit < 0) {
            visits[pv].failure = { error: d.error, cause: d.cause, idx: i, type: t };
          }
        }
        continue;
      }
      if (t.endsWith('StateEntered')) {
        const d = e.stateEnteredEventDetails || {};
        const name = d.name != null ? d.name : '(unnamed)';
        let container = -1, iteration = -1;
        const pi = e.previousEventId != null ? idToIdx.get(e.previousEventId) : undefined;
        if (pi != null && pi < i) {
          const pe = events[pi];
          const pv = evVisit[pi];
          if (pe.type === 'MapIterationStarted' && pv >= 0) {
            container = pv;
            const md = pe.mapIterationStartedEventDetails || {};
            iteration = md.index != null ? md.index : -1;
          } else if (pe.type === 'ParallelStateStarted' && pv >= 0) {
            container = pv;
          } else if (pv >= 0) {
            container = visits[pv].container;
            iteration = visits[pv].iteration;
          } else if (pi >= 0 && open.size > 0 && !pe.type.startsWith('Execution')) {
            container = mostRecentOpen((v) => v.type === 'Map' || v.type === 'Parallel');
          }
        } else if (open.size > 0) {
          // no usable previousEventId: the innermost open Map/Parallel, if any
          container = mostRecentOpen((v) => v.type === 'Map' || v.type === 'Parallel');
          if (container >= 0 && visits[container].type === 'Map') {
            const cv = visits[container];
            iteration = cv.lastIterationStarted != null ? cv.lastIterationStarted : -1;
          }
        }
        const cont = container >= 0 ? visits[container] : null;
        const pf = pointerFor(cont, name);
        const v = {
          idx: visits.length, name, type: typeOfEntered(t), pointer: pf.pointer, scope: pf.scope,
          container, iteration, enter: i, exit: -1, events: [i], attempts: [],
          failure: null, aborted: false, finalFailed: false, outcome: null, beforeRedrive: false,
          iterations: null, iterCounts: null, mapRun: null, lastIterationStarted: null,
        };
        if (v.type === 'Map') { v.iterations = []; v.iterCounts = { started: 0, succeeded: 0, failed: 0, aborted: 0 }; }
        visits.push(v);
        evVisit[i] = v.idx;
        pushOpen(v);
        if (cont && cont.type === 'Map' && iteration >= 0) {
          const it = cont.iterations[iteration];
          if (it) it.visits.push(v.idx);
        }
        continue;
      }
      if (t.endsWith('StateExited')) {
        const d = e.stateExitedEventDetails || {};
        let vi = climb(prevVisit(i), (v) => v.name === d.name && v.exit < 0);
        if (vi < 0) { const arr = openByName.get(d.name); vi = arr && arr.length ? arr[arr.length - 1] : -1; }
        if (vi >= 0) {
          const v = visits[vi];
          v.exit = i; v.events.push(i); evVisit[i] = vi; closeVisit(v);
        }
        continue;
      }
      // everything else belongs to a Task, Map or Parallel visit
      let kind = null;
      if (t.startsWith('MapIteration') || t.startsWith('MapState') || t.startsWith('MapRun')) kind = 'Map';
      else if (t.startsWith('ParallelState')) kind = 'Parallel';
      else if (t.startsWith('Task') || t.startsWith('Lambda') || t.startsWith('Activity')) kind = 'Task';
      else if (t.endsWith('StateAborted') || t.endsWith('StateFailed') || t.endsWith('StateSucceeded')) kind = typeOfAny(t);
      let vi = -1;
      const d = eventDetails(e) || {};
      if (t === 'MapIterationFailed' || t === 'ParallelStateFailed' || t === 'MapStateFailed') {
        // Likewise inside an iteration or a branch: the entry this failure follows failed.
        const pv = prevVisit(i);
        if (pv >= 0 && visits[pv].type !== 'Map' && visits[pv].type !== 'Parallel' && !visits[pv].failure && visits[pv].exit < 0) {
          visits[pv].failure = { error: d.error, cause: d.cause, idx: i, type: t };
        }
      }
      if (t.startsWith('MapIteration')) {
        vi = climb(prevVisit(i), (v) => v.type === 'Map' && v.name === d.name && v.exit < 0);
        if (vi < 0) { const arr = openByName.get(d.name); vi = arr && arr.length ? arr[arr.length - 1] : -1; }
      } else if (kind) {
        vi = climb(prevVisit(i), (v) => v.type === kind && v.exit < 0);
        if (vi < 0) vi = mostRecentOpen((v) => v.type === kind);
      } else {
        vi = prevVisit(i);
      }
      if (vi < 0) continue;
      const v = visits[vi];
      evVisit[i] = vi;
      v.events.push(i);
      // attempts (Task retries)
      if (t === 'TaskScheduled' || t === 'LambdaFunctionScheduled' || t === 'ActivityScheduled') {
        v.attempts.push({ scheduled: i, started: -1, end: -1, ok: null, error: null, cause: null });
      } else if (t === 'TaskStarted' || t === 'LambdaFunctionStarted' || t === 'ActivityStarted') {
        const a = v.attempts[v.attempts.length - 1];
        if (a && a.started < 0) a.started = i;
      } else if (/^(Task|LambdaFunction|Activity)(Succeeded|Failed|TimedOut|StartFailed|ScheduleFailed|SubmitFailed)$/.test(t)) {
        let a = v.attempts[v.attempts.length - 1];
        if (!a || a.end >= 0) { a = { scheduled: i, started: -1, end: -1, ok: null }; v.attempts.push(a); }
        a.end = i;
        a.ok = t.endsWith('Succeeded');
        if (!a.ok) { a.error = d.error; a.cause = d.cause; }
      }
      if (t.startsWith('MapIteration')) {
        const idx = d.index != null ? d.index : -1;
        if (idx >= 0) {
          let it = v.iterations[idx];
          if (!it) it = v.iterations[idx] = { index: idx, start: -1, end: -1, status: 'running', visits: [] };
          if (t === 'MapIterationStarted') { it.start = i; v.iterCounts.started++; v.lastIterationStarted = idx; }
          else if (t === 'MapIterationSucceeded') { it.end = i; it.status = 'succeeded'; v.iterCounts.succeeded++; }
          else if (t === 'MapIterationFailed') { it.end = i; it.status = 'failed'; v.iterCounts.failed++; }
          else if (t === 'MapIterationAborted') { it.end = i; it.status = 'aborted'; v.iterCounts.aborted++; }
        }
      }
      if (t.startsWith('MapRun')) {
        v.mapRun = v.mapRun || { arn: null, status: 'RUNNING', counts: null };
        if (t === 'MapRunStarted') v.mapRun.arn = d.mapRunArn || v.mapRun.arn;
        else if (t === 'MapRunSucceeded') v.mapRun.status = 'SUCCEEDED';
        else if (t === 'MapRunFailed') { v.mapRun.status = 'FAILED'; v.mapRun.error = d.error; v.mapRun.cause = d.cause; }
        else if (t === 'MapRunAborted') v.mapRun.status = 'ABORTED';
        else if (t === 'MapRunRedriven') v.mapRun.status = 'RUNNING';
        if (!mapRuns.includes(vi)) mapRuns.push(vi);
      }
      if (/(Failed|TimedOut)$/.test(t) && !t.startsWith('MapIteration')) {
        v.failure = { error: d.error, cause: d.cause, idx: i, type: t };
      }
      if (t.endsWith('StateAborted') || t === 'MapRunAborted') v.aborted = true;
    }

    // Map iteration failures carry no error: the failing inner visit does
    for (const v of visits) if (v.type === 'Fail' && !v.failure) {
      const def = v.pointer ? ptrGet(definition, v.pointer) : null;
      v.failure = { error: def && (def.Error || def.ErrorPath), cause: def && (def.Cause || def.CausePath), idx: v.enter, type: 'FailStateEntered' };
    }
    if (lastRedriveIdx >= 0) for (const v of visits) if (v.enter < lastRedriveIdx) v.beforeRedrive = true;

    // outcomes
    const status = execution && execution.status;
    const execDone = status && status !== 'RUNNING';
    const execBad = status === 'FAILED' || status === 'TIMED_OUT' || status === 'ABORTED';
    function isClosed(v, depth) {
      if (v.exit >= 0 || v.aborted || v.type === 'Fail') return true;
      const last = events[v.events[v.events.length - 1]].type;
      if (/State(Failed|Aborted)$/.test(last)) return true;
      if (v.container >= 0 && depth < 100) {
        const cv = visits[v.container];
        if (cv.type === 'Map' && v.iteration >= 0) {
          const it = cv.iterations[v.iteration];
          if (it && it.end >= 0) return true;
        }
        return isClosed(cv, depth + 1);
      }
      return false;
    }
    for (const v of visits) {
      // A Map or Parallel that failed, was redriven and then ended well succeeded.
      if (v.failure && lastRedriveIdx >= 0 && v.failure.idx < lastRedriveIdx && v.exit > lastRedriveIdx) v.failure = null;
      const lastAttempt = v.attempts[v.attempts.length - 1];
      if (v.type === 'Task' && lastAttempt && lastAttempt.ok !== false && v.failure && /^(Task|LambdaFunction|Activity)/.test(events[v.failure.idx].type)) v.failure = null;
      if (v.exit >= 0) {
        // exited: succeeded, unless the state failed and a Catch moved on
        v.finalFailed = (v.type === 'Map' || v.type === 'Parallel') ? !!v.failure : !!v.failure && (!lastAttempt || lastAttempt.ok === false);
        v.outcome = v.finalFailed ? 'caught' : 'succeeded';
        continue;
      }
      if (!execDone && !isClosed(v, 0)) { v.outcome = 'running'; continue; }
      const last = events[v.events[v.events.length - 1]].type;
      const ownFailure = v.type === 'Fail' || !!v.failure || /State(Failed|TimedOut)$/.test(last);
      let c = v.container, handled = false, guard = 0;
      while (c >= 0 && guard++ < 1000) {
        if (visits[c].exit >= 0) { handled = true; break; }
        c = visits[c].container;
      }
      if (!ownFailure || v.aborted && !v.failure) {
        // cut off: a sibling branch or iteration failed, or the execution was stopped
        v.outcome = status === 'TIMED_OUT' && !handled ? 'failed' : 'aborted';
        continue;
      }
      v.finalFailed = true;
      // did an enclosing Map/Parallel move on (Catch or tolerated failure)? Not for a
      // failure before a redrive: the redrive, not a Catch, went on from it.
      if (v.beforeRedrive) v.outcome = 'failed';
      else if (handled) v.outcome = 'caught';
      else if (!execDone || execBad) v.outcome = 'failed';
      else v.outcome = 'caught';
    }

    // transitions (taken edges): from a visit to the next visit entered after it in the same scope instance
    const transitions = new Set();
    const byScope = new Map();
    for (const v of visits) {
      const key = v.container + ':' + v.iteration + ':' + (v.scope == null ? '?' : v.scope);
      let arr = byScope.get(key);
      if (!arr) byScope.set(key, arr = []);
      arr.push(v);
    }
    for (const [, arr] of byScope) {
      const first = arr[0];
      if (first.pointer != null && first.scope != null) transitions.add((first.scope || '') + '/StartAt|' + first.pointer + '|start');
      for (let k = 0; k < arr.length; k++) {
        const v = arr[k], nx = arr[k + 1];
        if (v.pointer == null) continue;
        if (nx && nx.pointer != null) {
          if (nx.enter > lastRedriveIdx && v.enter < lastRedriveIdx && v.outcome !== 'caught' && v.exit < 0) continue;
          transitions.add(v.pointer + '|' + nx.pointer + '|' + (v.outcome === 'caught' ? 'catch' : 'next'));
        } else if (!nx && v.container < 0 && v.exit >= 0 && status === 'SUCCEEDED') {
          transitions.add(v.pointer + '|END|next');
        }
      }
    }

    const t0 = n ? (isFinite(times[0]) ? times[0] : parseTime(execution && execution.startDate)) : parseTime(execution && execution.startDate);
    let tEnd = n ? times[n - 1] : t0;
    const stop = parseTime(execution && execution.stopDate);
    if (isFinite(stop) && stop > tEnd) tEnd = stop;
    return { events, times, idToIdx, visits, evVisit, transitions, t0, tEnd, execError, lastRedriveIdx, mapRuns };
  }
  function typeOfAny(t) {
    const m = /^(Task|Pass|Choice|Wait|Succeed|Fail|Map|Parallel)State/.exec(t);
    return m ? m[1] : null;
  }
  // ------------------------------------------------------------- graph
  function buildGraph(host, opts) {
    const src = document.getElementById('graph-source');
    const svg = src ? src.querySelector('svg') : null;
    const viewport = h('div', { class: 'c-graph-viewport', role: 'group', 'aria-label': 'Workflow graph: drag to pan, wheel to zoom' });
    const controls = h('div', { class: 'c-graph-controls', role: 'toolbar', 'aria-label': 'Graph zoom' });
    host.appendChild(controls);
    host.appendChild(viewport);
    if (!svg) {
      viewport.appendChild(h('p', { class: 'c-muted c-pad' }, 'No graph in this page.'));
      return null;
    }
    viewport.appendChild(svg);
    if (src) src.remove();
    const vbAttr = (svg.getAttribute('viewBox') || '').trim().split(/[\s,]+/).map(Number);
    let base;
    if (vbAttr.length === 4 && vbAttr.every(isFinite)) base = { x: vbAttr[0], y: vbAttr[1], w: vbAttr[2], h: vbAttr[3] };
    else base = { x: 0, y: 0, w: Number(svg.getAttribute('width')) || 600, h: Number(svg.getAttribute('height')) || 400 };
    const natH = base.h;
    svg.setAttribute('width', '100%');
    svg.setAttribute('height', '100%');
    svg.setAttribute('preserveAspectRatio', 'xMidYMid meet');
    viewport.style.height = Math.max(280, Math.min(natH + 24, Math.round(window.innerHeight * 0.7) || 600)) + 'px';
    let vb = Object.assign({}, base);
    function apply() { svg.setAttribute('viewBox', vb.x + ' ' + vb.y + ' ' + vb.w + ' ' + vb.h); }
    function fit() { vb = Object.assign({}, base); const pad = Math.max(base.w, base.h) * 0.02; vb.x -= pad; vb.y -= pad; vb.w += 2 * pad; vb.h += 2 * pad; apply(); }
    function zoomAt(factor, cx, cy) {
      const nw = Math.min(base.w * 20, Math.max(base.w / 20, vb.w / factor));
      const f = vb.w / nw;
      const nh = vb.h / f;
      vb = { x: cx - (cx - vb.x) / f, y: cy - (cy - vb.y) / f, w: nw, h: nh };
      apply();
    }
    function toSvg(clientX, clientY) {
      const m = svg.getScreenCTM();
      if (!m) return { x: vb.x + vb.w / 2, y: vb.y + vb.h / 2 };
      const pt = new DOMPoint(clientX, clientY).matrixTransform(m.inverse());
      return { x: pt.x, y: pt.y };
    }
    const zin = h('button', { type: 'button', class: 'c-btn', 'aria-label': 'Zoom in', title: 'Zoom in', onclick: () => zoomAt(1.25, vb.x + vb.w / 2, vb.y + vb.h / 2) }, '+');
    const zout = h('button', { type: 'button', class: 'c-btn', 'aria-label': 'Zoom out', title: 'Zoom out', onclick: () => zoomAt(0.8, vb.x + vb.w / 2, vb.y + vb.h / 2) }, '−');
    const zfit = h('button', { type: 'button', class: 'c-btn', title: 'Fit the graph', onclick: fit }, 'Fit');
    append(controls, [zin, zout, zfit]);
    viewport.addEventListener('wheel', (e) => {
      e.preventDefault();
      const p = toSvg(e.clientX, e.clientY);
      zoomAt(Math.pow(1.0015, -e.deltaY), p.x, p.y);
    }, { passive: false });
    let drag = null;
    viewport.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, vb: Object.assign({}, vb), moved: false, id: e.pointerId };
    });
    viewport.addEventListener('pointermove', (e) => {
      if (!drag || drag.id !== e.pointerId) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 5) return;
      if (!drag.moved) { drag.moved = true; viewport.setPointerCapture(e.pointerId); viewport.classList.add('is-dragging'); }
      const rect = svg.getBoundingClientRect();
      const scale = Math.max(drag.vb.w / rect.width, drag.vb.h / rect.height);
      vb = { x: drag.vb.x - dx * scale, y: drag.vb.y - dy * scale, w: drag.vb.w, h: drag.vb.h };
      apply();
    });
    function endDrag(e) {
      if (!drag) return;
      if (drag.moved) {
        viewport.classList.remove('is-dragging');
        try { viewport.releasePointerCapture(e.pointerId); } catch (err) { /* released */ }
        const swallow = (ce) => { ce.stopPropagation(); ce.preventDefault(); };
        viewport.addEventListener('click', swallow, { capture: true, once: true });
        setTimeout(() => viewport.removeEventListener('click', swallow, { capture: true }), 0);
      }
      drag = null;
    }
    viewport.addEventListener('pointerup', endDrag);
    viewport.addEventListener('pointercancel', endDrag);
    fit();

    // nodes: keyboard and clicks
    const nodes = Array.from(svg.querySelectorAll('.sfn-state, .sfn-group'));
    for (const nd of nodes) {
      if (!nd.hasAttribute('tabindex')) nd.setAttribute('tabindex', '0');
      nd.setAttribute('role', 'button');
      nd.setAttribute('focusable', 'true');
      const label = (nd.dataset.name || '') + ' (' + (nd.dataset.type || 'state') + ')';
      nd.setAttribute('aria-label', label);
    }
    svg.setAttribute('role', 'group');
    svg.setAttribute('tabindex', '-1');
    svg.addEventListener('click', (e) => {
      const nd = e.target.closest && e.target.closest('.sfn-state, .sfn-group');
      if (!nd || !svg.contains(nd)) return;
      // a click on a group's inner state belongs to the state
      e.stopPropagation();
      if (opts.onSelect) opts.onSelect(nd);
    });
    svg.addEventListener('keydown', (e) => {
      const nd = e.target.closest && e.target.closest('.sfn-state, .sfn-group');
      if (!nd) return;
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        if (opts.onSelect) opts.onSelect(nd);
        return;
      }
      const dir = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] }[e.key];
      if (!dir) return;
      e.preventDefault();
      const r0 = nd.getBoundingClientRect();
      const c0 = { x: r0.left + r0.width / 2, y: r0.top + r0.height / 2 };
      let best = null, bestScore = Infinity;
      for (const other of nodes) {
        if (other === nd) continue;
        const r = other.getBoundingClientRect();
        const c = { x: r.left + r.width / 2, y: r.top + r.height / 2 };
        const dx = c.x - c0.x, dy = c.y - c0.y;
        const along = dx * dir[0] + dy * dir[1];
        if (along <= 1) continue;
        const across = Math.abs(dx * dir[1]) + Math.abs(dy * dir[0]);
        const score = along + across * 2;
        if (score < bestScore) { bestScore = score; best = other; }
      }
      if (best) { best.focus(); ensureVisible(best); }
    });
    function ensureVisible(nd) {
      const r = nd.getBoundingClientRect(), vr = viewport.getBoundingClientRect();
      if (r.left >= vr.left && r.right <= vr.right && r.top >= vr.top && r.bottom <= vr.bottom) return;
      const bb = nd.getBBox ? nd.getBBox() : null;
      if (!bb) return;
      vb = { x: bb.x + bb.width / 2 - vb.w / 2, y: bb.y + bb.height / 2 - vb.h / 2, w: vb.w, h: vb.h };
      apply();
    }
    svg.addEventListener('focusin', (e) => {
      const nd = e.target.closest && e.target.closest('.sfn-state, .sfn-group');
      if (nd) ensureVisible(nd);
    });
    return { svg, nodes, viewport, ensureVisible, fit };
  }

  function clearDecorations(svg) {
    for (const el of svg.querySelectorAll('.c-node-icon, .c-group-badge')) el.remove();
  }
  function colourGraph(graph, an, execStatus) {
    if (!graph) return;
    const { svg, nodes } = graph;
    clearDecorations(svg);
    const byPtr = new Map(), byName = new Map();
    // drop visits superseded by a redrive
    const latestPtr = new Map();
    for (const v of an.visits) if (v.pointer) latestPtr.set(v.pointer, v.idx);
    for (const v of an.visits) {
      if (v.beforeRedrive && v.outcome !== 'succeeded' && latestPtr.get(v.pointer) !== v.idx && an.visits[latestPtr.get(v.pointer)] && !an.visits[latestPtr.get(v.pointer)].beforeRedrive) continue;
      const add = (m, k) => { let a = m.get(k); if (!a) m.set(k, a = []); a.push(v); };
      if (v.pointer) add(byPtr, v.pointer);
      add(byName, v.name);
    }
    const ptrSet = new Set(nodes.map((nd) => nd.dataset.pointer));
    const result = [];
    for (const nd of nodes) {
      nd.classList.remove('is-succeeded', 'is-failed', 'is-caught', 'is-running', 'is-not-reached', 'is-aborted');
      const ptr = nd.dataset.pointer;
      let vs = byPtr.get(ptr);
      if (!vs) {
        // visits whose pointer could not be resolved: match by name
        const named = byName.get(nd.dataset.name) || [];
        vs = named.filter((v) => !v.pointer || !ptrSet.has(v.pointer));
      }
      const counts = { succeeded: 0, failed: 0, caught: 0, running: 0, aborted: 0 };
      for (const v of vs) counts[v.outcome] = (counts[v.outcome] || 0) + 1;
      let outcome = 'not-reached';
      if (counts.running) outcome = 'running';
      else if (counts.failed) outcome = 'failed';
      else if (counts.caught) outcome = 'caught';
      else if (counts.aborted) outcome = 'aborted';
      else if (counts.succeeded) outcome = 'succeeded';
      nd.classList.add('is-' + outcome);
      const oc = OUTCOME[outcome];
      const label = (nd.dataset.name || '') + ' (' + (nd.dataset.type || 'state') + '): ' +
        oc.label +
        (vs.length > 1 ? ', ' + num(vs.length) + ' runs' : '');
      nd.setAttribute('aria-label', label);
      let title = nd.querySelector(':scope > title');
      if (!title) { title = s('title'); nd.insertBefore(title, nd.firstChild); }
      title.textContent = label;
      // status icon in the top-right corner of the node box (not colour alone)
      const box = nd.querySelector(':scope > rect');
      if (box) {
        const x = Number(box.getAttribute('x')) || 0, y = Number(box.getAttribute('y')) || 0,
          w = Number(box.getAttribute('width')) || 0;
        const isGroup = nd.classList.contains('sfn-group');
        const icon = s('text', { class: 'c-node-icon', x: x + w - (isGroup ? 8 : 6), y: y + (isGroup ? 15 : 13), 'text-anchor': 'end', 'aria-hidden': 'true', text: oc.icon });
        if (!isGroup) nd.appendChild(icon);
        if (isGroup) groupBadge(nd, box, vs, icon, counts, outcome);
      }
      result.push({ node: nd, outcome, visits: vs });
    }
    for (const ed of svg.querySelectorAll('.sfn-edge')) {
      const from = ed.dataset.from, to = ed.dataset.to;
      const kind = ed.classList.contains('sfn-edge-catch') ? 'catch' : 'next';
      let taken = false;
      if (/\/StartAt$/.test(from || '')) taken = an.transitions.has(from + '|' + to + '|start');
      else if (kind === 'catch') taken = an.transitions.has(from + '|' + to + '|catch');
      else taken = an.transitions.has(from + '|' + to + '|next') ||
        (an.transitions.has(from + '|' + to + '|catch') && !svg.querySelector('.sfn-edge-catch[data-from="' + cssEsc(from) + '"][data-to="' + cssEsc(to) + '"]'));
      ed.classList.toggle('is-taken', taken);
    }
    return result;
  }
  function cssEsc(v) { return (window.CSS && CSS.escape) ? CSS.escape(v) : String(v).replace(/["\\]/g, '\\$&'); }
  function groupBadge(nd, box, vs, icon, counts, outcome) {
    const type = nd.dataset.type;
    const parts = [], words = [];
    if (type === 'Map') {
      const c = { succeeded: 0, failed: 0, aborted: 0, running: 0 };
      let mapRun = null;
      for (const v of vs) {
        if (v.iterCounts) {
          c.succeeded += v.iterCounts.succeeded; c.failed += v.iterCounts.failed; c.aborted += v.iterCounts.aborted;
          c.running += Math.max(0, v.iterCounts.started - v.iterCounts.succeeded - v.iterCounts.failed - v.iterCounts.aborted);
        }
        if (v.mapRun) mapRun = v.mapRun;
      }
      if (mapRun && mapRun.counts) {
        c.succeeded = mapRun.counts.succeeded || 0; c.failed = (mapRun.counts.failed || 0) + (mapRun.counts.timedOut || 0);
        c.aborted = mapRun.counts.aborted || 0; c.running = (mapRun.counts.running || 0) + (mapRun.counts.pending || 0);
      }
      if (c.succeeded) { parts.push('✓ ' + num(c.succeeded)); words.push(num(c.succeeded) + ' succeeded'); }
      if (c.failed) { parts.push('✕ ' + num(c.failed)); words.push(num(c.failed) + ' failed'); }
      if (c.aborted) { parts.push('⊘ ' + num(c.aborted)); words.push(num(c.aborted) + ' aborted'); }
      if (c.running) { parts.push('▶ ' + num(c.running)); words.push(num(c.running) + ' running'); }
      if (!parts.length && mapRun) { parts.push('Map Run ' + mapRun.status.toLowerCase()); words.push('Map Run ' + mapRun.status.toLowerCase()); }
      else if (!parts.length && vs.length) { parts.push('0 iterations'); words.push('no iterations'); }
    } else if (vs.length > 1) {
      for (const k of ['succeeded', 'caught', 'failed', 'aborted', 'running']) if (counts[k]) {
        parts.push(OUTCOME[k].icon + ' ' + num(counts[k]));
        words.push(num(counts[k]) + ' ' + OUTCOME[k].label.toLowerCase());
      }
    }
    const o = OUTCOME[outcome];
    const head = o.icon + ' ' + o.label;
    const text = head + (parts.length ? '  ·  ' + parts.join('  ') : '');
    const x = Number(box.getAttribute('x')) || 0, y = Number(box.getAttribute('y')) || 0, w = Number(box.getAttribute('width')) || 0;
    const bw = Math.round(text.length * 6.6 + 16), bh = 18;
    const g = s('g', { class: 'c-group-badge c-gb-' + outcome, transform: 'translate(' + (x + w - bw - 8) + ',' + (y - bh / 2) + ')' });
    g.appendChild(s('title', { text: o.label + (words.length ? (type === 'Map' ? '. Iterations: ' : '. Runs: ') + words.join(', ') : '') }));
    g.appendChild(s('rect', { width: bw, height: bh, rx: 9, ry: 9 }));
    g.appendChild(s('text', { x: bw / 2, y: 13, 'text-anchor': 'middle', text }));
    nd.appendChild(g);
  }

  // ------------------------------------------------------------- shared bits
  let DATA = null;
  function topNav(extra) {
    const live = DATA.mode === 'live';
    const nav = h('nav', { class: 'c-topnav', 'aria-label': 'sfnlite console' },
      h('span', { class: 'c-brand' }, 'sfnlite', h('span', { class: 'c-brand-sub' }, ' console')),
      live ? h('a', { href: '/' }, 'Executions') : null,
      live ? h('a', { href: '/state-machines' }, 'State machines') : null,
      h('span', { class: 'c-spacer' }),
      extra || null,
      h('span', { class: 'c-mode', title: live ? 'Served by sfnlite serve: this page refreshes itself' : 'A saved page: it shows the data it was written with' },
        live ? 'Live' : 'Snapshot' + (DATA.generatedAt ? ' of ' + fmtTime(parseTime(DATA.generatedAt)) : '')));
    return nav;
  }
  function smLink(arn) {
    if (!arn) return '—';
    const name = lastSeg(arn.replace(/:[^:]*$/, (m) => m)); // last segment
    return DATA.mode === 'live' ? h('a', { href: '/state-machines/' + encodeArn(arn) }, name) : h('span', { title: arn }, name);
  }
  function execLink(arn, name) {
    return h('a', { href: '/executions/' + encodeArn(arn) }, name || lastSeg(arn));
  }

  // ------------------------------------------------------------- execution page
  function executionPage(root) {
    const state = {
      exec: DATA.execution || {},
      events: Array.isArray(DATA.events) ? DATA.events : [],
      an: null, graph: null, graphResult: null,
      selected: null, // {pointer, name, visitIdx}
      drill: new Map(), // map visit idx -> iteration index
      evFilter: { type: '', text: '', page: 0, onlyIds: null }, expanded: new Set(),
      timelineShowAll: false, polling: false, pollTimer: 0,
    };
    const virt = DATA.clock === 'virtual';
    const live = DATA.mode === 'live';

    msgArea = h('div', { class: 'c-messages', 'aria-live': 'polite' });
    const header = h('header', { class: 'c-exec-header' });
    const main = h('main', { class: 'c-main', id: 'main' });
    const graphSec = h('section', { class: 'c-card c-graph-card', 'aria-labelledby': 'graph-h' },
      h('div', { class: 'c-card-head' }, h('h2', { id: 'graph-h' }, 'Graph'), legend()));
    const detail = h('aside', { class: 'c-card c-detail', 'aria-labelledby': 'detail-h', tabindex: '-1' });
    const timelineSec = h('section', { class: 'c-card c-timeline-card', 'aria-labelledby': 'tl-h' });
    const eventsSec = h('section', { class: 'c-card c-events-card', 'aria-labelledby': 'ev-h' });
    const ioSec = h('section', { class: 'c-card c-io-card', 'aria-labelledby': 'io-h' });
    append(main, [msgArea, header, h('div', { class: 'c-split' }, graphSec, detail), ioSec, timelineSec, eventsSec]);
    append(root, [h('a', { class: 'c-skip', href: '#main' }, 'Skip to content'), topNav(), main]);

    state.graph = buildGraph(graphSec, { onSelect: (nd) => select({ pointer: nd.dataset.pointer, name: nd.dataset.name, type: nd.dataset.type }, true) });

    function recompute() {
      state.an = analyse(state.events, state.exec, DATA.definition || {});
      state.graphResult = colourGraph(state.graph, state.an, state.exec.status);
    }

    // ---- header
    function renderHeader() {
      const ex = state.exec;
      document.body.dataset.status = ex.status || '';
      const start = parseTime(ex.startDate), stop = parseTime(ex.stopDate);
      let dur = NaN;
      if (isFinite(stop)) dur = stop - start;
      else if (state.an && state.an.tEnd) dur = state.an.tEnd - start;
      clear(header);
      const actions = h('div', { class: 'c-actions' });
      if (live) {
        if (ex.status === 'RUNNING') actions.appendChild(h('button', { type: 'button', class: 'c-btn c-btn-danger', onclick: doStop }, 'Stop execution'));
        if (ex.status === 'FAILED' || ex.status === 'TIMED_OUT' || ex.status === 'ABORTED')
          actions.appendChild(h('button', { type: 'button', class: 'c-btn c-btn-primary', onclick: doRedrive }, 'Redrive'));
        actions.appendChild(h('span', { class: 'c-live-note', role: 'status' }, ex.status === 'RUNNING' ? 'Refreshing every ' + (POLL_MS / 1000) + ' s' : ''));
      }
      const arnCopy = h('button', { type: 'button', class: 'c-btn c-btn-small', 'aria-label': 'Copy the execution ARN', onclick: () => copyText(ex.executionArn || '', arnCopy) }, 'Copy');
      append(header, [
        h('div', { class: 'c-title-row' },
          h('h1', { class: 'c-h1' }, h('span', { class: 'c-h1-kind' }, 'Execution '), ex.name || lastSeg(ex.executionArn) || '(unnamed)'),
          statusBadge(ex.status),
          virt ? h('span', { class: 'c-virtual', title: 'Timestamps come from sfnlite\'s virtual clock: Waits, retry back-off and timeouts took no real time.' }, '⏲ Virtual time') : null,
          actions),
        h('dl', { class: 'c-facts' },
          fact('Started' + (virt ? ' (virtual)' : ''), fmtTime(start)),
          fact('Ended' + (virt ? ' (virtual)' : ''), isFinite(stop) ? fmtTime(stop) : (ex.status === 'RUNNING' ? 'Still running' : '—')),
          fact('Duration' + (virt ? ' (virtual)' : ''), fmtDur(dur) + (isFinite(stop) ? '' : ex.status === 'RUNNING' ? ' so far' : '')),
          fact('Redrives', String(ex.redriveCount || 0) + (ex.redriveDate ? ' (last ' + fmtTime(parseTime(ex.redriveDate)) + ')' : '')),
          fact('State machine', smLink(ex.stateMachineArn)),
          fact('Events', num(state.events.length)),
          fact('Execution ARN', h('span', { class: 'c-arn' }, h('code', null, ex.executionArn || '—'), ' ', arnCopy))),
        (ex.error || ex.cause || ((ex.status === 'FAILED' || ex.status === 'TIMED_OUT') && state.an && state.an.execError)) ?
          errorBox(ex.error || (state.an.execError || {}).error, ex.cause || (state.an.execError || {}).cause) : null,
      ]);
    }
    function fact(k, v) { return h('div', { class: 'c-fact' }, h('dt', null, k), h('dd', null, v)); }

    function renderIO() {
      const ex = state.exec;
      clear(ioSec);
      append(ioSec, [h('h2', { id: 'io-h', class: 'c-h2' }, 'Execution input and output'),
        h('div', { class: 'c-io' },
          jsonBlock('Input', ex.input !== undefined ? ex.input : null, { open: false, emptyText: 'Not shown' }),
          jsonBlock('Output', ex.output !== undefined ? ex.output : undefined, { open: false, emptyText: ex.status === 'RUNNING' ? 'No output yet' : 'No output' }))]);
    }

    // ---- detail panel
    function visitsForSel(sel) {
      const an = state.an;
      if (!an) return [];
      if (sel.pointer) {
        const vs = an.visits.filter((v) => v.pointer === sel.pointer);
        if (vs.length || !sel.name) return vs.length ? vs : an.visits.filter((v) => !v.pointer && v.name === sel.name);
      }
      return an.visits.filter((v) => v.name === sel.name);
    }
    function select(sel, fromGraph) {
      state.selected = sel;
      if (state.graph) {
        for (const nd of state.graph.nodes) nd.classList.toggle('is-selected', nd.dataset.pointer === sel.pointer);
      }
      renderDetail();
      if (!fromGraph) {
        const nd = state.graph && state.graph.nodes.find((x) => x.dataset.pointer === sel.pointer);
        if (nd) state.graph.ensureVisible(nd);
      }
      for (const b of timelineSec.querySelectorAll('.c-bar.is-selected')) b.classList.remove('is-selected');
      if (sel.visitIdx != null) {
        const b = timelineSec.querySelector('.c-bar[data-visit="' + sel.visitIdx + '"]');
        if (b) b.classList.add('is-selected');
      }
    }
    function renderDetail() {
      clear(detail);
      const sel = state.selected;
      detail.appendChild(h('div', { class: 'c-card-head' }, h('h2', { id: 'detail-h' }, sel ? sel.name || sel.pointer : 'Details'),
        sel ? h('button', { type: 'button', class: 'c-btn c-btn-small', 'aria-label': 'Close the details', onclick: () => { state.selected = null; for (const nd of (state.graph ? state.graph.nodes : [])) nd.classList.remove('is-selected'); renderDetail(); } }, 'Close') : null));
      if (!sel) {
        detail.appendChild(h('p', { class: 'c-muted' }, 'Select a state in the graph (click, or Tab to it and press Enter) or a bar in the timeline to see its input, output, error and events.'));
        if (state.an) {
          const failed = state.graphResult ? state.graphResult.filter((r) => r.outcome === 'failed') : [];
          if (failed.length) {
            detail.appendChild(h('p', null, 'Failed here: ', failed.map((r, k) => [k ? ', ' : '',
              h('button', { type: 'button', class: 'c-linkbtn', onclick: () => select({ pointer: r.node.dataset.pointer, name: r.node.dataset.name, type: r.node.dataset.type }) }, r.node.dataset.name)])));
          }
        }
        return;
      }
      const vs = visitsForSel(sel);
      const defNode = sel.pointer ? ptrGet(DATA.definition || {}, sel.pointer) : undefined;
      const type = sel.type || (vs[0] && vs[0].type) || (defNode && defNode.Type) || '';
      let v = null;
      if (sel.visitIdx != null) v = state.an.visits[sel.visitIdx] || null;
      if (v && vs.indexOf(v) < 0) v = null;
      if (!v && vs.length) {
        v = vs.find((x) => x.outcome === 'failed') || vs.find((x) => x.outcome === 'running') || vs.find((x) => x.outcome === 'caught') || vs[vs.length - 1];
      }
      const pos = v ? vs.indexOf(v) : -1;
      const meta = h('p', { class: 'c-detail-meta' }, h('span', { class: 'c-kind' }, type || 'State'), ' ',
        v ? outcomeBadge(v.outcome) : outcomeBadge('not-reached'),
        ' ', defNode !== undefined ? h('button', { type: 'button', class: 'c-linkbtn', 'aria-expanded': 'false', onclick: (e) => {
          const box = detail.querySelector('.c-defbox');
          const openNow = box.hidden;
          box.hidden = !openNow; e.currentTarget.setAttribute('aria-expanded', String(openNow));
          if (openNow) box.querySelector('details').open = true;
        } }, 'Definition') : null);
      detail.appendChild(meta);
      if (defNode !== undefined) {
        const box = h('div', { class: 'c-defbox', hidden: true }, jsonBlock('Definition (' + sel.pointer + ')', defNode));
        detail.appendChild(box);
      }
      if (!vs.length) {
        detail.appendChild(h('p', { class: 'c-muted' }, DATA.page === 'execution' ? 'This state was not reached in this execution.' : ''));
        return;
      }
      // visit chooser
      if (vs.length > 1) {
        const nav = h('div', { class: 'c-visitnav', role: 'group', 'aria-label': 'Runs of this state' });
        const go = (k) => select(Object.assign({}, sel, { visitIdx: vs[Math.max(0, Math.min(vs.length - 1, k))].idx }));
        const input = h('input', { type: 'number', min: 1, max: vs.length, value: pos + 1, class: 'c-input c-input-num', 'aria-label': 'Run number' });
        input.addEventListener('change', () => go((Number(input.value) || 1) - 1));
        append(nav, [h('button', { type: 'button', class: 'c-btn c-btn-small', disabled: pos <= 0 ? true : null, onclick: () => go(pos - 1), 'aria-label': 'Previous run' }, '‹'),
          h('label', null, 'Run ', input, ' of ' + num(vs.length)),
          h('button', { type: 'button', class: 'c-btn c-btn-small', disabled: pos >= vs.length - 1 ? true : null, onclick: () => go(pos + 1), 'aria-label': 'Next run' }, '›')]);
        const firstBad = vs.find((x) => x.outcome === 'failed' || x.outcome === 'caught' || x.outcome === 'aborted');
        if (firstBad && firstBad !== v) nav.appendChild(h('button', { type: 'button', class: 'c-btn c-btn-small', onclick: () => select(Object.assign({}, sel, { visitIdx: firstBad.idx })) }, 'First failed run'));
        detail.appendChild(nav);
      }
      const an = state.an;
      const tIn = an.times[v.enter];
      const endIdx = v.exit >= 0 ? v.exit : v.events[v.events.length - 1];
      const tOut = v.exit >= 0 ? an.times[v.exit] : (v.outcome === 'running' ? NaN : an.times[endIdx]);
      const where = [];
      let c = v, guard = 0;
      while (c && c.container >= 0 && guard++ < 50) {
        const cv = an.visits[c.container];
        where.unshift(cv.type === 'Map' && c.iteration >= 0 ? cv.name + ' iteration #' + c.iteration : cv.name);
        c = cv;
      }
      const dl = h('dl', { class: 'c-facts c-facts-compact' },
        where.length ? fact('Inside', where.join(' › ')) : null,
        fact('Entered' + (virt ? ' (virtual)' : ''), fmtTime(tIn)),
        fact('Exited' + (virt ? ' (virtual)' : ''), v.exit >= 0 ? fmtTime(tOut) : (v.outcome === 'running' ? 'Not yet' : 'Did not exit')),
        fact('Duration', isFinite(tOut) ? fmtDur(tOut - tIn) : fmtDur((an.tEnd || tIn) - tIn) + ' so far'),
        v.attempts.length ? fact('Attempts', String(v.attempts.length) + (v.attempts.length > 1 ? ' (' + (v.attempts.length - 1) + ' retried)' : '')) : null);
      detail.appendChild(dl);
      if (v.type === 'Map') detail.appendChild(mapPanel(v));
      const failure = v.failure || (v.attempts.length && v.attempts[v.attempts.length - 1].ok === false ? v.attempts[v.attempts.length - 1] : null);
      if (failure && (failure.error || failure.cause)) detail.appendChild(errorBox(failure.error, failure.cause, v.outcome === 'caught' ? 'Error (caught)' : 'Error'));
      if (v.attempts.length > 1 || v.attempts.some((a) => a.ok === false)) {
        const tb = h('table', { class: 'c-table c-table-compact' }, h('caption', null, 'Attempts'),
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, '#'), h('th', { scope: 'col' }, 'Scheduled'), h('th', { scope: 'col' }, 'Took'), h('th', { scope: 'col' }, 'Result'))));
        const tbody = h('tbody');
        v.attempts.forEach((a, k) => {
          const ts = an.times[a.scheduled], te = a.end >= 0 ? an.times[a.end] : NaN;
          tbody.appendChild(h('tr', null, h('td', null, String(k + 1)), h('td', null, fmtTime(ts)), h('td', null, isFinite(te) ? fmtDur(te - ts) : '—'),
            h('td', null, a.ok === true ? outcomeBadge('succeeded') : a.ok === false ? h('span', null, outcomeBadge('failed'), ' ', h('code', null, a.error || '')) : outcomeBadge('running'))));
        });
        tb.appendChild(tbody);
        detail.appendChild(tb);
      }
      const enterEv = an.events[v.enter];
      const exitEv = v.exit >= 0 ? an.events[v.exit] : null;
      const inD = enterEv.stateEnteredEventDetails || {};
      detail.appendChild(jsonBlock('Input', inD.input, { note: inD.inputDetails && inD.inputDetails.truncated ? '(truncated)' : '' }));
      if (exitEv) {
        const outD = exitEv.stateExitedEventDetails || {};
        detail.appendChild(jsonBlock('Output', outD.output, { note: outD.outputDetails && outD.outputDetails.truncated ? '(truncated)' : '' }));
      } else detail.appendChild(h('p', { class: 'c-muted' }, v.outcome === 'running' ? 'No output yet.' : 'No output: the state did not exit.'));
      // events behind it
      const evs = v.events;
      const list = h('table', { class: 'c-table c-table-compact' }, h('caption', null, 'Events (' + num(evs.length) + ')'),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'ID'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Time' + (virt ? ' (virtual)' : '')))));
      const tbody = h('tbody');
      for (const ei of evs.slice(0, 200)) {
        const e = an.events[ei];
        tbody.appendChild(h('tr', null, h('td', null, h('button', { type: 'button', class: 'c-linkbtn', title: 'Show in the events table', onclick: () => showEventInTable(e.id) }, String(e.id))),
          h('td', { class: /Failed|TimedOut|Aborted/.test(e.type) ? 'c-ev-bad' : null }, e.type), h('td', null, fmtTime(an.times[ei]))));
      }
      list.appendChild(tbody);
      detail.appendChild(list);
      if (evs.length > 200) detail.appendChild(h('p', { class: 'c-muted' }, 'First 200 events shown; the events table lists them all.'));
    }
    function mapPanel(v) {
      const box = h('div', { class: 'c-mappanel' });
      const c = v.iterCounts || { started: 0, succeeded: 0, failed: 0, aborted: 0 };
      const running = Math.max(0, c.started - c.succeeded - c.failed - c.aborted);
      box.appendChild(h('p', null, h('strong', null, 'Iterations: '), num(c.started) + ' started · ',
        h('span', { class: 'c-t-ok' }, '✓ ' + num(c.succeeded) + ' succeeded'), ' · ',
        h('span', { class: 'c-t-bad' }, '✕ ' + num(c.failed) + ' failed'), ' · ', '⊘ ' + num(c.aborted) + ' aborted',
        running ? ' · ▶ ' + num(running) + ' running' : ''));
      if (v.mapRun) {
        box.appendChild(h('p', null, h('strong', null, 'Map Run: '), v.mapRun.status, v.mapRun.arn ? [' ', h('code', { class: 'c-arn' }, v.mapRun.arn)] : null,
          v.mapRun.counts ? ' — items: ' + Object.entries(v.mapRun.counts).filter(([k]) => k !== 'resultsWritten').map(([k, n]) => k + ' ' + num(n)).join(', ') : ''));
      }
      if (v.iterations && v.iterations.length) {
        const input = h('input', { type: 'number', min: 0, max: v.iterations.length - 1, value: state.drill.has(v.idx) ? state.drill.get(v.idx) : 0, class: 'c-input c-input-num', 'aria-label': 'Iteration index' });
        const form = h('form', { class: 'c-inline-form', onsubmit: (e) => { e.preventDefault(); drillTo(v.idx, Number(input.value) || 0); } },
          h('label', null, 'Iteration index ', input), ' ', h('button', { type: 'submit', class: 'c-btn c-btn-small' }, 'Show in timeline'));
        box.appendChild(form);
        const bad = [];
        for (const it of v.iterations) if (it && (it.status === 'failed' || it.status === 'aborted')) { bad.push(it); if (bad.length >= 50) break; }
        if (bad.length) {
          box.appendChild(h('p', null, 'Failed or aborted iterations' + (bad.length >= 50 ? ' (first 50)' : '') + ': ',
            bad.map((it, k) => [k ? ' ' : '', h('button', { type: 'button', class: 'c-chip c-chip-bad', onclick: () => drillTo(v.idx, it.index) }, '#' + it.index)])));
        }
      }
      return box;
    }
    function drillTo(mapVisitIdx, index) {
      state.drill.set(mapVisitIdx, index);
      renderTimeline();
      const row = timelineSec.querySelector('.c-tl-drill[data-map="' + mapVisitIdx + '"]');
      if (row) { row.scrollIntoView({ block: 'nearest' }); const f = row.querySelector('.c-bar, button'); if (f) f.focus({ preventScroll: true }); }
    }

    // ---- timeline
    function renderTimeline() {
      const an = state.an;
      clear(timelineSec);
      const t0 = an.t0, span = Math.max(1, an.tEnd - t0);
      const head = h('div', { class: 'c-card-head' }, h('h2', { id: 'tl-h' }, 'Timeline'),
        h('span', { class: 'c-muted' }, (virt ? 'Virtual time' : 'Time') + ' since the execution started · total ' + fmtDur(an.tEnd - t0)),
        h('span', { class: 'c-tl-key', 'aria-hidden': 'true' },
          h('span', { class: 'c-key c-key-task' }), 'state ', h('span', { class: 'c-key c-key-wait' }), 'wait ',
          h('span', { class: 'c-key c-key-retry' }), 'failed attempt ', h('span', { class: 'c-key c-key-map' }), 'Map (all iterations)'));
      timelineSec.appendChild(head);
      const grid = h('div', { class: 'c-tl', role: 'list', 'aria-label': 'State executions over time' });
      // axis
      const axis = h('div', { class: 'c-tl-row c-tl-axis', 'aria-hidden': 'true' }, h('div', { class: 'c-tl-label' }, virt ? 'virtual time' : 'time'));
      const axTrack = h('div', { class: 'c-tl-track' });
      const step = niceStep(span, 8);
      for (let t = 0; t <= span + 1e-6; t += step) {
        axTrack.appendChild(h('span', { class: 'c-tick', style: { left: (t / span * 100) + '%' } }, fmtAxis(t)));
      }
      axis.appendChild(axTrack);
      grid.appendChild(axis);
      let rows = 0, total = 0;
      const limit = state.timelineShowAll ? Infinity : MAX_TIMELINE_ROWS;
      const children = new Map(); // container idx -> [visits] (non-Map containers), and map iteration lists
      for (const v of an.visits) {
        if (v.container < 0) continue;
        const cv = an.visits[v.container];
        if (cv.type === 'Map') continue; // reached through iterations
        let a = children.get(v.container);
        if (!a) children.set(v.container, a = []);
        a.push(v);
      }
      const pct = (t) => ((t - t0) / span * 100);
      function addVisitRow(v, depth) {
        total++;
        if (rows >= limit) return;
        rows++;
        const row = h('div', { class: 'c-tl-row', role: 'listitem', style: { '--depth': depth } });
        const label = h('div', { class: 'c-tl-label', title: v.name }, h('span', { class: 'c-tl-icon', 'aria-hidden': 'true' }, OUTCOME[v.outcome].icon), ' ', v.name, h('span', { class: 'c-tl-type' }, ' ' + v.type));
        row.appendChild(label);
        const track = h('div', { class: 'c-tl-track' });
        const ts = an.times[v.enter];
        const endI = v.exit >= 0 ? v.exit : v.events[v.events.length - 1];
        const te = v.exit >= 0 ? an.times[v.exit] : (v.outcome === 'running' ? an.tEnd : an.times[endI]);
        const left = pct(ts), width = Math.max(0, pct(te) - left);
        const isMap = v.type === 'Map';
        const bar = h('button', {
          type: 'button', class: 'c-bar c-bar-' + v.outcome + (v.type === 'Wait' ? ' c-bar-wait' : '') + (isMap ? ' c-bar-map' : ''),
          style: { left: left + '%', width: 'max(3px, ' + width + '%)' }, dataset: { visit: String(v.idx) },
          'aria-label': v.name + ' (' + v.type + '): ' + OUTCOME[v.outcome].label + ', ' + fmtDur(te - ts) + (v.attempts.length > 1 ? ', ' + v.attempts.length + ' attempts' : ''),
          title: v.name + ' — ' + OUTCOME[v.outcome].label + ' — ' + fmtDur(te - ts),
          onclick: () => select({ pointer: v.pointer, name: v.name, type: v.type, visitIdx: v.idx }),
        });
        if (state.selected && state.selected.visitIdx === v.idx) bar.classList.add('is-selected');
        // attempts as segments within the bar
        if (v.attempts.length && width > 0) {
          for (const a of v.attempts) {
            const as = an.times[a.scheduled], ae = a.end >= 0 ? an.times[a.end] : te;
            const l = (as - ts) / Math.max(1e-9, te - ts) * 100, w = (ae - as) / Math.max(1e-9, te - ts) * 100;
            bar.appendChild(h('span', { class: 'c-seg' + (a.ok === false ? ' c-seg-bad' : a.ok ? ' c-seg-ok' : ''), style: { left: l + '%', width: 'max(2px, ' + w + '%)' }, 'aria-hidden': 'true' }));
          }
        }
        if (v.attempts.length > 1) {
          for (const a of v.attempts) if (a.ok === false && a.end >= 0) {
            // a marker at each failed attempt, visible even when the bar is thin
            track.appendChild(h('span', { class: 'c-retry-mark', style: { left: pct(an.times[a.end]) + '%' }, 'aria-hidden': 'true', title: 'Attempt failed: ' + (a.error || '') }, '✕'));
          }
        }
        track.appendChild(bar);
        let note = '';
        if (v.attempts.length > 1) note = v.attempts.length + ' attempts';
        if (isMap) {
          const c = v.iterCounts;
          note = num(c.started) + ' iterations: ✓ ' + num(c.succeeded) + ' ✕ ' + num(c.failed) + (c.aborted ? ' ⊘ ' + num(c.aborted) : '');
          if (v.mapRun) note += (note ? ' · ' : '') + 'Map Run ' + v.mapRun.status.toLowerCase();
        }
        if (note) { label.appendChild(h('span', { class: 'c-tl-note' }, ' · ' + note)); label.title = v.name + ' · ' + note; }
        row.appendChild(track);
        grid.appendChild(row);
        if (isMap && v.iterations && v.iterations.length) addDrillRow(v, depth);
        const kids = children.get(v.idx);
        if (kids) for (const k of kids) addVisitRow(k, depth + 1);
      }
      function addDrillRow(v, depth) {
        const has = state.drill.has(v.idx);
        const idx = has ? state.drill.get(v.idx) : null;
        const row = h('div', { class: 'c-tl-row c-tl-drill', dataset: { map: String(v.idx) }, style: { '--depth': depth + 1 } });
        const input = h('input', { type: 'number', min: 0, max: v.iterations.length - 1, value: idx == null ? '' : idx, placeholder: '#', class: 'c-input c-input-num', 'aria-label': 'Iteration of ' + v.name + ' to show' });
        const form = h('form', { class: 'c-inline-form', onsubmit: (e) => { e.preventDefault(); if (input.value === '') { state.drill.delete(v.idx); renderTimeline(); } else drillTo(v.idx, Number(input.value)); } },
          h('label', null, 'Iteration ', input), ' ', h('button', { type: 'submit', class: 'c-btn c-btn-small' }, 'Show'),
          has ? h('button', { type: 'button', class: 'c-btn c-btn-small', onclick: () => { state.drill.delete(v.idx); renderTimeline(); } }, 'Hide') : null);
        row.appendChild(h('div', { class: 'c-tl-label' }, form));
        const track = h('div', { class: 'c-tl-track c-tl-density', 'aria-hidden': 'true' });
        // iteration density: 60 buckets coloured by the worst status
        const B = 60, bucket = new Array(B).fill(0), bad = new Array(B).fill(0);
        for (const it of v.iterations) {
          if (!it || it.start < 0) continue;
          const b = Math.min(B - 1, Math.max(0, Math.floor(pct(an.times[it.start]) / 100 * B)));
          bucket[b]++;
          if (it.status === 'failed' || it.status === 'aborted') bad[b]++;
        }
        const max = Math.max(1, ...bucket);
        for (let b = 0; b < B; b++) if (bucket[b]) {
          track.appendChild(h('span', { class: 'c-dens' + (bad[b] ? ' c-dens-bad' : ''), style: { left: (b / B * 100) + '%', width: (100 / B) + '%', height: (20 + 80 * bucket[b] / max) + '%' } }));
        }
        row.appendChild(track);
        grid.appendChild(row);
        if (has) {
          const it = v.iterations[idx];
          if (!it) {
            grid.appendChild(h('div', { class: 'c-tl-row', style: { '--depth': depth + 2 } }, h('div', { class: 'c-tl-label c-muted' }, 'No iteration #' + idx)));
          } else {
            grid.appendChild(h('div', { class: 'c-tl-row c-tl-iterhead', style: { '--depth': depth + 2 } },
              h('div', { class: 'c-tl-label' }, h('span', { class: 'c-tl-icon', 'aria-hidden': 'true' }, OUTCOME[it.status] ? OUTCOME[it.status].icon : '?'), ' Iteration #' + idx + ' — ' + (OUTCOME[it.status] || { label: it.status }).label)));
            for (const vi of it.visits) addVisitRow(an.visits[vi], depth + 2);
          }
        }
      }
      for (const v of an.visits) if (v.container < 0) addVisitRow(v, 0);
      if (!an.visits.length) grid.appendChild(h('p', { class: 'c-muted c-pad' }, 'No state has run yet.'));
      timelineSec.appendChild(grid);
      if (total > rows) {
        timelineSec.appendChild(h('p', { class: 'c-muted' }, 'Showing ' + num(rows) + ' of ' + num(total) + ' rows. ',
          h('button', { type: 'button', class: 'c-btn c-btn-small', onclick: () => { state.timelineShowAll = true; renderTimeline(); } }, 'Show all rows')));
      }
    }

    // ---- events table
    const evUi = {};
    function renderEventsShell() {
      clear(eventsSec);
      const typeSel = h('select', { class: 'c-input', 'aria-label': 'Filter by event type' }, h('option', { value: '' }, 'All types'));
      const text = h('input', { type: 'search', class: 'c-input', placeholder: 'Filter by state name or ID', 'aria-label': 'Filter events by state name or event ID' });
      const errOnly = h('input', { type: 'checkbox', id: 'ev-err' });
      typeSel.addEventListener('change', () => { state.evFilter.type = typeSel.value; state.evFilter.page = 0; renderEvents(); });
      text.addEventListener('input', debounce(() => { state.evFilter.text = text.value.trim(); state.evFilter.page = 0; renderEvents(); }, 150));
      errOnly.addEventListener('change', () => { state.evFilter.errors = errOnly.checked; state.evFilter.page = 0; renderEvents(); });
      const count = h('span', { class: 'c-muted', role: 'status' });
      const pager = h('div', { class: 'c-pager' });
      const table = h('table', { class: 'c-table c-events' },
        h('thead', null, h('tr', null, h('th', { scope: 'col', class: 'c-col-exp' }, h('span', { class: 'c-offscreen' }, 'Details')),
          h('th', { scope: 'col' }, 'ID'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Step'),
          h('th', { scope: 'col' }, 'Started after' + (virt ? ' (virtual)' : '')), h('th', { scope: 'col' }, 'Date and time' + (virt ? ' (virtual)' : '')))));
      const tbody = h('tbody');
      table.appendChild(tbody);
      append(eventsSec, [h('div', { class: 'c-card-head' }, h('h2', { id: 'ev-h' }, 'Events'), count),
        h('div', { class: 'c-filters' }, typeSel, text, h('label', { class: 'c-check' }, errOnly, ' Errors only')),
        h('div', { class: 'c-table-wrap' }, table), pager]);
      Object.assign(evUi, { typeSel, text, tbody, pager, count });
    }
    function eventStep(i) {
      const an = state.an;
      const vi = an.evVisit[i];
      if (vi < 0) return '';
      const v = an.visits[vi];
      const e = an.events[i];
      if (e.type.startsWith('MapIteration')) {
        const d = eventDetails(e) || {};
        return v.name + ' #' + d.index;
      }
      return v.name;
    }
    function renderEvents() {
      const an = state.an;
      // refresh type options
      const types = Array.from(new Set(an.events.map((e) => e.type))).sort();
      const cur = state.evFilter.type;
      if (evUi.typeSel.options.length !== types.length + 1) {
        clear(evUi.typeSel).appendChild(h('option', { value: '' }, 'All types'));
        for (const t of types) evUi.typeSel.appendChild(h('option', { value: t }, t));
        evUi.typeSel.value = cur;
      }
      const f = state.evFilter;
      const q = (f.text || '').toLowerCase();
      const qNum = /^\d+$/.test(q) ? Number(q) : null;
      let idxs = [];
      const n = an.events.length;
      if (!f.type && !q && !f.errors) { idxs = null; } else {
        for (let i = 0; i < n; i++) {
          const e = an.events[i];
          if (f.type && e.type !== f.type) continue;
          if (f.errors && !/Failed|TimedOut|Aborted/.test(e.type)) continue;
          if (q) {
            if (qNum != null && e.id === qNum) { idxs.push(i); continue; }
            if (eventStep(i).toLowerCase().indexOf(q) < 0) continue;
          }
          idxs.push(i);
        }
      }
      const total = idxs ? idxs.length : n;
      const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
      if (f.page >= pages) f.page = pages - 1;
      const from = f.page * PAGE_SIZE, to = Math.min(total, from + PAGE_SIZE);
      evUi.count.textContent = (idxs ? num(total) + ' of ' + num(n) : num(n)) + ' events';
      const frag = document.createDocumentFragment();
      for (let k = from; k < to; k++) {
        const i = idxs ? idxs[k] : k;
        const e = an.events[i];
        const exp = state.expanded.has(e.id);
        const btn = h('button', { type: 'button', class: 'c-exp', 'aria-expanded': String(exp), 'aria-label': 'Details of event ' + e.id });
        btn.textContent = exp ? '▾' : '▸';
        const tr = h('tr', { class: 'c-ev-row' + (/Failed|TimedOut|Aborted/.test(e.type) ? ' c-ev-bad' : ''), dataset: { id: String(e.id) } },
          h('td', { class: 'c-col-exp' }, btn), h('td', null, String(e.id)), h('td', null, e.type), h('td', null, stepCell(i)),
          h('td', null, isFinite(an.times[i]) ? fmtDur(an.times[i] - an.t0) : '—'), h('td', null, fmtTime(an.times[i])));
        btn.addEventListener('click', () => {
          if (state.expanded.has(e.id)) state.expanded.delete(e.id); else state.expanded.add(e.id);
          renderEvents();
          const again = evUi.tbody.querySelector('tr[data-id="' + e.id + '"] .c-exp');
          if (again) again.focus();
        });
        frag.appendChild(tr);
        if (exp) {
          const d = eventDetails(e);
          const shown = {};
          if (d) for (const k2 in d) shown[k2] = (typeof d[k2] === 'string' && /^(input|output|parameters|result|cause)$/.test(k2)) ? tryParseJson(d[k2]).value : d[k2];
          const cell = h('td', { colspan: 6 }, h('div', { class: 'c-ev-detail' },
            h('p', { class: 'c-muted' }, 'Previous event: ' + (e.previousEventId != null ? e.previousEventId : '—')),
            d ? jsonBlock(Object.keys(e).find((k2) => k2.endsWith('EventDetails')), shown) : h('p', { class: 'c-muted' }, 'No details.')));
          frag.appendChild(h('tr', { class: 'c-ev-detail-row' }, cell));
        }
      }
      clear(evUi.tbody).appendChild(frag);
      clear(evUi.pager);
      if (pages > 1) {
        const go = (p) => { f.page = p; renderEvents(); };
        const pageInput = h('input', { type: 'number', min: 1, max: pages, value: f.page + 1, class: 'c-input c-input-num', 'aria-label': 'Page number' });
        pageInput.addEventListener('change', () => go(Math.max(0, Math.min(pages - 1, (Number(pageInput.value) || 1) - 1))));
        append(evUi.pager, [
          h('button', { type: 'button', class: 'c-btn c-btn-small', disabled: f.page === 0 ? true : null, onclick: () => go(0) }, '« First'),
          h('button', { type: 'button', class: 'c-btn c-btn-small', disabled: f.page === 0 ? true : null, onclick: () => go(f.page - 1) }, '‹ Previous'),
          h('label', null, 'Page ', pageInput, ' of ' + num(pages)),
          h('button', { type: 'button', class: 'c-btn c-btn-small', disabled: f.page >= pages - 1 ? true : null, onclick: () => go(f.page + 1) }, 'Next ›'),
          h('button', { type: 'button', class: 'c-btn c-btn-small', disabled: f.page >= pages - 1 ? true : null, onclick: () => go(pages - 1) }, 'Last »'),
          h('span', { class: 'c-muted' }, 'Rows ' + num(from + 1) + '–' + num(to))]);
      }
    }
    function stepCell(i) {
      const an = state.an;
      const vi = an.evVisit[i];
      if (vi < 0) return '';
      const v = an.visits[vi];
      return h('button', { type: 'button', class: 'c-linkbtn', onclick: () => select({ pointer: v.pointer, name: v.name, type: v.type, visitIdx: v.idx }) }, eventStep(i));
    }
    function showEventInTable(id) {
      const f = state.evFilter;
      f.type = ''; f.text = ''; f.errors = false;
      evUi.typeSel.value = ''; evUi.text.value = '';
      const i = state.an.idToIdx.get(id);
      if (i == null) return;
      f.page = Math.floor(i / PAGE_SIZE);
      state.expanded.add(id);
      renderEvents();
      const row = evUi.tbody.querySelector('tr[data-id="' + id + '"]');
      if (row) { row.scrollIntoView({ block: 'center' }); row.querySelector('.c-exp').focus({ preventScroll: true }); }
    }

    // ---- live
    async function doStop() {
      if (!window.confirm('Stop execution ' + (state.exec.name || '') + '? It will end ABORTED.')) return;
      try {
        await api('StopExecution', { executionArn: state.exec.executionArn, error: 'Console.Stop', cause: 'Stopped from the sfnlite console' });
        showMessage('Stop requested.', 'info');
        await poll(true);
      } catch (e) { showMessage(e.message); }
    }
    async function doRedrive() {
      try {
        await api('RedriveExecution', { executionArn: state.exec.executionArn });
        showMessage('Redrive started.', 'info');
        await poll(true);
        schedulePoll();
      } catch (e) { showMessage(e.message); }
    }
    async function fetchNewEvents() {
      const have = state.events.length ? state.events[state.events.length - 1].id : 0;
      // newest first until we reach what we have: only the new events travel
      let token = null, fresh = [], guard = 0, reachedOld = false;
      try {
        do {
          const body = { executionArn: state.exec.executionArn, maxResults: 1000, reverseOrder: true };
          if (token) body.nextToken = token;
          const page = await api('GetExecutionHistory', body);
          const evs = page.events || [];
          for (const e of evs) { if (e.id <= have) { reachedOld = true; break; } fresh.push(e); }
          token = page.nextToken;
        } while (token && !reachedOld && guard++ < 1000);
        fresh.reverse();
        if (have && !reachedOld && fresh.length && fresh[0].id !== have + 1) throw new Error('gap');
        return { events: fresh, replace: !have };
      } catch (e) {
        if (e.message !== 'gap' && !/reverseOrder/i.test(e.message)) throw e;
      }
      // fallback: the whole history, oldest first
      let all = []; token = null; guard = 0;
      do {
        const body = { executionArn: state.exec.executionArn, maxResults: 1000 };
        if (token) body.nextToken = token;
        const page = await api('GetExecutionHistory', body);
        all = all.concat(page.events || []);
        token = page.nextToken;
      } while (token && guard++ < 10000);
      return { events: all, replace: true };
    }
    async function poll(once) {
      if (state.polling) return;
      state.polling = true;
      try {
        const desc = await api('DescribeExecution', { executionArn: state.exec.executionArn });
        const got = await fetchNewEvents();
        const changed = got.replace ? got.events.length !== state.events.length || desc.status !== state.exec.status : got.events.length > 0 || desc.status !== state.exec.status;
        state.exec = desc;
        if (got.replace) state.events = got.events; else if (got.events.length) state.events = state.events.concat(got.events);
        if (changed) {
          recompute();
          await refreshMapRuns();
          renderAll();
        } else renderHeader();
      } catch (e) {
        showMessage(e.message || String(e));
      } finally {
        state.polling = false;
      }
      if (!once) schedulePoll();
    }
    async function refreshMapRuns() {
      if (!live || !state.an) return;
      for (const vi of state.an.mapRuns) {
        const v = state.an.visits[vi];
        if (!v.mapRun || !v.mapRun.arn) continue;
        try {
          const d = await api('DescribeMapRun', { mapRunArn: v.mapRun.arn });
          if (d.itemCounts) v.mapRun.counts = d.itemCounts;
          if (d.status) v.mapRun.status = d.status;
        } catch (e) { /* not every server keeps Map Runs: the history still shows it */ }
      }
      state.graphResult = colourGraph(state.graph, state.an, state.exec.status);
    }
    function schedulePoll() {
      clearTimeout(state.pollTimer);
      if (!live) return;
      if (state.exec.status === 'RUNNING' || state.exec.status === 'PENDING_REDRIVE') state.pollTimer = setTimeout(() => poll(false), POLL_MS);
    }

    function renderAll() {
      renderHeader();
      renderIO();
      renderTimeline();
      renderEvents();
      renderDetail();
    }

    recompute();
    renderEventsShell();
    renderAll();
    if (live) {
      refreshMapRuns().then(() => { renderTimeline(); if (state.selected) renderDetail(); });
      schedulePoll();
    }
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && state.selected && !e.defaultPrevented) {
        const fromDetail = detail.contains(document.activeElement);
        const ptr = state.selected.pointer;
        state.selected = null;
        for (const nd of (state.graph ? state.graph.nodes : [])) nd.classList.remove('is-selected');
        renderDetail();
        if (fromDetail && state.graph) { const nd = state.graph.nodes.find((x) => x.dataset.pointer === ptr); if (nd) nd.focus(); }
      }
    });
    window.sfnliteConsole = { select: (name) => {
      const nd = state.graph && state.graph.nodes.find((x) => x.dataset.name === name);
      if (nd) select({ pointer: nd.dataset.pointer, name, type: nd.dataset.type }, true);
      else select({ pointer: null, name });
      return detail.innerText;
    }, state };
  }

  function errorBox(error, cause, title) {
    const causeText = cause == null ? '' : pretty(cause);
    return h('div', { class: 'c-error', role: 'note' },
      h('p', { class: 'c-error-title' }, h('span', { 'aria-hidden': 'true' }, '✕ '), (title || 'Error') + ': ', h('code', null, error || '(none)')),
      causeText ? h('details', { open: causeText.length < 600 ? true : null }, h('summary', null, 'Cause'), h('pre', { class: 'c-pre', tabindex: '0' }, causeText)) : null);
  }
  function legend() {
    const items = [['succeeded', 'Succeeded'], ['failed', 'Failed'], ['caught', 'Caught (a Catch moved on)'], ['running', 'In progress'], ['aborted', 'Cut off (aborted)'], ['not-reached', 'Not reached']];
    return h('ul', { class: 'c-legend', 'aria-label': 'Legend' },
      items.map(([k, label]) => h('li', null, h('span', { class: 'c-swatch c-swatch-' + k, 'aria-hidden': 'true' }, OUTCOME[k].icon), ' ', label)),
      h('li', null, h('span', { class: 'c-swatch-edge', 'aria-hidden': 'true' }), ' Path taken'));
  }

  // ------------------------------------------------------------- executions list
  function executionsTable(host, opts) {
    const ui = { status: '', q: '', page: 0 };
    const statusSel = h('select', { class: 'c-input', 'aria-label': 'Filter by status' }, h('option', { value: '' }, 'All statuses'),
      ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'].map((st) => h('option', { value: st }, STATUS[st].label)));
    const search = h('input', { type: 'search', class: 'c-input', placeholder: 'Search by name or ARN', 'aria-label': 'Search executions by name or ARN' });
    const count = h('span', { class: 'c-muted', role: 'status' });
    const tbody = h('tbody');
    const pager = h('div', { class: 'c-pager' });
    const cols = ['Name', opts.showMachine ? 'State machine' : null, 'Status', 'Started', 'Ended', 'Duration'].filter(Boolean);
    append(host, [h('div', { class: 'c-filters' }, statusSel, search, count),
      h('div', { class: 'c-table-wrap' }, h('table', { class: 'c-table c-execs' }, h('thead', null, h('tr', null, cols.map((c) => h('th', { scope: 'col' }, c)))), tbody)), pager]);
    statusSel.addEventListener('change', () => { ui.status = statusSel.value; ui.page = 0; render(); });
    search.addEventListener('input', debounce(() => { ui.q = search.value.trim().toLowerCase(); ui.page = 0; render(); }, 120));
    let items = [];
    function render() {
      const list = items.filter((x) => (!ui.status || x.status === ui.status || (ui.status === 'PENDING_REDRIVE' && x.redriveStatus === 'PENDING'))
        && (!ui.q || String(x.name || '').toLowerCase().includes(ui.q) || String(x.executionArn || '').toLowerCase().includes(ui.q)));
      list.sort((a, b) => (parseTime(b.startDate) || 0) - (parseTime(a.startDate) || 0));
      const pages = Math.max(1, Math.ceil(list.length / PAGE_SIZE));
      if (ui.page >= pages) ui.page = pages - 1;
      count.textContent = num(list.length) + (list.length !== items.length ? ' of ' + num(items.length) : '') + ' executions';
      const frag = document.createDocumentFragment();
      for (const x of list.slice(ui.page * PAGE_SIZE, ui.page * PAGE_SIZE + PAGE_SIZE)) {
        const st = parseTime(x.startDate), sp = parseTime(x.stopDate);
        frag.appendChild(h('tr', null, h('td', null, execLink(x.executionArn, x.name)),
          opts.showMachine ? h('td', null, x.stateMachineArn ? h('a', { href: '/state-machines/' + encodeArn(x.stateMachineArn) }, lastSeg(x.stateMachineArn)) : '—') : null,
          h('td', null, statusBadge(x.status)), h('td', null, fmtTime(st)), h('td', null, isFinite(sp) ? fmtTime(sp) : '—'),
          h('td', null, isFinite(sp) ? fmtDur(sp - st) : '—')));
      }
      if (!list.length) frag.appendChild(h('tr', null, h('td', { colspan: cols.length, class: 'c-muted' }, items.length ? 'No execution matches.' : 'No executions.')));
      clear(tbody).appendChild(frag);
      clear(pager);
      if (pages > 1) append(pager, [
        h('button', { type: 'button', class: 'c-btn c-btn-small', disabled: ui.page === 0 ? true : null, onclick: () => { ui.page--; render(); } }, '‹ Previous'),
        h('span', null, 'Page ' + (ui.page + 1) + ' of ' + pages),
        h('button', { type: 'button', class: 'c-btn c-btn-small', disabled: ui.page >= pages - 1 ? true : null, onclick: () => { ui.page++; render(); } }, 'Next ›')]);
    }
    return { set(list) { items = Array.isArray(list) ? list : []; render(); } };
  }
  function machinesList(host) {
    const ul = h('ul', { class: 'c-smlist' });
    host.appendChild(ul);
    return {
      set(list) {
        clear(ul);
        list = Array.isArray(list) ? list.slice().sort((a, b) => String(a.name).localeCompare(String(b.name))) : [];
        if (!list.length) ul.appendChild(h('li', { class: 'c-muted' }, 'No state machines.'));
        for (const m of list) ul.appendChild(h('li', null, h('a', { href: '/state-machines/' + encodeArn(m.stateMachineArn) }, m.name || lastSeg(m.stateMachineArn)),
          m.type ? h('span', { class: 'c-muted' }, ' ' + m.type) : null,
          m.creationDate ? h('span', { class: 'c-muted' }, ' · created ' + fmtTime(parseTime(m.creationDate))) : null));
      },
    };
  }
  async function listAll(op, key, body) {
    let out = [], token = null, guard = 0;
    do {
      const b = Object.assign({ maxResults: 1000 }, body || {});
      if (token) b.nextToken = token;
      const page = await api(op, b);
      out = out.concat(page[key] || []);
      token = page.nextToken;
    } while (token && guard++ < 1000);
    return out;
  }
  function liveRefresher(fn) {
    if (DATA.mode !== 'live') return;
    let busy = false;
    const tick = async () => {
      if (!busy && !document.hidden) {
        busy = true;
        try { await fn(); } catch (e) { showMessage(e.message || String(e)); }
        busy = false;
      }
      setTimeout(tick, LIST_POLL_MS);
    };
    setTimeout(tick, LIST_POLL_MS);
  }

  function executionsPage(root) {
    msgArea = h('div', { class: 'c-messages', 'aria-live': 'polite' });
    const main = h('main', { class: 'c-main', id: 'main' });
    const exSec = h('section', { class: 'c-card', 'aria-labelledby': 'ex-h' }, h('div', { class: 'c-card-head' }, h('h2', { id: 'ex-h' }, 'Executions')));
    const smSec = h('section', { class: 'c-card', 'aria-labelledby': 'sm-h' }, h('div', { class: 'c-card-head' }, h('h2', { id: 'sm-h' }, 'State machines')));
    const showEx = DATA.page === 'executions' || Array.isArray(DATA.executions);
    append(main, [msgArea, h('h1', { class: 'c-h1' }, DATA.page === 'state-machines' ? 'State machines' : 'Executions'),
      DATA.page === 'state-machines' ? [smSec, showEx ? exSec : null] : [exSec, smSec]]);
    append(root, [h('a', { class: 'c-skip', href: '#main' }, 'Skip to content'), topNav(), main]);
    const table = showEx ? executionsTable(exSec, { showMachine: true }) : null;
    const sms = machinesList(smSec);
    if (table) table.set(DATA.executions || []);
    sms.set(DATA.stateMachines || []);
    if (DATA.message) {
      // An error page (an unknown execution, the console turned off): say why, poll nothing.
      showMessage(DATA.message);
      return;
    }
    liveRefresher(async () => {
      // The newest thousand executions, as the page was first served.
      const ex = table ? ((await api('ListExecutions', { maxResults: 1000 })).executions || []) : null;
      const sm = await listAll('ListStateMachines', 'stateMachines');
      if (table) table.set(ex);
      sms.set(sm);
    });
  }

  function stateMachinePage(root) {
    msgArea = h('div', { class: 'c-messages', 'aria-live': 'polite' });
    const sm = DATA.stateMachine || {};
    const main = h('main', { class: 'c-main', id: 'main' });
    const graphSec = h('section', { class: 'c-card c-graph-card', 'aria-labelledby': 'graph-h' }, h('div', { class: 'c-card-head' }, h('h2', { id: 'graph-h' }, 'Graph')));
    const detail = h('aside', { class: 'c-card c-detail', 'aria-labelledby': 'detail-h' });
    const defSec = h('section', { class: 'c-card', 'aria-labelledby': 'def-h' }, h('h2', { id: 'def-h', class: 'c-h2' }, 'Definition'));
    const exSec = h('section', { class: 'c-card', 'aria-labelledby': 'ex-h' }, h('div', { class: 'c-card-head' }, h('h2', { id: 'ex-h' }, 'Executions')));
    const arnCopy = h('button', { type: 'button', class: 'c-btn c-btn-small', 'aria-label': 'Copy the state machine ARN', onclick: () => copyText(sm.stateMachineArn || '', arnCopy) }, 'Copy');
    append(main, [msgArea, h('header', { class: 'c-exec-header' },
      h('div', { class: 'c-title-row' }, h('h1', { class: 'c-h1' }, h('span', { class: 'c-h1-kind' }, 'State machine '), sm.name || lastSeg(sm.stateMachineArn) || '(unnamed)'),
        sm.type ? h('span', { class: 'c-kind' }, sm.type) : null, sm.status ? h('span', { class: 'c-kind' }, sm.status) : null),
      h('dl', { class: 'c-facts' },
        h('div', { class: 'c-fact' }, h('dt', null, 'ARN'), h('dd', null, h('span', { class: 'c-arn' }, h('code', null, sm.stateMachineArn || '—'), ' ', arnCopy))),
        sm.creationDate ? h('div', { class: 'c-fact' }, h('dt', null, 'Created'), h('dd', null, fmtTime(parseTime(sm.creationDate)))) : null,
        sm.roleArn ? h('div', { class: 'c-fact' }, h('dt', null, 'Role'), h('dd', null, h('code', null, sm.roleArn))) : null)),
      h('div', { class: 'c-split' }, graphSec, detail), defSec, exSec]);
    append(root, [h('a', { class: 'c-skip', href: '#main' }, 'Skip to content'), topNav(), main]);
    let def = DATA.definition;
    if (!def && typeof sm.definition === 'string') def = tryParseJson(sm.definition).value;
    DATA.definition = def || {};
    defSec.appendChild(jsonBlock('Definition (ASL)', DATA.definition));
    const graph = buildGraph(graphSec, { onSelect: (nd) => showNode(nd) });
    function showNode(nd) {
      for (const x of graph.nodes) x.classList.toggle('is-selected', x === nd);
      clear(detail);
      const node = ptrGet(DATA.definition, nd.dataset.pointer);
      append(detail, [h('div', { class: 'c-card-head' }, h('h2', { id: 'detail-h' }, nd.dataset.name || nd.dataset.pointer)),
        h('p', { class: 'c-detail-meta' }, h('span', { class: 'c-kind' }, nd.dataset.type || 'State')),
        node !== undefined ? jsonBlock('Definition (' + nd.dataset.pointer + ')', node) : h('p', { class: 'c-muted' }, 'Not found in the definition.')]);
    }
    append(detail, [h('div', { class: 'c-card-head' }, h('h2', { id: 'detail-h' }, 'Details')),
      h('p', { class: 'c-muted' }, 'Select a state in the graph to see its definition.')]);
    const table = executionsTable(exSec, { showMachine: false });
    table.set(DATA.executions || []);
    if (sm.stateMachineArn) liveRefresher(async () => table.set(await listAll('ListExecutions', 'executions', { stateMachineArn: sm.stateMachineArn })));
    window.sfnliteConsole = { select: (name) => { const nd = graph && graph.nodes.find((x) => x.dataset.name === name); if (nd) showNode(nd); return detail.innerText; } };
  }

  // ------------------------------------------------------------- boot
  function boot() {
    const t0 = performance.now();
    const root = document.body;
    try {
      const el = document.getElementById('sfnlite-data');
      DATA = el ? JSON.parse(el.textContent || '{}') : {};
    } catch (e) {
      DATA = {};
      root.appendChild(h('p', { class: 'c-error', role: 'alert' }, 'The page data could not be read: ' + e.message));
    }
    const page = DATA.page || root.dataset.page || 'execution';
    root.classList.add('c-body', 'c-page-' + page);
    try {
      if (page === 'execution') executionPage(root);
      else if (page === 'executions' || page === 'state-machines') executionsPage(root);
      else if (page === 'state-machine') stateMachinePage(root);
      else root.appendChild(h('p', { class: 'c-error', role: 'alert' }, 'Unknown page kind: ' + page));
    } catch (e) {
      root.appendChild(h('p', { class: 'c-error', role: 'alert' }, 'The console could not be built: ' + (e && e.message)));
      throw e;
    } finally {
      root.dataset.buildMs = String(Math.round(performance.now() - t0));
      root.dataset.ready = '1';
    }
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot);
  else boot();
})();
