'use strict';
// SERVER-API.md §8 items 46-56: uploads (§2.7), /upload-blob (§3.6), /blob (§3.5).
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const {
    startApiServer, Rpc, keyPair, pub, blobId, needsHttp, tryConfig, safeOrigin, request, short,
    uploadCookie, uploadChunk, uploadBlob, sleep, IS_REFERENCE,
} = require('../lib/api');

let srv;
before(async () => { srv = await startApiServer({ name: 'api-uploads' }); });
after(async () => { if (srv) { await srv.stop(); } });

const rpc = (kp = keyPair()) => Rpc.open(srv, kp);
const blobUrl = (id) => `/blob/${id.slice(0, 2)}/${id}`;

describe('§8 uploads', { concurrency: true }, () => {
    it('§8.46 UPLOAD_STATUS {size: maxUploadSize+1} → TOO_LARGE (no premium configured)', async () => {
        const r = await rpc();
        try {
            let max = 20971520; // the default (blindpad: no --max-upload-size)
            const cfg = srv.http ? await tryConfig(srv.http) : null;
            if (cfg) {
                assert.equal(cfg.premiumUploadSize, false, 'no premium upload size configured');
                max = cfg.maxUploadSize;
            }
            assert.deepEqual(await r.signed('UPLOAD_STATUS', { id: blobId(), size: max + 1 }, { txid: 't' }), ['t', 'ERROR', 'TOO_LARGE']);
            const ok = await r.signed('UPLOAD_STATUS', { id: blobId(), size: max }, { txid: 't2' });
            assert.deepEqual(ok.slice(2), [false], `exactly maxUploadSize is allowed: ${JSON.stringify(ok)}`);
        } finally { r.close(); }
    });

    it('§8.47 UPLOAD_STATUS {id,size:10} → false; after a chunk has been staged → true', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const r = await rpc();
        try {
            const id = blobId();
            const st = await r.signed('UPLOAD_STATUS', { id, size: 10 }, { txid: 't' });
            assert.equal(st[0], 't');
            assert.ok(st[1].includes('|'), JSON.stringify(st));
            assert.deepEqual(st.slice(2), [false]);
            const cookie = await uploadCookie(srv.http, r.kp);
            const up = await uploadChunk(srv.http, r.kp, cookie, crypto.randomBytes(10), { id });
            assert.equal(up.status, 200, short(up));
            assert.deepEqual(await r.signed('UPLOAD_STATUS', { id, size: 10 }, { txid: 't2' }), ['t2', r.cookie, true]);
            // the client's answer: cancel the staged upload, after which the status is false again
            const c = await r.signed('UPLOAD_CANCEL', { size: 10 });
            assert.equal(c.length, 2, JSON.stringify(c));
            assert.deepEqual((await r.signed('UPLOAD_STATUS', { id, size: 10 })).slice(2), [false]);
        } finally { r.close(); }
    });

    it('§8.48 /api/auth UPLOAD_COOKIE → {"cookie":"<32 hex>"}', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const kp = keyPair();
        const { authCommand } = require('../lib/api');
        const r = await authCommand(srv.http, kp, 'UPLOAD_COOKIE', { id: blobId() });
        assert.equal(r.s1.status, 200, short(r.s1));
        assert.match(r.s1.json.txid, /^[A-Za-z0-9+=-]{32}$/);
        assert.ok(!Number.isNaN(Date.parse(r.s1.json.date)), r.s1.json.date);
        assert.equal(r.s2.status, 200, short(r.s2));
        assert.deepEqual(Object.keys(r.s2.json), ['cookie']);
        assert.match(r.s2.json.cookie, /^[0-9a-f]{32}$/);
        // a new cookie each time
        assert.notEqual(await uploadCookie(srv.http, kp), r.s2.json.cookie);
    });

    it('§8.49 POST /upload-blob/xx/id with a valid signed cookie → 200 {"cookie":<new>}; old cookie → 403 INVALID_COOKIE; wrong key → 403 INVALID_KEY; GET → 403', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const r = await rpc();
        try {
            const id = blobId();
            await r.ok('UPLOAD_STATUS', { id, size: 100 });
            const c1 = await uploadCookie(srv.http, r.kp);
            const a = await uploadChunk(srv.http, r.kp, c1, crypto.randomBytes(50), { id });
            assert.equal(a.status, 200, short(a));
            assert.deepEqual(Object.keys(a.json), ['cookie']);
            assert.match(a.json.cookie, /^[0-9a-f]{32}$/);
            assert.notEqual(a.json.cookie, c1);
            const again = await uploadChunk(srv.http, r.kp, c1, crypto.randomBytes(50), { id });
            assert.equal(again.status, 403, short(again));
            assert.deepEqual(again.json, { error: 'INVALID_COOKIE' });
            // signed by another key, for our edPublic
            const wrong = await uploadChunk(srv.http, keyPair(), a.json.cookie, crypto.randomBytes(50), { id, edPublic: pub(r.kp) });
            assert.equal(wrong.status, 403, short(wrong));
            assert.deepEqual(wrong.json, { error: 'INVALID_KEY' });
            // the current cookie still works after the refusals
            const b = await uploadChunk(srv.http, r.kp, a.json.cookie, crypto.randomBytes(50), { id });
            assert.equal(b.status, 200, short(b));
            // (the reference answers the bare /upload-blob with a 301 to /upload-blob/, the
            // route-order quirk of §3.2 step 12, like /extensions.js in item 70)
            let get = await request(srv.http, 'GET', '/upload-blob');
            if (get.status === 301 && get.headers.location && /\/upload-blob\/$/.test(get.headers.location)) {
                get = await request(srv.http, 'GET', '/upload-blob/');
            }
            assert.equal(get.status, 403, short(get));
            const get2 = await request(srv.http, 'GET', `/upload-blob/${id.slice(0, 2)}/${id}`);
            assert.equal(get2.status, 403, short(get2));
            await r.ok('UPLOAD_CANCEL', { size: 100 });
        } finally { r.close(); }
    });

    it('§8.50 OWNED_UPLOAD_COMPLETE id → [t,cookie,id]; GET_FILE_SIZE id = the bytes uploaded; GET_METADATA id = {"owners":[key]}', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const r = await rpc();
        try {
            const bytes = crypto.randomBytes(3000);
            const id = blobId();
            await r.ok('UPLOAD_STATUS', { id, size: bytes.length });
            let cookie = await uploadCookie(srv.http, r.kp);
            for (const part of [bytes.subarray(0, 1000), bytes.subarray(1000)]) {
                const up = await uploadChunk(srv.http, r.kp, cookie, part, { id });
                assert.equal(up.status, 200, short(up));
                cookie = up.json.cookie;
            }
            const done = await r.signed('OWNED_UPLOAD_COMPLETE', id, { txid: 't' });
            assert.equal(done.length, 3, JSON.stringify(done));
            assert.equal(done[0], 't');
            assert.ok(done[1].includes('|'));
            assert.equal(done[2], id);
            assert.deepEqual(await r.anon('GET_FILE_SIZE', id, { txid: 's' }), ['s', null, bytes.length, null]);
            assert.deepEqual(await r.anon('GET_METADATA', id, { txid: 'm' }), ['m', null, { owners: [pub(r.kp)] }, null]);
            if (srv.dataDir) {
                const f = path.join(srv.dataDir, 'blob', id.slice(0, 2), id);
                assert.ok(fs.readFileSync(f).equals(bytes), 'blob/<xx>/<id> holds the bytes');
                assert.equal(fs.readFileSync(f + '.metadata.ndjson', 'utf8').trim(), JSON.stringify({ owners: [pub(r.kp)] }));
            }
            // the staging slot is free again
            assert.deepEqual((await r.signed('UPLOAD_STATUS', { id: blobId(), size: 10 })).slice(2), [false]);
        } finally { r.close(); }
    });

    it('§8.51 UPLOAD_COMPLETE on an existing id → RENAME_ERR; on "xyz" → INVALID_ID', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const r = await rpc();
        try {
            const first = await uploadBlob(r, srv.http, crypto.randomBytes(100), { owned: false });
            assert.deepEqual(first.completeReply.slice(2), [first.id]);
            // stage another upload and try to complete it under the same id
            await r.ok('UPLOAD_STATUS', { id: blobId(), size: 20 });
            const cookie = await uploadCookie(srv.http, r.kp);
            assert.equal((await uploadChunk(srv.http, r.kp, cookie, crypto.randomBytes(20))).status, 200);
            assert.deepEqual(await r.signed('UPLOAD_COMPLETE', first.id, { txid: 't' }), ['t', 'ERROR', 'RENAME_ERR']);
            assert.deepEqual(await r.signed('UPLOAD_COMPLETE', 'xyz', { txid: 't2' }), ['t2', 'ERROR', 'INVALID_ID']);
            assert.deepEqual(await r.anon('GET_FILE_SIZE', first.id, { txid: 's' }), ['s', null, 100, null], 'the first blob is intact');
            await r.signed('UPLOAD_CANCEL', { size: 20 });
        } finally { r.close(); }
    });

    it('§8.52 UPLOAD_CANCEL {size} with nothing staged → E_UNLINK', async () => {
        const r = await rpc();
        try {
            assert.deepEqual(await r.signed('UPLOAD_CANCEL', { size: 10 }, { txid: 't' }), ['t', 'ERROR', 'E_UNLINK']);
        } finally { r.close(); }
    });

    it('§8.53 GET /blob/xx/id → 200 application/octet-stream, exact bytes; Range: bytes=0-1 → 206, Content-Range: bytes 0-1/<n>', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const r = await rpc();
        try {
            const bytes = crypto.randomBytes(2500);
            const { id } = await uploadBlob(r, srv.http, bytes);
            const g = await request(srv.http, 'GET', blobUrl(id));
            assert.equal(g.status, 200, short(g));
            assert.match(g.headers['content-type'], /^application\/octet-stream/);
            assert.ok(g.body.equals(bytes), 'exact bytes');
            assert.equal(g.headers['accept-ranges'], 'bytes');
            assert.equal(g.headers['cache-control'], 'no-cache', 'blob URLs have no ?ver=');
            const p = await request(srv.http, 'GET', blobUrl(id), { headers: { Range: 'bytes=0-1' } });
            assert.equal(p.status, 206, short(p));
            assert.equal(p.headers['content-range'], `bytes 0-1/${bytes.length}`);
            assert.ok(p.body.equals(bytes.subarray(0, 2)));
            const p2 = await request(srv.http, 'GET', blobUrl(id), { headers: { Range: 'bytes=2-101' } });
            assert.equal(p2.status, 206);
            assert.equal(p2.headers['content-range'], `bytes 2-101/${bytes.length}`);
            assert.ok(p2.body.equals(bytes.subarray(2, 102)));
            const missing = await request(srv.http, 'GET', blobUrl(blobId()));
            assert.equal(missing.status, 404);
        } finally { r.close(); }
    });

    it('§8.54 HEAD /blob/xx/id → Content-Length, Access-Control-Expose-Headers: Content-Length; then blob/xx/id.activity exists', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const r = await rpc();
        try {
            const bytes = crypto.randomBytes(1234);
            const { id } = await uploadBlob(r, srv.http, bytes);
            const act = srv.dataDir && path.join(srv.dataDir, 'blob', id.slice(0, 2), `${id}.activity`);
            if (act && fs.existsSync(act)) { fs.unlinkSync(act); }
            const t0 = Date.now();
            const h = await request(srv.http, 'HEAD', blobUrl(id));
            assert.equal(h.status, 200);
            assert.equal(h.headers['content-length'], String(bytes.length));
            assert.equal(h.headers['access-control-expose-headers'], 'Content-Length');
            assert.equal(h.body.length, 0);
            if (act) {
                await sleep(IS_REFERENCE ? 200 : 50);
                assert.ok(fs.existsSync(act), `${act} exists`);
                const ms = Number(fs.readFileSync(act, 'utf8'));
                assert.ok(ms >= t0 - 2000 && ms <= Date.now() + 1000, `activity holds the time in ms: ${ms}`);
            } else {
                t.diagnostic('activity file not checked (no data dir)');
            }
        } finally { r.close(); }
    });

    it('§8.55 OPTIONS /blob/xx/id → 204 with the §3.5 CORS headers', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const o = await request(srv.http, 'OPTIONS', blobUrl(blobId()));
        assert.equal(o.status, 204);
        assert.equal(o.headers['access-control-allow-origin'], await safeOrigin(srv));
        assert.equal(o.headers['access-control-allow-methods'], 'GET, OPTIONS');
        assert.equal(o.headers['access-control-allow-headers'],
            'DNT,X-CustomHeader,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Content-Range,Range,Access-Control-Allow-Origin');
        assert.equal(o.headers['access-control-max-age'], '1728000');
        assert.equal(o.headers['content-type'], 'application/octet-stream; charset=utf-8');
        assert.equal(o.headers['content-length'], '0');
    });

    it('§8.56 REMOVE_OWNED_CHANNEL {channel:blobId, reason:"R"} by the owner → "OK"; then GET /blob → 404, GET_FILE_SIZE → {"code":"ENOENT","reason":"R"}', async (t) => {
        if (needsHttp(t, srv)) { return; }
        const r = await rpc();
        const other = await rpc();
        try {
            const { id } = await uploadBlob(r, srv.http, crypto.randomBytes(500));
            assert.deepEqual(await other.signed('REMOVE_OWNED_CHANNEL', { channel: id, reason: 'X' }, { txid: 'x' }), ['x', 'ERROR', 'INSUFFICIENT_PERMISSIONS']);
            const body = await r.signed('REMOVE_OWNED_CHANNEL', { channel: id, reason: 'R' }, { txid: 't' });
            assert.deepEqual(body.slice(2), ['OK'], JSON.stringify(body));
            const g = await request(srv.http, 'GET', blobUrl(id));
            assert.equal(g.status, 404, short(g));
            assert.deepEqual(await r.anon('GET_FILE_SIZE', id, { txid: 's' }), ['s', 'ERROR', { code: 'ENOENT', reason: 'R' }]);
            assert.deepEqual(await r.anon('GET_METADATA', id, { txid: 'm' }), ['m', null, {}, null]);
            if (srv.dataDir) {
                assert.equal(fs.readFileSync(path.join(srv.dataDir, 'blob', id.slice(0, 2), `${id}.placeholder`), 'utf8'), 'R');
            }
        } finally { r.close(); other.close(); }
    });
});
