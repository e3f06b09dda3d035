#!/usr/bin/env node
// Web-client flow: drives CryptPad's real web client (served by a CryptPad-compatible server) in
// headless Chromium through six steps, and reports each step as passed or failed:
//
//   1 register   /register/ in context A: username, password, confirmation, the warning modal,
//                then the drive must load (its "New" button) with a Block_hash in localStorage
//   2 login      /login/ in a fresh context B with the same credentials, then the drive must load
//   3 pad        /pad/ in B: the creation screen's "Create" if shown, text typed into CKEditor, then
//                the pad stored in the drive (the "not in your CryptDrive" popup's STORE, which pins
//                it): the outer URL must switch to the hidden /3/ hash
//   4 readonly   the pad's read-only link (view hash derived from the edit hash by the client's own
//                /common/common-hash.js) opened in a fresh anonymous context C: the text must show,
//                the editor must not be editable, and a second edit made in B must arrive live
//   5 upload     in B's drive: New > Upload files with a ~300 KB PNG (several chunks), the upload
//                modal's OK; the file must then be listed in the drive
//   6 drive      a fresh context D logs in again (empty local cache, so everything comes from the
//                server): the drive must list the pad and the file, and opening the image must
//                fetch it with GET /blob/.. and decrypt it to a 320x320 <img>
//
// Usage: node flow.js --url http://127.0.0.1:PORT [--out DIR] [--chromium PATH] [--timeout MS]
//                     [--workers shared|none] [--verbose]
//   --url      the main origin (httpUnsafeOrigin) of a running server that serves a client tree
//   --out      where logs, screenshots and flow.json go (default: a new temp dir)
//   --workers  shared (default): the client runs its store in a SharedWorker, as in real use. Its
//              WebSocket is then invisible to the page, so RPC errors are not logged.
//              none: sets localStorage.CryptPad_noWorkers=1 (a switch of the client itself) so the
//              store and its WebSocket run in the page, and every Netflux frame and RPC error is
//              logged. Same server traffic, more diagnostics.
//
// Output: one line per step ("ok <n> <step> (<seconds>s)" or "FAIL <n> <step>: <reason>"), then for
// each failed step the first failing HTTP response, failed request, RPC/Netflux/history error, page
// error and console error seen while it ran, the first RPC it never got an answer to, what the client
// showed on screen (dialogs, toasts, loading errors) and screenshots; the last line is
// "N passed, N failed". OUT holds events.log, http.log, ws.log, flow.json and the screenshots.
// Exit status: 0 when every step passed, 1 otherwise, 2 on bad usage.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { chromium } = require('playwright-core');

const STEPS = ['register', 'login', 'pad', 'readonly', 'upload', 'drive'];

function parseArgs(argv) {
    const o = { url: null, out: null, chromium: '/usr/bin/chromium', timeout: 120000, workers: 'shared', verbose: false };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const next = () => {
            if (i + 1 >= argv.length) { usage(`${a} needs a value`); }
            return argv[++i];
        };
        if (a === '--url') { o.url = next().replace(/\/+$/, ''); }
        else if (a === '--out') { o.out = next(); }
        else if (a === '--chromium') { o.chromium = next(); }
        else if (a === '--timeout') { o.timeout = Number(next()); }
        else if (a === '--workers') { o.workers = next(); }
        else if (a === '--verbose') { o.verbose = true; }
        else if (a === '--help' || a === '-h') { usage(null); }
        else { usage(`unknown argument ${a}`); }
    }
    if (!o.url || !/^https?:\/\/[^/]+$/.test(o.url)) { usage('--url http(s)://host:port is required'); }
    if (!(o.timeout > 0)) { usage('--timeout must be a positive number of milliseconds'); }
    if (!['shared', 'none'].includes(o.workers)) { usage('--workers must be shared or none'); }
    return o;
}

function usage(msg) {
    if (msg) { console.error(`flow.js: ${msg}`); }
    console.error('usage: node flow.js --url http://127.0.0.1:PORT [--out DIR] [--chromium PATH] [--timeout MS] [--workers shared|none] [--verbose]');
    process.exit(msg ? 2 : 0);
}

const opts = parseArgs(process.argv.slice(2));
const OUT = opts.out || fs.mkdtempSync(path.join(os.tmpdir(), 'blindpad-browser-'));
fs.mkdirSync(OUT, { recursive: true });
const T0 = Date.now();
const secs = (ms) => (ms / 1000).toFixed(1);

