#!/usr/bin/env node
// Headless Chromium check of an sfnlite console page.
//
//   node tests/browser/check.mjs URL_OR_FILE [--screenshot OUT.png] [--click-state NAME]
//        [--click-button TEXT]  (clicks the button with that text, accepting its confirmation,
//                                and waits a second: Stop, Redrive in a served page)
//        [--wait-status STATUS] (then waits until the page shows the execution's status as
//                                STATUS: a served page following its execution)
//        [--keyboard-state NAME] (selects the state with the keyboard alone: Tab until the
//                                node has focus, then Enter; reports `keyboardDetail`)
// Every dialog the page opens (alert, confirm) is listed in `dialogs`; only a confirmation
// asked for by --click-button is accepted. `lowContrast` lists text whose contrast with its
// background is below WCAG AA (4.5:1, or 3:1 for large text).
//        [--expect-json FILE] [--timeout MS] [--chromium PATH] [--width W --height H]
//
// Loads the page, waits for console.js to set <body data-ready="1">, collects console
// errors/warnings and page errors, and prints one JSON report on stdout:
//   {consoleErrors, pageErrors, states:[{name,pointer,type,classes}], groups:[...],
//    takenEdges, timelineBars, eventsRows, eventsTotal, failedStates, title, loadMillis,
//    buildMillis, ready, detailText?, expect?}
// Exit code 0 when the page loaded (the caller decides what to assert); 2 when it did not;
// 1 when --expect-json was given and an expectation failed.
// --expect-json FILE: a JSON object whose keys are compared with the report: arrays of
// strings in "failedStates" must equal (order-free), numbers must be equal, and
// {"states": {"NAME": "is-succeeded"}} requires that class on that state.
import { chromium } from 'playwright-core';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

function parseArgs(argv) {
  const out = { target: null, screenshot: null, click: null, expect: null, timeout: 30000,
    chromium: process.env.CHROMIUM || '/usr/bin/chromium', width: 1400, height: 1000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => { if (i + 1 >= argv.length) throw new Error(a + ' needs a value'); return argv[++i]; };
    if (a === '--screenshot') out.screenshot = next();
    else if (a === '--click-state') out.click = next();
    else if (a === '--click-button') out.button = next();
    else if (a === '--wait-status') out.waitStatus = next();
    else if (a === '--keyboard-state') out.keyboard = next();
    else if (a === '--expect-json') out.expect = next();
    else if (a === '--timeout') out.timeout = Number(next());
    else if (a === '--chromium') out.chromium = next();
    else if (a === '--width') out.width = Number(next());
    else if (a === '--height') out.height = Number(next());
    else if (a === '-h' || a === '--help') { out.help = true; }
    else if (!out.target) out.target = a;
    else throw new Error('unexpected argument ' + a);
  }
  return out;
}

function toUrl(target) {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) return target;
  const p = resolve(target);
  if (!existsSync(p)) throw new Error('no such file: ' + p);
  return pathToFileURL(p).href;
}

