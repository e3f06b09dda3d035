'use strict';
// Helpers for the SERVER-API.md §8 checklist (test/api-*.test.js): the server under test with
// its HTTP base URL, a signed-RPC session (§1.3-§1.8, §1.11), the HTTP challenge commands of
// /api/auth (§3.7), login blocks (§6), chunked uploads (§3.6), TOTP codes (RFC 6238) and
// data-dir lookups that accept both blindpad's and the reference's layout.
//
// Environment (in addition to lib/server.js):
//   CONFORMANCE_HTTP_URL  HTTP base of the external server (e.g. http://127.0.0.1:23000);
//                         without it the HTTP items skip against an external server. A server
//                         started by the suite serves HTTP on its WebSocket port.
//   CONFORMANCE_ADMIN=1   the external server lists ADMIN_KEY (below) in its adminKeys, so the
//                         items that need a decree (SET_QUOTA, RESTRICT_REGISTRATION) run there.

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { startServer, EXTERNAL, IS_REFERENCE } = require('./server');
const { RawClient, chan32, chan34, nacl, naclUtil, sleep } = require('./client');

const HTTP_URL = (process.env.CONFORMANCE_HTTP_URL || '').replace(/\/+$/, '');
const EXTERNAL_ADMIN = process.env.CONFORMANCE_ADMIN === '1';
const TIMEOUT = 5000;

// The suite's administrator: a fixed key, so that an external server can list it in its
// configuration (reference: adminKeys: ["[conformance@localhost/<ADMIN_KEY with / -> ->]"]).
const ADMIN_KP = nacl.sign.keyPair.fromSeed(crypto.createHash('sha256').update('blindpad-conformance-admin').digest());
const ADMIN_KEY = naclUtil.encodeBase64(ADMIN_KP.publicKey);

