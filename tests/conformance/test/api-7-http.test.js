'use strict';
// SERVER-API.md §8 items 65-73: the HTTP surface (§3.2, §3.3, §3.8, §3.10) and RPC robustness.
// A blindpad started by the suite serves a minimal client tree (lib/api.js makeWebRoot); the
// reference serves its own.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const {
    startApiServer, Rpc, RawClient, createChannel, chan32, keyPair, pub, blobId, needsHttp, skipOnReference,
    request, sliceConfig, tryConfig, safeOrigin, short, chanFile, txid, ADMIN_KP, makeWebRoot, EXTERNAL,
} = require('../lib/api');
const { assertServerHealthy } = require('../lib/client');

let srv;
let webRoot = null;
before(async () => {
    if (!EXTERNAL) { webRoot = makeWebRoot(); }
    srv = await startApiServer({ name: 'api-http', args: webRoot ? ['--web-root', webRoot] : [] });
});
after(async () => {
    if (srv) { await srv.stop(); }
    if (webRoot) { fs.rmSync(webRoot, { recursive: true, force: true }); }
});

// CSP string → {directive: [values]}
function parseCsp(v) {
    const out = {};
    for (const part of v.split(';')) {
        const words = part.trim().split(/\s+/).filter(Boolean);
        if (words.length) { out[words[0]] = words.slice(1); }
    }
    return out;
}