// ---------------------------------------------------------------------------------------------
// Event log. Every context's HTTP errors, failed requests, console messages, page errors and (with
// --workers none) WebSocket frames go to OUT/events.log; the "notable" ones (HTTP >= 400, failed
// requests, RPC and Netflux errors, console errors, uncaught exceptions) are also kept in memory
// with the step that was running, so a failing step can print the first of each kind.
const eventsFile = fs.openSync(path.join(OUT, 'events.log'), 'w');
const wsFile = fs.openSync(path.join(OUT, 'ws.log'), 'w');
const httpFile = fs.openSync(path.join(OUT, 'http.log'), 'w');   // every response: status, method, URL
const notable = [];   // {step, kind, text, t}
const blobGets = new Map();   // context label -> GET /blob/xx/id answered 200/206
let currentStep = 'setup';

function logLine(fd, line) { fs.writeSync(fd, `${secs(Date.now() - T0).padStart(7)} ${line}\n`); }
function note(kind, ctx, text, step = currentStep) {
    const e = { step, kind, ctx, text, t: Date.now() - T0 };
    notable.push(e);
    logLine(eventsFile, `[${step}] ${ctx} ${kind}: ${text}`);
    if (opts.verbose) { console.log(`  (${ctx} ${kind}) ${text}`); }
}
const clip = (s, n = 400) => { s = String(s); return s.length > n ? `${s.slice(0, n)}…(${s.length} chars)` : s; };

// Known-noise filter: requests the client makes that are expected to 404 on every server
// (optional modules); they are logged but not counted as "notable".
const BLOCK_URL = /\/block\/[0-9A-Za-z_+-]{2}\/[0-9A-Za-z_+=-]+$/;   // register's "is this name free" probe
const EXPECTED_404 = [
    /\/customize\/[^?]*\.(js|less|css|json)(\?|$)/,   // optional customize overrides
    /\/api\/updatequota/,
    /\/[a-z]+\/templates\.js(\?|$)/,                 // optional per-app templates (pad/templates.js)
    /\/favicon\.ico$/,
];
// Console errors the reference server produces too (checked against CryptPad 2026.2.2): logged,
// not counted as notable.
const EXPECTED_CONSOLE = [
    /WebWorker\/SharedWorker state forced/,            // our own --workers none switch
    /cke4\.ckeditor\.com/,                             // CKEditor's version check, blocked by CSP
    /the server responded with a status of 404.*\/(favicon\.ico|[a-z]+\/templates\.js)/,
    /templates\.js.*MIME type \('text\/html'\)/,        // the same optional templates.js
];