const b64 = (u8) => Buffer.from(u8).toString('base64');
const pub = (kp) => b64(kp.publicKey);
const keyPair = () => nacl.sign.keyPair();
const safeKey = (k) => k.replace(/\//g, '-');
const sha512b64 = (s) => b64(nacl.hash(Buffer.from(s, 'utf8')));
// GET_HASH of a pin set (§2.3): base64(SHA-512(JSON.stringify(sorted unique ids)))
const pinHash = (ids) => sha512b64(JSON.stringify([...new Set(ids)].sort()));
const EMPTY_PIN_HASH = 'slspTLTetp6gCkw88xE5BIAbYBXllWvQGahXCx/h1gQOlE7zze4W0KRlA8puZZol8hz5zt3BPzUqPJgTjBXWrw==';
const blobId = () => crypto.randomBytes(24).toString('hex');
const txid = (tag = 't') => `${tag}-${crypto.randomBytes(6).toString('hex')}`;

/**
 * Start the server for one api-*.test.js file. A blindpad started by the suite always lists
 * ADMIN_KEY as administrator (--admin-keys), plus opts.args. External: the running server.
 * Returns lib/server.js's object plus {http: base URL or null, hasAdmin}.
 */
async function startApiServer(opts = {}) {
    const args = EXTERNAL ? [] : ['--admin-keys', ADMIN_KEY, ...(opts.args || [])];
    const srv = await startServer({ name: opts.name || 'api', args, dataDir: opts.dataDir });
    decorate(srv);
    return srv;
}

function decorate(srv) {
    srv.http = srv.external ? (HTTP_URL || null) : `http://127.0.0.1:${srv.port}`;
    srv.hasAdmin = srv.external ? EXTERNAL_ADMIN : true;
    return srv;
}

// t.skip helpers; each returns true when the test must stop
function needsHttp(t, srv) {
    if (!srv.http) { t.skip('HTTP base of the external server unknown (set CONFORMANCE_HTTP_URL)'); return true; }
    return false;
}
function needsData(t, srv) {
    if (!srv.dataDir) { t.skip('data dir of the external server unknown (set CONFORMANCE_DATA_DIR)'); return true; }
    return false;
}
function needsAdmin(t, srv) {
    if (!srv.hasAdmin) { t.skip('the external server does not list the suite\'s admin key (set CONFORMANCE_ADMIN=1 after adding it to adminKeys)'); return true; }
    return false;
}
function skipOnReference(t, why) {
    if (IS_REFERENCE) { t.skip(`not run on the reference: ${why}`); return true; }
    return false;
}

// ---------------------------------------------------------------------------------------------
// RPC over Netflux

/**
 * One WebSocket with the history keeper found by JOINing "0"x34 (§1.2), and optionally a
 * signing key with its cookie.
 */
class Rpc {
    constructor(client, kp) {
        this.c = client;
        this.kp = kp || null;
        this.cookie = null;
    }

    static async open(srv, kp) {
        const c = await RawClient.connect(srv.url);
        const r = await c.join('0'.repeat(34));
        if (!r.hk) { c.close(); throw new Error('no 16-char history keeper in the member list of "0"x34'); }
        await c.leave('0'.repeat(34));
        return new Rpc(c, kp);
    }

    get hk() { return this.c.hk; }
    close() { this.c.close(); }

    /**
     * Send the payload string to the HK. Resolves {ack, body, frames}: ack = the [seq,...] reply
     * (null if none within ackTimeout), body = the parsed HK reply whose element 0 is tid (null if
     * none within timeout; not waited for when the ACK is missing).
     */
    async sendPayload(payloadString, tid, { timeout = TIMEOUT, ackTimeout } = {}) {
        const s = this.c.request('MSG', this.c.hk, payloadString);
        let ack = null;
        try { ack = await this.c.reply(s, ackTimeout || timeout); } catch (e) { return { ack: null, body: null }; }
        if (ack[1] !== 'ACK' || tid === undefined) { return { ack, body: null }; }
        try {
            const { body } = await this.c.waitHk((b) => Array.isArray(b) && b[0] === tid, timeout, `RPC reply ${tid}`);
            return { ack, body };
        } catch (e) {
            return { ack, body: null };
        }
    }

    // request (the element after the txid) → the HK reply array, or null on timeout
    async raw(request, opts = {}) {
        const tid = opts.txid || txid();
        const { ack, body } = await this.sendPayload(JSON.stringify([tid, request]), tid, opts);
        if (!ack) { throw new Error(`no ACK for ${JSON.stringify(request).slice(0, 200)}`); }
        if (ack[1] !== 'ACK') { throw new Error(`refused: ${JSON.stringify(ack)}`); }
        if (body === null && !opts.allowNoReply) { throw new Error(`no reply to ${JSON.stringify(request).slice(0, 200)} within ${opts.timeout || TIMEOUT} ms`); }
        return body;
    }

    anon(cmd, arg, opts) { return this.raw([cmd, arg === undefined ? null : arg], opts); }

    // the five-element envelope signed over JSON.stringify([cookie, cmd, arg]) (§1.5)
    envelope(cmd, arg, { cookie = this.cookie, kp = this.kp, signOver } = {}) {
        const a = arg === undefined ? null : arg;
        const signed = signOver !== undefined ? signOver : JSON.stringify([cookie, cmd, a]);
        const sig = b64(nacl.sign.detached(Buffer.from(signed, 'utf8'), kp.secretKey));
        return [sig, pub(kp), cookie, cmd, a];
    }

    /**
     * Signed call with the current cookie. Updates this.cookie from any reply whose element 1
     * contains "|". opts.retry: on NO_COOKIE get a new cookie and resend once under a new txid
     * (the client's rule, §1.11).
     */
    async signed(cmd, arg, opts = {}) {
        if (this.cookie === null && cmd !== 'COOKIE' && !opts.noAutoCookie) { await this.getCookie(); }
        let body = await this.raw(this.envelope(cmd, arg, opts), opts);
        if (opts.retry && body && body[1] === 'ERROR' && body[2] === 'NO_COOKIE') {
            await this.getCookie();
            body = await this.raw(this.envelope(cmd, arg, { ...opts, cookie: this.cookie }), { ...opts, txid: undefined });
        }
        if (body && typeof body[1] === 'string' && body[1].includes('|')) { this.cookie = body[1]; }
        return body;
    }

    async getCookie() {
        const body = await this.raw(this.envelope('COOKIE', '', { cookie: this.cookie }));
        if (!Array.isArray(body) || typeof body[1] !== 'string' || !body[1].includes('|')) {
            throw new Error(`COOKIE failed: ${JSON.stringify(body)}`);
        }
        this.cookie = body[1];
        return this.cookie;
    }

    // signed call that must succeed: returns the values after [txid, cookie]
    async ok(cmd, arg, opts) {
        const body = await this.signed(cmd, arg, opts);
        if (!Array.isArray(body) || body[1] === 'ERROR') {
            throw new Error(`${cmd} ${JSON.stringify(arg).slice(0, 200)} failed: ${JSON.stringify(body)}`);
        }
        return body.slice(2);
    }

    // ADMIN ["ADMIN_DECREE", [name, args]] with the suite's admin key on this connection
    async decree(name, args) {
        const admin = new Rpc(this.c, ADMIN_KP);
        const body = await admin.signed('ADMIN', ['ADMIN_DECREE', [name, args]]);
        if (!Array.isArray(body) || body[1] === 'ERROR') { throw new Error(`decree ${name} failed: ${JSON.stringify(body)}`); }
        return body;
    }
}

// Netflux-level channel creation (JOIN + GET_HISTORY with metadata), as lib/04-access does.
async function createChannel(c, ch, metadata) {
    await c.join(ch);
    const h = await c.getHistory(ch, { txid: 'create-' + ch.slice(0, 6), metadata });
    if (!h.end) { throw new Error(`channel not created: ${JSON.stringify(h.bodies).slice(0, 300)}`); }
    // the reference writes the metadata asynchronously after the end marker
    if (IS_REFERENCE) { await sleep(250); }
    return h.metadata[0];
}

// ---------------------------------------------------------------------------------------------
// HTTP

/**
 * request(base, method, path, {headers, body}) → {status, headers (lower-case), body (Buffer),
 * text, json (parsed or undefined)}. No redirects are followed; nothing is decompressed.
 */
function request(base, method, p, { headers = {}, body, timeout = 10000 } = {}) {
    const u = new URL(p, base + '/');
    return new Promise((resolve, reject) => {
        const data = body === undefined ? null : (Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
        const h = { ...headers };
        if (data && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) { h['Content-Type'] = 'application/json'; }
        if (data) { h['Content-Length'] = data.length; }
        const req = http.request({ host: u.hostname, port: u.port, method, path: u.pathname + u.search, headers: h, agent: false }, (res) => {
            const chunks = [];
            res.on('data', (x) => chunks.push(x));
            res.on('end', () => {
                const buf = Buffer.concat(chunks);
                const text = buf.toString('utf8');
                let json;
                try { json = text.length ? JSON.parse(text) : undefined; } catch (e) { json = undefined; }
                resolve({ status: res.statusCode, headers: res.headers, body: buf, text, json });
            });
            res.on('error', reject);
        });
        req.setTimeout(timeout, () => req.destroy(new Error(`HTTP ${method} ${p}: timeout`)));
        req.on('error', reject);
        if (data) { req.write(data); }
        req.end();
    });
}

// the JSON inside a define(function(){;\nreturn {...};\n}); body: slice [27, -5] (§3.3)
function sliceConfig(text) { return JSON.parse(text.slice(27, -5)); }
async function getConfig(base) {
    const r = await request(base, 'GET', '/api/config');
    if (r.status !== 200) { throw new Error(`/api/config: ${r.status}`); }
    return sliceConfig(r.text);
}

// /api/config when it answers, else null: for items that only use it to learn a setting
async function tryConfig(base) {
    try { return await getConfig(base); } catch (e) { return null; }
}

// The sandbox origin that ACAO must name: from /api/config, else blindpad's default for a
// server started by the suite (http://localhost:<port+1>, --sandbox-origin unset)
async function safeOrigin(srv) {
    const cfg = srv.http ? await tryConfig(srv.http) : null;
    if (cfg) { return cfg.enableEmbedding ? '*' : cfg.httpSafeOrigin; }
    if (!srv.external) { return `http://localhost:${srv.port + 1}`; }
    throw new Error('the safe origin is unknown (/api/config does not answer)');
}

const short = (r) => `${r.status} ${r.text.slice(0, 300)}`;

/**
 * The two-stage /api/auth command (§3.7). stage 1 = {command, ...params, publicKey, nonce};
 * stage 2 = {sig, txid} with sig over JSON.stringify({...stage1, txid, date}).
 *   opts.signOver(stage1Text, challenge) → the string to sign instead (item 61)
 *   opts.stage2Extra: extra keys in the stage-2 body (item 60)
 *   opts.txid: answer this txid instead (item 60)
 *   opts.kp: sign stage 2 with this key instead
 * Returns {s1, s2 (undefined when stage 1 failed), stage1Body, challenge}.
 */
async function authCommand(base, kp, command, params = {}, opts = {}) {
    const stage1Body = { command, ...params, publicKey: pub(kp), nonce: b64(crypto.randomBytes(24)) };
    const s1text = JSON.stringify(stage1Body);
    const s1 = await request(base, 'POST', '/api/auth/', { body: s1text });
    if (s1.status !== 200 || !s1.json || !s1.json.txid) { return { s1, stage1Body }; }
    const challenge = s1.json;
    const toSign = opts.signOver ? opts.signOver(s1text, challenge)
        : JSON.stringify({ ...stage1Body, txid: challenge.txid, date: challenge.date });
    const sig = b64(nacl.sign.detached(Buffer.from(toSign, 'utf8'), (opts.kp || kp).secretKey));
    const s2Body = { sig, txid: opts.txid || challenge.txid, ...(opts.stage2Extra || {}) };
    const s2 = await request(base, 'POST', '/api/auth/', { body: s2Body });
    return { s1, s2, stage1Body, challenge, s2Body };
}

// ---------------------------------------------------------------------------------------------
// Login blocks (§6)

// block bytes = 0x00 | nonce(24) | secretbox(...); the server only sees opaque bytes
function makeBlock(blockKp, { badSignature = false } = {}) {
    const symKey = crypto.randomBytes(32);
    const nonce = crypto.randomBytes(24);
    const plain = Buffer.from(JSON.stringify({ User_hash: 'conformance', edPublic: pub(keyPair()) }), 'utf8');
    const box = nacl.secretbox(plain, nonce, symKey);
    const bytes = Buffer.concat([Buffer.from([0]), nonce, Buffer.from(box)]);
    const signer = badSignature ? keyPair() : blockKp;
    const signature = b64(nacl.sign.detached(nacl.hash(bytes), signer.secretKey));
    return { bytes, content: { publicKey: pub(blockKp), signature, ciphertext: bytes.toString('base64') } };
}

const blockPath = (blockKp) => { const k = safeKey(pub(blockKp)); return `/block/${k.slice(0, 2)}/${k}`; };

async function writeBlock(base, blockKp, extraContent = {}, opts = {}) {
    const blk = makeBlock(blockKp, opts);
    const res = await authCommand(base, blockKp, 'WRITE_BLOCK', { content: { ...blk.content, ...extraContent } });
    return { ...res, block: blk };
}

// registrationProof for an existing block key: JSON string [oldKey, sig of the 32 raw key bytes]
function registrationProof(oldKp) {
    return JSON.stringify([pub(oldKp), b64(nacl.sign.detached(oldKp.publicKey, oldKp.secretKey))]);
}

// ---------------------------------------------------------------------------------------------
// TOTP (RFC 4226/6238, HMAC-SHA1, 30 s, 6 digits) and base32 (RFC 4648, no padding)

function base32(buf) {
    const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let bits = 0; let value = 0; let out = '';
    for (const byte of buf) {
        value = (value << 8) | byte; bits += 8;
        while (bits >= 5) { out += A[(value >>> (bits - 5)) & 31]; bits -= 5; }
    }
    if (bits > 0) { out += A[(value << (5 - bits)) & 31]; }
    return out;
}

function totp(secret, when = Date.now()) {
    const counter = Math.floor(when / 30000);
    const msg = Buffer.alloc(8);
    msg.writeUInt32BE(Math.floor(counter / 0x100000000), 0);
    msg.writeUInt32BE(counter >>> 0, 4);
    const h = crypto.createHmac('sha1', secret).update(msg).digest();
    const off = h[h.length - 1] & 0xf;
    const code = ((h[off] & 0x7f) << 24 | h[off + 1] << 16 | h[off + 2] << 8 | h[off + 3]) % 1000000;
    return String(code).padStart(6, '0');
}

// ---------------------------------------------------------------------------------------------
// Uploads (§2.7, §3.6)

async function uploadCookie(base, kp) {
    const r = await authCommand(base, kp, 'UPLOAD_COOKIE', { id: blobId() });
    if (!r.s2 || r.s2.status !== 200 || !r.s2.json || typeof r.s2.json.cookie !== 'string') {
        throw new Error(`UPLOAD_COOKIE failed: stage1 ${short(r.s1)}${r.s2 ? `; stage2 ${short(r.s2)}` : ''}`);
    }
    return r.s2.json.cookie;
}

// POST /upload-blob/<xx>/<id>; sig = nacl.sign(utf8(cookie), secretKey) (combined), base64
function uploadChunk(base, kp, cookie, bytes, { id = blobId(), edPublic = pub(kp) } = {}) {
    const sig = b64(nacl.sign(Buffer.from(cookie, 'utf8'), kp.secretKey));
    return request(base, 'POST', `/upload-blob/${id.slice(0, 2)}/${id}`, {
        body: { chunk: Buffer.from(bytes).toString('base64'), sig, edPublic },
    });
}

/**
 * A whole upload as the client does it: UPLOAD_STATUS, UPLOAD_COOKIE, chunks,
 * (OWNED_)UPLOAD_COMPLETE. Returns {id, bytes, completeReply}.
 */
async function uploadBlob(rpc, base, bytes, { owned = true, chunkSize = 65536 } = {}) {
    const id = blobId();
    const st = await rpc.signed('UPLOAD_STATUS', { id, size: bytes.length });
    if (st[1] === 'ERROR' || st[2] !== false) { throw new Error(`UPLOAD_STATUS: ${JSON.stringify(st)}`); }
    let cookie = await uploadCookie(base, rpc.kp);
    for (let off = 0; off < bytes.length; off += chunkSize) {
        const r = await uploadChunk(base, rpc.kp, cookie, bytes.subarray(off, off + chunkSize), { id });
        if (r.status !== 200 || !r.json || !r.json.cookie) { throw new Error(`upload-blob: ${short(r)}`); }
        cookie = r.json.cookie;
    }
    const done = await rpc.signed(owned ? 'OWNED_UPLOAD_COMPLETE' : 'UPLOAD_COMPLETE', id);
    if (done[1] === 'ERROR') { throw new Error(`UPLOAD_COMPLETE: ${JSON.stringify(done)}`); }
    if (IS_REFERENCE && !owned) { await sleep(100); } // the reference replies before the rename (Q7)
    return { id, bytes, completeReply: done };
}

// ---------------------------------------------------------------------------------------------
// Data directory (blindpad: pins/, tasks/ ... under --data; reference: data/pins, data/tasks ...)

function findPath(dataDir, candidates) {
    for (const c of candidates) {
        const p = path.join(dataDir, c);
        if (fs.existsSync(p)) { return p; }
    }
    return null;
}
const pinLogCandidates = (key) => { const s = safeKey(key); return [`pins/${s.slice(0, 2)}/${s}.ndjson`, `data/pins/${s.slice(0, 2)}/${s}.ndjson`]; };
const archivedPinCandidates = (key) => { const s = safeKey(key); return [`data/archive/pins/${s.slice(0, 2)}/${s}.ndjson`, `archive/pins/${s.slice(0, 2)}/${s}.ndjson`]; };
const chanFile = (dataDir, ch, suffix = '.ndjson') => path.join(dataDir, 'datastore', ch.slice(0, 2), ch + suffix);
const readLines = (p) => fs.readFileSync(p, 'utf8').split('\n').filter((l) => l.length > 0);

// The directories that may hold tasks/<day>/<id>.ndjson
function taskFiles(dataDir) {
    const out = [];
    for (const root of ['data/tasks', 'tasks']) {
        const r = path.join(dataDir, root);
        if (!fs.existsSync(r)) { continue; }
        for (const day of fs.readdirSync(r)) {
            const d = path.join(r, day);
            if (!fs.statSync(d).isDirectory()) { continue; }
            for (const f of fs.readdirSync(d)) { out.push({ day, file: path.join(d, f) }); }
        }
    }
    return out;
}

// A minimal client tree (www/, customize.dist/) for the HTTP-surface items on a blindpad
// started by the suite; the reference serves its own.
function makeWebRoot() {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'blindpad-conf-webroot-'));
    const put = (rel, text) => { const p = path.join(root, rel); fs.mkdirSync(path.dirname(p), { recursive: true }); fs.writeFileSync(p, text); };
    const html = (t) => `<!DOCTYPE html>\n<html><head><title>${t}</title></head><body>${t}</body></html>\n`;
    put('www/pad/inner.html', html('pad inner'));
    put('www/pad/index.html', html('pad'));
    put('www/sheet/inner.html', html('sheet inner'));
    put('www/common/boot.js', '// boot\n');
    put('customize.dist/index.html', html('index'));
    put('customize.dist/404.html', html('404'));
    put('customize.dist/pre-loading.js', '// pre-loading\n');
    return root;
}

module.exports = {
    ADMIN_KP, ADMIN_KEY, HTTP_URL, EXTERNAL, IS_REFERENCE, TIMEOUT,
    startApiServer, decorate, needsHttp, needsData, needsAdmin, skipOnReference,
    Rpc, createChannel, RawClient, chan32, chan34, sleep,
    request, sliceConfig, getConfig, tryConfig, safeOrigin, short, authCommand,
    makeBlock, blockPath, writeBlock, registrationProof,
    base32, totp, uploadCookie, uploadChunk, uploadBlob,
    findPath, pinLogCandidates, archivedPinCandidates, chanFile, readLines, taskFiles, makeWebRoot,
    b64, pub, keyPair, safeKey, sha512b64, pinHash, EMPTY_PIN_HASH, blobId, txid, nacl, naclUtil,
};