describe('§8 HTTP surface', { concurrency: true }, () => {
    it('§8.65 /api/config: the slice [27:-5] is JSON with httpUnsafeOrigin, httpSafeOrigin, requireConf.urlArgs, maxUploadSize, defaultStorageLimit; starts with define(function(){;\\nreturn {', async (t) => {
        if (needsHttp(t, srv)) { return; }
        for (const p of ['/api/config', '/api/config?cb=18c5e1d2f00', '/api/config?1700000000000']) {
            const r = await request(srv.http, 'GET', p);
            assert.equal(r.status, 200, short(r));
            assert.match(r.headers['content-type'], /^text\/javascript/);
            assert.ok(r.text.startsWith('define(function(){;\nreturn {'), JSON.stringify(r.text.slice(0, 40)));
            assert.ok(r.text.endsWith(';\n});'), JSON.stringify(r.text.slice(-10)));
            const cfg = sliceConfig(r.text);
            assert.match(cfg.httpUnsafeOrigin, /^https?:\/\/[^/]+$/);
            assert.match(cfg.httpSafeOrigin, /^https?:\/\/[^/]+$/);
            assert.notEqual(cfg.httpSafeOrigin, cfg.httpUnsafeOrigin);
            assert.match(cfg.requireConf.urlArgs, /^ver=/);
            assert.equal(typeof cfg.requireConf.waitSeconds, 'number');
            assert.equal(cfg.maxUploadSize, 20971520);
            assert.equal(cfg.defaultStorageLimit, 52428800);
            assert.ok(Array.isArray(cfg.adminKeys));
            assert.equal(typeof cfg.restrictRegistration, 'boolean');
        }
    });

    it('§8.66 /api/broadcast: the same slicing gives curvePublic (44-char b64) and lastBroadcastHash', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const r = await request(srv.http, 'GET', `/api/broadcast?${Date.now()}`);
        assert.equal(r.status, 200, short(r));
        assert.match(r.headers['content-type'], /^text\/javascript/);
        assert.ok(r.text.startsWith('define(function(){;\nreturn {'), JSON.stringify(r.text.slice(0, 40)));
        const b = sliceConfig(r.text);
        assert.match(b.curvePublic, /^[A-Za-z0-9+/]{43}=$/);
        assert.equal(Buffer.from(b.curvePublic, 'base64').length, 32);
        assert.equal(typeof b.lastBroadcastHash, 'string');
    });

    it('§8.67 /api/config has no CSP; /pad/inner.html has one whose script-src lacks unsafe-eval; /sheet/inner.html has unsafe-eval', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const pad = await request(srv.http, 'GET', '/pad/inner.html');
        assert.equal(pad.status, 200, short(pad));
        assert.ok(pad.headers['content-security-policy'], 'a CSP on /pad/inner.html');
        const p = parseCsp(pad.headers['content-security-policy']);
        assert.deepEqual(p['default-src'], ["'none'"]);
        assert.ok(p['script-src'], 'script-src');
        assert.ok(!p['script-src'].includes("'unsafe-eval'"), pad.headers['content-security-policy']);
        assert.ok(p['script-src'].includes("'self'"));
        const cfg = await tryConfig(srv.http);
        const unsafe = cfg ? cfg.httpUnsafeOrigin : `http://localhost:${srv.port}`;
        const safe = cfg ? cfg.httpSafeOrigin : `http://localhost:${srv.port + 1}`;
        assert.ok(p['frame-src'] && p['frame-src'].includes(safe), `frame-src allows the sandbox ${safe}`);
        assert.ok(p['connect-src'] && p['connect-src'].includes(unsafe.replace(/^http/, 'ws')), 'connect-src allows the websocket');
        const sheet = await request(srv.http, 'GET', '/sheet/inner.html');
        assert.equal(sheet.status, 200, short(sheet));
        const s = parseCsp(sheet.headers['content-security-policy'] || '');
        assert.ok(s['script-src'] && s['script-src'].includes("'unsafe-eval'"), sheet.headers['content-security-policy']);
        for (const u of ['/api/config', '/api/broadcast', '/api/config?cb=1']) {
            const r = await request(srv.http, 'GET', u);
            assert.equal(r.status, 200, `${u}: ${short(r)}`);
            assert.equal(r.headers['content-security-policy'], undefined, `no CSP on ${u}`);
        }
    });

    it('§8.68 every HTML/JS response has COEP require-corp, CORP cross-origin and ACAO = the safe origin', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const acao = await safeOrigin(srv);
        for (const p of ['/', '/pad/', '/pad/inner.html', '/sheet/inner.html', '/common/boot.js', '/customize/pre-loading.js',
            '/api/config', '/api/broadcast', '/common/boot.js?ver=1.0', '/pad/no-such-page.html']) {
            const r = await request(srv.http, 'GET', p);
            assert.ok(r.status === 200 || (p === '/pad/no-such-page.html' && r.status === 404), `${p}: ${short(r)}`);
            assert.match(r.headers['content-type'] || '', /^(text\/html|text\/javascript|application\/javascript)/, `${p} is HTML or JS`);
            assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp', p);
            assert.equal(r.headers['cross-origin-resource-policy'], 'cross-origin', p);
            assert.equal(r.headers['access-control-allow-origin'], acao, p);
            assert.equal(r.headers['x-content-type-options'], 'nosniff', p);
        }
    });

    it('§8.69 a ?ver= suffix gives Cache-Control: max-age=31536000; otherwise no-cache', async (t) => {
        if (needsHttp(t, srv)) { return; }
        for (const [p, cc] of [['/common/boot.js?ver=1.0', 'max-age=31536000'], ['/common/boot.js', 'no-cache'],
            ['/pad/inner.html?foo=1&ver=2026.2.2-1', 'max-age=31536000'], ['/pad/inner.html', 'no-cache'],
            ['/common/boot.js?x=1', 'no-cache']]) {
            const r = await request(srv.http, 'GET', p);
            assert.equal(r.status, 200, `${p}: ${short(r)}`);
            assert.equal(r.headers['cache-control'], cc, p);
        }
    });

    it('§8.70 /extensions.js eventually returns 200 text/javascript (directly, or after a 301 to /extensions.js/)', async (t) => {
        if (needsHttp(t, srv)) { return; }
        let r = await request(srv.http, 'GET', '/extensions.js');
        if (r.status === 301) {
            assert.match(r.headers.location, /\/extensions\.js\/$/);
            r = await request(srv.http, 'GET', '/extensions.js/');
        }
        assert.equal(r.status, 200, short(r));
        assert.match(r.headers['content-type'], /^(text|application)\/javascript/);
        assert.match(r.text, /define\(/);
    });

    it('§8.71 /api/updatequota → 404 when there is no accounts_api', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const r = await request(srv.http, 'GET', '/api/updatequota');
        assert.equal(r.status, 404, short(r));
    });

    it('§8.72 /datastore/<xx>/<id>.ndjson: GET → 403, HEAD → 200 with Content-Length', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const c = await RawClient.connect(srv.url);
        try {
            const ch = chan32();
            await createChannel(c, ch, {});
            assert.equal((await c.msg(ch, 'datastore head')).at(1), 'ACK');
            const url = `/datastore/${ch.slice(0, 2)}/${ch}.ndjson`;
            const g = await request(srv.http, 'GET', url);
            assert.equal(g.status, 403, short(g));
            assert.ok(!g.text.includes('datastore head'), 'no content');
            const h = await request(srv.http, 'HEAD', url);
            assert.equal(h.status, 200);
            assert.ok(Number(h.headers['content-length']) > 0, JSON.stringify(h.headers));
            if (srv.dataDir) {
                assert.equal(Number(h.headers['content-length']), fs.statSync(chanFile(srv.dataDir, ch)).size);
            }
            assert.equal(h.body.length, 0);
        } finally { c.close(); }
    });

    it('§8.73 no RPC argument shape (null, numbers, strings, nested objects) crashes the server or goes unanswered (DESTROY excepted)', { timeout: 170000 }, async (t) => {
        if (skipOnReference(t, 'not reference behaviour: the reference crashes (Q9) or stays silent (Q10) on some shapes')) { return; }
        const kp = keyPair();
        const r = await Rpc.open(srv, kp);
        const admin = await Rpc.open(srv, ADMIN_KP);
        const missing = [];
        try {
            await r.getCookie();
            const owned = chan32();
            await createChannel(r.c, owned, { owners: [pub(kp)] });
            const deep = (n) => (n === 0 ? [] : [deep(n - 1)]);
            const shapes = [
                null, 0, -1, 1.5, 1e300, 2 ** 53 + 2, '', 'x', 'a'.repeat(300), owned, blobId(), true, false,
                [], [null], [1, 2], ['x'], [owned], [owned, null], [[owned]], [{}], deep(40),
                {}, { channel: null }, { channel: 5 }, { channel: owned }, { channel: owned, command: [], value: {} },
                { channel: owned, hash: {} }, { channel: owned, hash: 'x'.repeat(64) }, { channel: owned, reason: {} },
                { id: null, size: 'big' }, { id: blobId(), size: -5 }, { id: blobId(), size: 1e300 }, { size: null },
                { chunk: 5, id: {} }, { token: 5, edPublic: [] }, { a: { b: { c: [1, { d: null }] } } },
                { channel: owned, hash: 5, proof: [] },
            ];
            const metaCommands = ['ADD_OWNERS', 'RM_OWNERS', 'RESET_OWNERS', 'ADD_PENDING_OWNERS', 'RM_PENDING_OWNERS',
                'RESTRICT_ACCESS', 'ADD_ALLOWED', 'RM_ALLOWED', 'RESET_ALLOWED', 'ADD_MAILBOX', 'RM_MAILBOX',
                'ALLOW_LINE_DELETION', 'UPDATE_EXPIRATION', 'NOPE'];
            const metaShapes = [];
            for (const command of metaCommands) {
                for (const value of [null, 5, 'x', {}, [null], [5], [{}], { a: 1 }, [[]]]) { metaShapes.push({ channel: owned, command, value }); }
            }
            const anonCmds = ['GET_FILE_SIZE', 'GET_MULTIPLE_FILE_SIZE', 'GET_DELETED_PADS', 'IS_CHANNEL_PINNED', 'IS_NEW_CHANNEL',
                'WRITE_PRIVATE_MESSAGE', 'DELETE_MAILBOX_MESSAGE', 'GET_METADATA', 'IS_PREMIUM', 'ADD_FIRST_ADMIN'];
            const signedCmds = ['COOKIE', 'PIN', 'UNPIN', 'RESET', 'GET_HASH', 'GET_TOTAL_SIZE', 'GET_LIMIT', 'UPDATE_LIMITS',
                'TRIM_PINS', 'CLEAR_OWNED_CHANNEL', 'TRIM_HISTORY', 'SET_METADATA', 'UPLOAD_STATUS', 'UPLOAD_CANCEL',
                'UPLOAD_COMPLETE', 'OWNED_UPLOAD_COMPLETE', 'ADMIN', 'EXPIRE_SESSION', 'REMOVE_PINS', 'REMOVE_OWNED_CHANNEL'];

            // send a batch of requests, then wait for every reply (pipelined: a silent server costs one timeout per batch)
            const batch = async (client, requests, label) => {
                const pending = requests.map((req) => {
                    const tid = txid('rb');
                    client.c.request('MSG', client.hk, JSON.stringify([tid, req]));
                    return { tid, req };
                });
                const deadline = Date.now() + 8000;
                for (const p of pending) {
                    try {
                        await client.c.waitHk((b) => Array.isArray(b) && b[0] === p.tid, Math.max(1, deadline - Date.now()), p.tid);
                    } catch (e) {
                        missing.push(`${label}: ${JSON.stringify(p.req).slice(0, 160)}`);
                    }
                }
                assert.ok(srv.alive(), `server alive after ${label}`);
            };

            for (const cmd of anonCmds) { await batch(r, shapes.map((s) => [cmd, s]), cmd); }
            // wrong envelope shapes and lengths
            await batch(r, [null, 5, 'x', {}, [], [[]], [null, null], ['GET_FILE_SIZE'], ['GET_FILE_SIZE', owned, 1],
                [5, pub(kp), r.cookie, 'GET_LIMIT', null], [null, pub(kp), r.cookie, 'GET_LIMIT', null],
                ['sig', 5, r.cookie, 'GET_LIMIT', null], ['sig', 'short', r.cookie, 'COOKIE', ''],
                [r.envelope('GET_LIMIT', null)[0], pub(kp), 5, 'GET_LIMIT', null],
                [r.envelope('GET_LIMIT', null)[0], pub(kp), r.cookie, 5, null],
                [r.envelope('GET_LIMIT', null)[0], pub(kp), r.cookie, null, null],
                [null, pub(kp), r.cookie, 'UPLOAD', null], [null, pub(kp), r.cookie, 'UPLOAD', { chunk: 5 }],
                [null, pub(kp), r.cookie, 'UPLOAD', { chunk: '!!!notbase64' }]], 'envelopes');
            for (const cmd of signedCmds) {
                const list = cmd === 'SET_METADATA' ? shapes.concat(metaShapes) : shapes;
                // session-ending commands one at a time, with a fresh cookie each time
                if (cmd === 'EXPIRE_SESSION' || cmd === 'REMOVE_PINS') {
                    for (const s of list.slice(0, 6)) { await r.getCookie(); await batch(r, [r.envelope(cmd, s)], cmd); }
                    continue;
                }
                await r.getCookie();
                await batch(r, list.map((s) => r.envelope(cmd, s)), cmd);
            }
            // ADMIN with the administrator's key: malformed arguments of read-only commands and decrees
            await admin.getCookie();
            const adminArgs = [null, 5, 'x', {}, [], [null], [5], ['NOPE'], ['ADMIN_DECREE'], ['ADMIN_DECREE', null],
                ['ADMIN_DECREE', [null]], ['ADMIN_DECREE', ['SET_QUOTA', null]], ['ADMIN_DECREE', ['SET_QUOTA', [5, null]]],
                ['ADMIN_DECREE', ['NOPE', []]], ['GET_PIN_LIST', null], ['GET_PIN_LIST', [5]], ['GET_METADATA_HISTORY', {}],
                ['GET_USER_QUOTA', null], ['GET_DOCUMENT_STATUS', [null]], ['GET_CACHED_CHANNEL_METADATA', 5],
                ['GET_USER_STORAGE_STATS', [{}]], ['IS_USER_ONLINE', [null]], ['ARCHIVE_DOCUMENT', [5]],
                ['RESTORE_ARCHIVED_DOCUMENT', {}], ['GET_ACCOUNT_ARCHIVE_STATUS', [null]], ['DISK_USAGE', [[]]]];
            await batch(admin, adminArgs.map((a) => admin.envelope('ADMIN', a)), 'ADMIN (admin key)');
            assert.deepEqual(missing, [], `${missing.length} requests without a reply:\n${missing.slice(0, 40).join('\n')}`);
            await assertServerHealthy(srv.url, assert);
        } finally { r.close(); admin.close(); }
    });
});