function instrumentContext(ctx, label) {
    ctx.on('console', (msg) => {
        const type = msg.type();
        const loc = msg.location();
        const where = loc && loc.url ? ` (${loc.url.replace(opts.url, '')}:${loc.lineNumber})` : '';
        const text = `${msg.text()}${where}`;
        // the register probe's block 404, as the browser and the client log it (only while registering)
        const probe = currentStep === 'register' &&
            (/status of 404.*\/block\//.test(text) || /^404 \(\/common\/common-login\.js/.test(text));
        if (type === 'error' && !probe && !EXPECTED_CONSOLE.some((re) => re.test(text))) { note('console.error', label, clip(text, 600)); }
        else { logLine(eventsFile, `[${currentStep}] ${label} console.${type}: ${clip(text, 300)}`); }
    });
    ctx.on('weberror', (err) => { note('pageerror', label, clip(err.error().stack || err.error().message, 600)); });
    ctx.on('requestfailed', (req) => {
        const f = req.failure();
        const why = f ? f.errorText : '?';
        // aborted loads of pages we navigate away from are not server failures
        if (why === 'net::ERR_ABORTED') { logLine(eventsFile, `[${currentStep}] ${label} aborted ${req.method()} ${req.url()}`); return; }
        // CKEditor's version check goes to an outside host and is blocked by the server's CSP
        if (why === 'csp' && new URL(req.url()).hostname !== new URL(opts.url).hostname) {
            logLine(eventsFile, `[${currentStep}] ${label} blocked by CSP (expected): ${req.method()} ${req.url()}`);
            return;
        }
        note('requestfailed', label, `${req.method()} ${req.url()} ${why}`);
    });
    ctx.on('response', async (res) => {
        const status = res.status();
        const req = res.request();
        logLine(httpFile, `[${currentStep}] ${label} ${status} ${req.method()} ${res.url()}`);
        if (req.method() === 'GET' && (status === 200 || status === 206) && /\/blob\/[^/]{2}\/[^/?]+/.test(res.url())) {
            blobGets.set(label, (blobGets.get(label) || 0) + 1);
        }
        if (status < 400) { return; }
        const step = currentStep;   // the body arrives later; the step is the one of the response
        const url = res.url().replace(/[?#].*$/, '');
        const expected = status === 404 &&
            (EXPECTED_404.some((re) => re.test(res.url())) || (step === 'register' && BLOCK_URL.test(url)));
        let body = '';
        try { body = (await res.text()).replace(/\s+/g, ' '); } catch (e) { body = `<body unavailable: ${e.message}>`; }
        const line = `${req.method()} ${res.url()} -> ${status} ${clip(body, 200)}`;
        if (expected) {
            logLine(eventsFile, `[${step}] ${label} http(expected): ${line}`);
            return;
        }
        note('http', label, line, step);
    });
    ctx.on('page', (page) => instrumentPage(page, label));
}

// Netflux frames (only visible with --workers none). RPCs are [seq,"MSG",hk,"[txid,req]"] out and
// [0,hk,"MSG",me,"[txid,...]"] back; the command name is req[0] (anonymous) or req[3] (signed).
const pendingRpcs = new Map();   // `${label}/${txid}` -> {cmd, arg, step, t}: sent, not answered yet
function instrumentPage(page, label) {
    const rpcByTxid = new Map();
    page.on('websocket', (ws) => {
        logLine(wsFile, `${label} open ${ws.url()}`);
        const mine = new Set();   // keys of pendingRpcs sent on this socket
        ws.on('framesent', (f) => {
            const p = typeof f.payload === 'string' ? f.payload : f.payload.toString();
            logLine(wsFile, `${label} > ${clip(p, 600)}`);
            try {
                const m = JSON.parse(p);
                if (m[1] === 'MSG' && typeof m[3] === 'string' && m[3][0] === '[') {
                    const inner = JSON.parse(m[3]);
                    const req = inner[1];
                    if (Array.isArray(req)) {
                        const cmd = typeof req[0] === 'string' && req.length === 2 ? req[0] : req[3];
                        const r = { cmd, arg: clip(JSON.stringify(req.length === 2 ? req[1] : req[4]), 200), step: currentStep, t: Date.now() - T0, ctx: label };
                        rpcByTxid.set(inner[0], r);
                        pendingRpcs.set(`${label}/${inner[0]}`, r);
                        mine.add(`${label}/${inner[0]}`);
                    } else if (inner[0] === 'GET_HISTORY' || inner[0] === 'GET_HISTORY_RANGE' || inner[0] === 'GET_FULL_HISTORY') {
                        // history requests are not RPCs; their errors come back as {error}
                    }
                }
            } catch (e) { /* not JSON: logged above */ }
        });
        ws.on('framereceived', (f) => {
            const p = typeof f.payload === 'string' ? f.payload : f.payload.toString();
            logLine(wsFile, `${label} < ${clip(p, 600)}`);
            let m;
            try { m = JSON.parse(p); } catch (e) { return; }
            if (!Array.isArray(m)) { return; }
            if (m[1] === 'ERROR') { note('netflux', label, `error reply to seq ${m[0]}: ${clip(JSON.stringify(m.slice(2)), 300)}`); return; }
            if (m[2] === 'MSG' && typeof m[4] === 'string') {
                let inner;
                try { inner = JSON.parse(m[4]); } catch (e) { return; }
                if (Array.isArray(inner) && typeof inner[0] === 'string' && inner[1] === 'ERROR') {
                    const r = rpcByTxid.get(inner[0]);
                    pendingRpcs.delete(`${label}/${inner[0]}`);
                    note('rpc', label, `RPC ${r ? r.cmd : '?'} ${r ? r.arg : ''} -> ERROR ${clip(JSON.stringify(inner.slice(2)), 300)}`);
                } else if (Array.isArray(inner) && rpcByTxid.has(inner[0])) {
                    rpcByTxid.delete(inner[0]);
                    pendingRpcs.delete(`${label}/${inner[0]}`);
                } else if (inner && !Array.isArray(inner) && typeof inner === 'object' && inner.error) {
                    note('history', label, `history error ${clip(JSON.stringify(inner), 300)}`);
                }
            }
        });
        // a socket closes when its page navigates or closes: what it left unanswered is logged, not
        // reported (an RPC the server never answers shows up while its step is still running)
        ws.on('close', () => {
            const left = [...mine].filter((k) => pendingRpcs.has(k));
            logLine(wsFile, `${label} close ${ws.url()}${left.length ? ` with ${left.length} unanswered RPC(s): ${left.map((k) => pendingRpcs.get(k).cmd).join(' ')}` : ''}`);
            for (const k of left) { pendingRpcs.delete(k); }
        });
        ws.on('socketerror', (e) => note('websocket', label, `${ws.url()} socket error ${e}`));
    });
    page._bpPending = rpcByTxid;
}

// ---------------------------------------------------------------------------------------------
// Helpers

// The outer page of every app holds #sbox-iframe (the sandbox origin); the app UI lives there.
const sbox = (page) => page.frameLocator('#sbox-iframe');

// Messages the client shows on screen (dialogs, toasts, loading-screen errors, corner popups), in
// every frame of a page: on failure these often say what went wrong ("File exceeds ...").
async function screenMessages(page) {
    const found = [];
    for (const frame of page.frames()) {
        try {
            const texts = await frame.evaluate(() => [...document.querySelectorAll(
                '.alertify .dialog, .alertify-logs > *, .cp-loading-error, #cp-loading-message, .cp-corner-container')]
                .filter((e) => e.offsetParent !== null || getComputedStyle(e).position === 'fixed')
                .map((e) => e.innerText.replace(/\s+/g, ' ').trim()).filter(Boolean));
            for (const t of texts) { if (!found.includes(t)) { found.push(t); } }
        } catch (e) { /* frame gone */ }
    }
    return found.slice(0, 6);
}

async function shot(page, name) {
    const file = path.join(OUT, `${name}.png`);
    try { await page.screenshot({ path: file, fullPage: true, timeout: 15000 }); return file; }
    catch (e) { return `(no screenshot: ${e.message.split('\n')[0]})`; }
}

// Await a wait/click and, if it fails, fail with what the user would have seen go wrong
// (Playwright's own message is kept after it, first line only).
async function must(what, promise) {
    try { return await promise; } catch (e) {
        const first = String(e && e.message ? e.message : e).replace(/\x1b\[[0-9;]*m/g, '').split('\n')[0];
        throw new Error(`${what} (${first})`);
    }
}

// Wait until the logged-in drive is usable: the "New" button of the drive toolbar.
async function waitDrive(page, timeout) {
    await must('the browser was not sent to /drive/', page.waitForURL(/\/drive\/?(#.*)?$/, { timeout }));
    await must('the drive did not finish loading (no "New" button)',
        sbox(page).locator('button.cp-app-drive-toolbar-new').first().waitFor({ state: 'visible', timeout }));
}

// The register and login forms are drawn (customize/pages/*.js, with autofocus on the name field)
// before the page's main.js binds the button's click handler with jQuery; a click in between is
// lost. jQuery (a global once loaded) keeps bound handlers in jQuery._data(el, 'events').
async function handlersBound(page, selector) {
    const t = Date.now();
    const ok = await page.waitForFunction((sel) => {
        const el = document.querySelector(sel);
        const ev = el && window.jQuery && window.jQuery._data && window.jQuery._data(el, 'events');
        return !!(ev && ev.click && ev.click.length);
    }, selector, { timeout: 30000 }).then(() => true, () => false);   // not found: click anyway
    logLine(eventsFile, `[${currentStep}] ${selector} click handler ${ok ? 'bound' : 'NOT seen'} after ${Date.now() - t} ms`);
}

// Once logged in, the client keeps the login block's URL in localStorage.Block_hash
// (LocalStore.isLoggedIn in www/common/outer/local-store.js).
async function isLoggedIn(page) {
    return page.evaluate(() => typeof localStorage.Block_hash === 'string' && localStorage.Block_hash.length > 0);
}

// Close any modal the client shows on a first visit (e.g. onboarding) by its OK button, if present.
async function dismissModals(frame) {
    for (let i = 0; i < 3; i++) {
        const ok = frame.locator('.alertify:visible button.ok, .cp-modal-container:visible button.ok').first();
        if (await ok.count() === 0) { return; }
        try { await ok.click({ timeout: 2000 }); } catch (e) { return; }
        await new Promise((r) => setTimeout(r, 300));
    }
}

// A PNG of random RGB pixels, built with node's zlib (no image library needed).
const IMG_SIZE = 320;
function makePng(w, h) {
    const zlib = require('zlib');
    const table = Array.from({ length: 256 }, (_, n) => {
        let c = n;
        for (let k = 0; k < 8; k++) { c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; }
        return c >>> 0;
    });
    const crc = (buf) => {
        let c = 0xffffffff;
        for (const b of buf) { c = table[(c ^ b) & 0xff] ^ (c >>> 8); }
        return (c ^ 0xffffffff) >>> 0;
    };
    const chunk = (type, data) => {
        const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
        const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
        const c = Buffer.alloc(4); c.writeUInt32BE(crc(td));
        return Buffer.concat([len, td, c]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4);
    ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;   // 8-bit RGB, no interlace
    const raw = Buffer.alloc((w * 3 + 1) * h);
    for (let y = 0; y < h; y++) {
        raw[y * (w * 3 + 1)] = 0;   // filter: none
        crypto.randomFillSync(raw, y * (w * 3 + 1) + 1, w * 3);
    }
    return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

// ---------------------------------------------------------------------------------------------
// The flow

const results = [];   // {n, step, ok, reason, ms, shots:[]}
const state = {};

async function runStep(n, step, fn, needs) {
    currentStep = step;
    const t = Date.now();
    const missing = (needs || []).filter((s) => !results.find((r) => r.step === s && r.ok));
    if (missing.length) {
        const r = { n, step, ok: false, reason: `not run: needs ${missing.join(', ')}`, ms: 0, shots: [], notRun: true };
        results.push(r);
        console.log(`FAIL ${n} ${step}: ${r.reason}`);
        return;
    }
    const r = { n, step, ok: false, reason: '', ms: 0, shots: [] };
    try {
        const extra = await fn(r);
        r.ok = true;
        if (extra) { r.reason = extra; }
    } catch (e) {
        r.reason = (e && e.message ? e.message : String(e)).replace(/\x1b\[[0-9;]*m/g, '').split('\n')[0];
        r.unanswered = [...pendingRpcs.values()].filter((p) => p.step === step);
        r.screen = [];
        for (const [name, page] of Object.entries(state.pages || {})) {
            if (page && !page.isClosed()) {
                r.shots.push(await shot(page, `fail-${n}-${step}-${name}`));
                for (const t of await screenMessages(page)) { r.screen.push(`${name}: ${clip(t, 300)}`); }
            }
        }
    }
    // contexts that only this step uses (C, the read-only viewer) are closed after its screenshots
    for (const [name, ctx] of state.temp || []) {
        await ctx.close().catch(() => {});
        delete state.pages[name];
    }
    state.temp = [];
    r.ms = Date.now() - t;
    results.push(r);
    console.log(r.ok ? `ok ${n} ${step} (${secs(r.ms)}s)${r.reason ? ` ${r.reason}` : ''}` : `FAIL ${n} ${step}: ${r.reason}`);
}

async function main() {
    const browser = await chromium.launch({
        executablePath: opts.chromium,
        headless: true,
        // --no-sandbox: Chromium's own sandbox cannot start as root (CI and this machine);
        // --disable-dev-shm-usage: small /dev/shm in containers
        args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    const version = browser.version();
    const user = `bpflow-${crypto.randomBytes(4).toString('hex')}`;
    const password = `pw-${crypto.randomBytes(12).toString('hex')}`;
    const marker = `blindpad flow ${crypto.randomBytes(6).toString('hex')}`;
    const marker2 = `second edit ${crypto.randomBytes(4).toString('hex')}`;
    const fileName = `bpflow-upload-${crypto.randomBytes(3).toString('hex')}.png`;
    const filePath = path.join(OUT, fileName);
    // a 320x320 PNG of random pixels (~300 KB, incompressible): several upload chunks, and an
    // image that the drive's preview (media-tag) must fetch, decrypt and display
    fs.writeFileSync(filePath, makePng(IMG_SIZE, IMG_SIZE));
    console.log(`# ${opts.url}  chromium ${version}  workers=${opts.workers}  user=${user}  out=${OUT}`);

    const newContext = async (label) => {
        const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: false });
        ctx.setDefaultTimeout(opts.timeout);
        ctx.setDefaultNavigationTimeout(opts.timeout);
        // Record every hash the outer page sets with history.replaceState: a new pad's outer page
        // first shows its edit hash (/2/pad/edit/...) and later swaps it for a "hidden" hash
        // (/3/...) once the pad is stored in the drive.
        await ctx.addInitScript((noWorkers) => {
            if (window.top !== window) { return; }
            try { if (noWorkers) { localStorage.CryptPad_noWorkers = '1'; } } catch (e) { /* sandboxed */ }
            const orig = history.replaceState.bind(history);
            window.__bpHashes = [];
            history.replaceState = function (s, t, u) {
                try { window.__bpHashes.push(String(u)); } catch (e) { /* ignore */ }
                return orig(s, t, u);
            };
        }, opts.workers === 'none');
        instrumentContext(ctx, label);
        return ctx;
    };
    state.pages = {};
    const T = opts.timeout;

    // 1 register ---------------------------------------------------------------------------------
    await runStep(1, 'register', async () => {
        const ctx = state.ctxA = await newContext('A');
        const page = state.pages.A = await ctx.newPage();
        await page.goto(`${opts.url}/register/`);
        await must('the register form did not show', page.locator('#username').waitFor({ state: 'visible', timeout: T }));
        await handlersBound(page, 'button#register');
        await page.locator('#username').fill(user);
        await page.locator('#password').fill(password);
        await page.locator('#password-confirm').fill(password);
        const terms = page.locator('#accept-terms');
        if (await terms.count()) { await terms.check(); }
        await page.locator('button#register').click();
        // "write down your password" confirmation: its OK button carries class .ok
        await must('no "I have written down my password" confirmation', page.locator('button.ok:visible').first().click({ timeout: T }));
        await waitDrive(page, T * 2);   // scrypt + drive creation + block write + redirect
        if (!await isLoggedIn(page)) { throw new Error('drive loaded but localStorage.Block_hash is not set'); }
    });

    // 2 login ------------------------------------------------------------------------------------
    const login = async (page) => {
        await page.goto(`${opts.url}/login/`);
        await must('the login form did not show', page.locator('#name').waitFor({ state: 'visible', timeout: T }));
        await handlersBound(page, 'button.login');
        await page.locator('#name').fill(user);
        await page.locator('#password').fill(password);
        await page.locator('button.login').click();
        await waitDrive(page, T * 2);
        if (!await isLoggedIn(page)) { throw new Error('drive loaded but localStorage.Block_hash is not set'); }
    };
    await runStep(2, 'login', async () => {
        if (state.ctxA) { await state.ctxA.close(); state.ctxA = null; delete state.pages.A; }
        const ctx = state.ctxB = await newContext('B');
        const page = state.pages.B = await ctx.newPage();
        await login(page);
    }, ['register']);

    // 3 pad --------------------------------------------------------------------------------------
    await runStep(3, 'pad', async () => {
        const page = state.pages.B;
        await page.goto(`${opts.url}/pad/`);
        const inner = sbox(page);
        const create = inner.locator('.cp-creation-create button');
        const editorBody = inner.frameLocator('iframe.cke_wysiwyg_frame').locator('body');
        // A logged-in user may get the creation screen (owned, expiry, template) before the editor
        // starts; whether it shows depends on when the client knows it is logged in (seen both
        // ways against the reference). The CKEditor frame is attached, even editable, behind it,
        // so: click "Create" whenever it is visible, otherwise try to click into the editor (a
        // click that the overlay would intercept fails fast and is retried).
        const deadline = Date.now() + T;
        let created = false;
        for (;;) {
            if (!created && await create.isVisible().catch(() => false)) {
                await create.click({ timeout: 10000 }).then(() => { created = true; }, () => {});
                continue;
            }
            const inEditor = await editorBody.click({ timeout: 3000 }).then(() => true, () => false);
            if (inEditor) {
                // the creation screen can still come up just after: settle for a moment
                await new Promise((r) => setTimeout(r, 1500));
                if (!await create.isVisible().catch(() => false)) { break; }
            }
            if (Date.now() > deadline) {
                throw new Error('the rich-text editor never became usable (neither the creation screen nor an editable CKEditor)');
            }
        }
        await must('the editor did not become editable', inner.frameLocator('iframe.cke_wysiwyg_frame')
            .locator('body[contenteditable="true"]').waitFor({ state: 'attached', timeout: T }));
        await editorBody.click();
        await editorBody.pressSequentially(marker, { delay: 15 });
        await must('the typed text did not appear in the editor',
            inner.frameLocator('iframe.cke_wysiwyg_frame').locator(`text=${marker}`).waitFor({ timeout: T }));
        // the edit hash (/2/pad/edit/<key>/) as the outer page first showed it
        const editHash = await page.waitForFunction(() => {
            const all = (window.__bpHashes || []).concat([window.location.hash]);
            return all.map((h) => String(h).replace(/^.*#/, '')).find((h) => /^\/2\/pad\/edit\//.test(h)) || null;
        }, null, { timeout: T }).then((h) => h.jsonValue());
        // the view hash, computed by the client's own module in the outer page
        const viewHash = await page.evaluate((h) => new Promise((resolve, reject) => {
            window.require(['/common/common-hash.js'], (Hash) => {
                try { resolve(Hash.getViewHashFromKeys(Hash.getSecrets('pad', h))); } catch (e) { reject(e); }
            }, reject);
        }), editHash);
        if (!/^\/2\/pad\/view\//.test(viewHash || '')) { throw new Error(`unexpected view hash ${viewHash}`); }
        state.editHash = editHash;
        state.viewHash = viewHash;
        // store the pad in the drive: a pad made from the creation screen is stored at once; one
        // opened without it gets the "not in your CryptDrive" corner popup, whose STORE pins it.
        // Once stored, the outer page hides the hash (/3/...).
        const hidden = page.waitForFunction(() => /#\/3\//.test(window.location.hash), null, { timeout: T });
        const storeBtn = inner.locator('.cp-corner-container button.cp-corner-primary');
        const first = await Promise.race([
            hidden.then(() => 'stored', () => 'timeout'),
            storeBtn.waitFor({ state: 'visible', timeout: T }).then(() => 'popup', () => 'timeout'),
        ]);
        if (first === 'popup') { await storeBtn.click(); }
        await hidden
            .catch(() => { throw new Error(`the pad was not stored in the drive (the URL kept its edit hash ${editHash})`); });
        return `${created ? 'via the creation screen' : 'without creation screen'}, ${first === 'popup' ? 'stored with STORE' : 'stored at once'}; view link ${opts.url}/pad/#${viewHash.slice(0, 20)}…`;
    }, ['login']);

    // 4 readonly ---------------------------------------------------------------------------------
    await runStep(4, 'readonly', async () => {
        const ctx = await newContext('C');
        state.temp = [['C', ctx]];
        const page = state.pages.C = await ctx.newPage();
        await page.goto(`${opts.url}/pad/#${state.viewHash}`);
        const body = sbox(page).frameLocator('iframe.cke_wysiwyg_frame').locator('body');
        await must('the read-only view did not show the pad\'s text', body.getByText(marker).waitFor({ timeout: T }));
        const editable = await body.getAttribute('contenteditable');
        if (editable === 'true') { throw new Error('the read-only view is editable (contenteditable=true)'); }
        // a later edit by the owner must reach the viewer live
        const ed = sbox(state.pages.B).frameLocator('iframe.cke_wysiwyg_frame').locator('body');
        await ed.press('End');
        await ed.pressSequentially(` ${marker2}`, { delay: 15 });
        await must('the owner\'s second edit did not reach the read-only view', body.getByText(marker2).waitFor({ timeout: T }));
    }, ['pad']);

    // 5 upload -----------------------------------------------------------------------------------
    await runStep(5, 'upload', async () => {
        const page = state.pages.B;
        await page.goto(`${opts.url}/drive/`);
        await waitDrive(page, T);
        const inner = sbox(page);
        await dismissModals(inner);
        await inner.locator('button.cp-app-drive-toolbar-new').first().click();
        const chooser = page.waitForEvent('filechooser', { timeout: T });
        await inner.locator('a.cp-app-drive-new-fileupload').first().click();
        await (await chooser).setFiles(filePath);
        // upload options modal (owned / store in drive / alt text): OK
        await must('no upload options modal', inner.locator('button.ok:visible').first().click({ timeout: T }));
        const el = inner.locator('li.cp-app-drive-element-row', { has: inner.locator('.cp-app-drive-element-name', { hasText: fileName }) }).first();
        await el.waitFor({ state: 'visible', timeout: T * 2 })
            .catch(() => { throw new Error(`the uploaded file ${fileName} did not appear in the drive`); });
        return `${fs.statSync(filePath).size} bytes`;
    }, ['login']);

    // 6 drive ------------------------------------------------------------------------------------
    // In a fresh context D (new login, empty local cache), so the listing comes from the drive
    // channel on the server and the image from GET /blob, not from the client's IndexedDB cache.
    await runStep(6, 'drive', async () => {
        if (state.ctxB) { await state.ctxB.close(); state.ctxB = null; delete state.pages.B; }
        const ctx = state.ctxD = await newContext('D');
        const page = state.pages.D = await ctx.newPage();
        await login(page);
        const inner = sbox(page);
        const file = inner.locator('li.cp-app-drive-element-row.cp-border-color-file', { has: inner.locator('.cp-app-drive-element-name', { hasText: fileName }) }).first();
        const pads = inner.locator('li.cp-app-drive-element-row.cp-border-color-pad');
        const want = [];
        if (results.find((r) => r.step === 'upload' && r.ok)) { want.push(['the uploaded file', file]); }
        if (results.find((r) => r.step === 'pad' && r.ok)) { want.push(['the rich-text pad', pads]); }
        if (!want.length) { throw new Error('nothing to list: neither the pad nor the upload step passed'); }
        for (const [what, loc] of want) {
            await loc.first().waitFor({ state: 'visible', timeout: T })
                .catch(() => { throw new Error(`the drive does not list ${what}`); });
        }
        const n = await inner.locator('li.cp-app-drive-element-row.cp-app-drive-element-file').count();
        if (!results.find((r) => r.step === 'upload' && r.ok)) { return `${n} document(s) listed`; }
        // open the image: the drive's preview modal has a media-tag that fetches the blob
        // (GET /blob/.. from the sandbox origin) and decrypts it into an <img>
        await dismissModals(inner);
        await file.dblclick();
        const img = inner.locator('media-tag img').first();
        await img.waitFor({ state: 'attached', timeout: T })
            .catch(() => { throw new Error('opening the uploaded image showed no decrypted <img> (media-tag)'); });
        const w = await img.evaluate((i) => new Promise((res) => {
            if (i.complete) { return res(i.naturalWidth); }
            i.onload = () => res(i.naturalWidth); i.onerror = () => res(-1);
        }));
        if (w !== IMG_SIZE) { throw new Error(`the decrypted image is ${w} px wide, expected ${IMG_SIZE}`); }
        const gets = blobGets.get('D') || 0;
        if (!gets) { throw new Error('the image was shown but no GET /blob/... reached the server (served from a cache?)'); }
        return `${n} document(s) listed; the image came back from GET /blob and decrypted (${IMG_SIZE}x${IMG_SIZE})`;
    }, ['login']);

    for (const ctx of [state.ctxA, state.ctxB, state.ctxD]) { if (ctx) { await ctx.close().catch(() => {}); } }
    await browser.close();
}

function report() {
    const passed = results.filter((r) => r.ok).length;
    const failed = STEPS.length - passed;
    const failedSteps = results.filter((r) => !r.ok && !r.notRun);
    for (const r of failedSteps) {
        console.log(`\n## step ${r.n} ${r.step} failed: ${r.reason}`);
        const mine = notable.filter((e) => e.step === r.step);
        for (const kind of ['http', 'requestfailed', 'rpc', 'netflux', 'history', 'websocket', 'pageerror', 'console.error']) {
            const e = mine.find((x) => x.kind === kind);
            if (e) {
                const count = mine.filter((x) => x.kind === kind).length;
                console.log(`  first ${kind} (${count} in this step, at ${secs(e.t)}s, context ${e.ctx}): ${e.text}`);
            }
        }
        const unanswered = r.unanswered || [];
        if (unanswered.length) {
            const p = unanswered[0];
            console.log(`  first unanswered RPC (${unanswered.length} in this step, sent at ${secs(p.t)}s, context ${p.ctx}): ${p.cmd} ${p.arg}`);
        }
        for (const t of r.screen || []) { console.log(`  on screen (context ${t}`.replace(/^(  on screen \(context \w+):/, '$1):')); }
        for (const s of r.shots) { console.log(`  screenshot: ${s}`); }
    }
    fs.writeFileSync(path.join(OUT, 'flow.json'), JSON.stringify({ url: opts.url, workers: opts.workers, results, notable }, null, 1));
    if (failedSteps.length && opts.workers === 'shared') {
        console.log('\n# RPCs run in the SharedWorker, out of sight: re-run with BROWSER_WORKERS=none (flow.js --workers none) to log RPC errors');
    }
    console.log(`\nlogs: ${OUT}/events.log ${OUT}/http.log ${OUT}/ws.log ${OUT}/flow.json`);
    console.log(`${passed} passed, ${failed} failed`);
    return failed === 0 ? 0 : 1;
}

// a wait that lost a race and timed out later must not kill the run
process.on('unhandledRejection', (e) => { logLine(eventsFile, `[${currentStep}] (late rejection, ignored) ${clip(e && e.message ? e.message : e, 300)}`); });

main().then(() => process.exit(report()), (e) => {
    console.log(`FAIL setup: ${e && e.stack ? e.stack : e}`);
    results.push({ n: 0, step: currentStep, ok: false, reason: String(e && e.message), shots: [] });
    process.exit(report() || 1);
});