async function main() {
  let args;
  try { args = parseArgs(process.argv.slice(2)); } catch (e) { console.error(e.message); process.exit(2); }
  if (args.help || !args.target) {
    console.error('usage: node tests/browser/check.mjs URL_OR_FILE [--screenshot OUT.png] [--click-state NAME] [--expect-json FILE]');
    process.exit(args.help ? 0 : 2);
  }
  const report = { target: args.target, consoleErrors: [], pageErrors: [], states: [], groups: [], takenEdges: 0,
    timelineBars: 0, eventsRows: 0, eventsTotal: 0, failedStates: [], title: '', loadMillis: null, buildMillis: null, ready: false };
  let browser;
  let code = 0;
  try {
    browser = await chromium.launch({ executablePath: args.chromium, args: ['--no-sandbox'] });
    const context = await browser.newContext({ viewport: { width: args.width, height: args.height } });
    const page = await context.newPage();
    page.on('console', (msg) => {
      const t = msg.type();
      if (t === 'error' || t === 'warning') {
        const loc = msg.location();
        report.consoleErrors.push({ type: t, text: msg.text(), url: loc && loc.url || '', line: loc && loc.lineNumber });
      }
    });
    page.on('pageerror', (err) => report.pageErrors.push(String(err && err.stack || err)));
    report.dialogs = [];
    page.on('dialog', (d) => {
      report.dialogs.push({ type: d.type(), message: d.message() });
      (args.button && d.type() === 'confirm' ? d.accept() : d.dismiss()).catch(() => {});
    });
    const url = toUrl(args.target);
    const t0 = Date.now();
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: args.timeout });
    try {
      await page.waitForSelector('body[data-ready="1"]', { timeout: args.timeout, state: 'attached' });
      report.ready = true;
    } catch (e) {
      report.ready = false;
      report.pageErrors.push('the page did not become ready: ' + e.message.split('\n')[0]);
    }
    report.loadMillis = Date.now() - t0;
    if (args.click && report.ready) {
      report.detailText = await page.evaluate((name) => {
        const nodes = Array.from(document.querySelectorAll('svg.sfn-graph .sfn-state, svg.sfn-graph .sfn-group'));
        const nd = nodes.find((n) => n.dataset.name === name);
        if (nd) {
          nd.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, view: window }));
        } else if (window.sfnliteConsole && window.sfnliteConsole.select) {
          window.sfnliteConsole.select(name);
        } else return null;
        const panel = document.querySelector('.c-detail');
        return panel ? panel.innerText : null;
      }, args.click);
    }
    if (args.button && report.ready) {
      const button = page.getByRole('button', { name: args.button, exact: true }).first();
      report.buttonClicked = (await button.count()) > 0;
      if (report.buttonClicked) {
        await button.click();
        await page.waitForTimeout(1000);
      }
    }
    if (args.waitStatus && report.ready) {
      try {
        await page.waitForSelector('body[data-status="' + args.waitStatus + '"]', { timeout: args.timeout, state: 'attached' });
        report.statusReached = true;
      } catch (e) {
        report.statusReached = false;
      }
    }
    if (args.keyboard && report.ready) {
      // Tab through the page until the state's node has focus (at most 400 stops), then Enter.
      let found = false;
      for (let i = 0; i < 400 && !found; i++) {
        await page.keyboard.press('Tab');
        found = await page.evaluate((name) => {
          const el = document.activeElement;
          return !!el && el.classList && (el.classList.contains('sfn-state') || el.classList.contains('sfn-group')) && el.dataset.name === name;
        }, args.keyboard);
      }
      report.keyboardFocused = found;
      if (found) {
        await page.keyboard.press('Enter');
        report.keyboardDetail = await page.evaluate(() => {
          const panel = document.querySelector('.c-detail');
          return panel ? panel.innerText : null;
        });
      }
    }
    report.lowContrast = await page.evaluate(() => {
      const parse = (c) => {
        const m = c.match(/rgba?\(([^)]+)\)/);
        if (!m) return null;
        const p = m[1].split(',').map((x) => parseFloat(x));
        return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
      };
      const lum = (c) => {
        const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
        return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
      };
      const background = (el) => {
        for (let e = el; e; e = e.parentElement) {
          const c = parse(getComputedStyle(e).backgroundColor);
          if (c && c.a > 0.5) return c;
        }
        return { r: 255, g: 255, b: 255, a: 1 };
      };
      const out = [];
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      let checked = 0;
      while (walker.nextNode() && checked < 3000) {
        const text = walker.currentNode;
        const el = text.parentElement;
        if (!el || !text.textContent.trim() || el.closest('svg, script, style, [hidden]')) continue;
        const style = getComputedStyle(el);
        if (style.visibility === 'hidden' || style.display === 'none' || el.getClientRects().length === 0) continue;
        checked++;
        const fg = parse(style.color);
        if (!fg) continue;
        const bg = background(el);
        const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
        const ratio = (hi + 0.05) / (lo + 0.05);
        const size = parseFloat(style.fontSize);
        const large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight, 10) >= 700);
        if (ratio < (large ? 3 : 4.5)) out.push({ text: text.textContent.trim().slice(0, 40), ratio: Math.round(ratio * 100) / 100 });
      }
      return out.slice(0, 20);
    });
    Object.assign(report, await page.evaluate(() => {
      const cls = (el) => Array.from(el.classList).filter((c) => c.startsWith('is-'));
      const node = (el) => ({ name: el.dataset.name || '', pointer: el.dataset.pointer || '', type: el.dataset.type || '', classes: cls(el) });
      const states = Array.from(document.querySelectorAll('svg.sfn-graph .sfn-state')).map(node);
      const groups = Array.from(document.querySelectorAll('svg.sfn-graph .sfn-group')).map((g) => {
        const n = node(g);
        const badge = g.querySelector(':scope > .c-group-badge title');
        n.badge = badge ? badge.textContent : null;
        return n;
      });
      const failed = new Set();
      for (const n of states.concat(groups)) if (n.classes.includes('is-failed')) failed.add(n.name);
      const evCount = document.querySelector('.c-events-card .c-card-head [role="status"]');
      const total = evCount ? Number((evCount.textContent.match(/([\d,]+) events/) || [0, '0'])[1].replace(/,/g, '')) : 0;
      return {
        title: document.title,
        states, groups,
        takenEdges: document.querySelectorAll('svg.sfn-graph .sfn-edge.is-taken').length,
        timelineBars: document.querySelectorAll('.c-tl .c-bar').length,
        eventsRows: document.querySelectorAll('table.c-events tbody tr.c-ev-row').length,
        eventsTotal: total,
        failedStates: Array.from(failed).sort(),
        buildMillis: document.body.dataset.buildMs ? Number(document.body.dataset.buildMs) : null,
        page: document.body.dataset.page || null,
      };
    }));
    if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: true });
    await context.close();
  } catch (e) {
    report.pageErrors.push('check failed: ' + (e && e.message || String(e)));
    code = 2;
  } finally {
    if (browser) await browser.close().catch(() => {});
  }
  if (args.expect && code === 0) {
    const exp = JSON.parse(readFileSync(args.expect, 'utf8'));
    const failures = [];
    for (const [k, v] of Object.entries(exp)) {
      if (k === 'states' && v && !Array.isArray(v)) {
        for (const [name, c] of Object.entries(v)) {
          const n = report.states.concat(report.groups).find((x) => x.name === name);
          if (!n || !n.classes.includes(c)) failures.push(`state ${name}: expected ${c}, got ${n ? n.classes.join(' ') : 'no node'}`);
        }
      } else if (Array.isArray(v)) {
        const a = (report[k] || []).map(String).sort(), b = v.map(String).sort();
        if (JSON.stringify(a) !== JSON.stringify(b)) failures.push(`${k}: expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`);
      } else if (JSON.stringify(report[k]) !== JSON.stringify(v)) {
        failures.push(`${k}: expected ${JSON.stringify(v)}, got ${JSON.stringify(report[k])}`);
      }
    }
    report.expect = { ok: failures.length === 0, failures };
    if (failures.length) code = 1;
  }
  if (!report.ready && code === 0) code = 2;
  process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  process.exit(code);
}

main();
