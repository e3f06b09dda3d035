'use strict';
// Raw Netflux client over `ws`, and helpers for the history keeper and RPCs.

const crypto = require('node:crypto');
const WebSocket = require('ws');
const nacl = require('tweetnacl');
const naclUtil = require('tweetnacl-util');

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const DEFAULT_TIMEOUT = 5000;

const chan32 = () => crypto.randomBytes(16).toString('hex');
const chan34 = () => crypto.randomBytes(17).toString('hex');
const rand64 = (n) => crypto.randomBytes(n).toString('base64');
// content whose first 64 chars (its "hash") are unique: tag + random base64
const content = (tag = 'm') => `${tag}-${rand64(60)}`;
const hashOf = (s) => s.slice(0, 64);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const isServerPing = (m) => Array.isArray(m) && m[0] === 0 && m[1] === '' && m[2] === 'PING';

class RawClient {
    constructor(url, opts = {}) {
        this.url = url;
        this.opts = opts;
        this.frames = [];      // every parsed non-PING frame: {msg, raw, binary, t, used}
        this.pings = [];       // server PING frames {msg, t}
        this.bad = [];         // frames that did not parse
        this.waiters = [];
        this.seq = 1;
        this.id = null;
        this.hk = null;
        this.closed = null;    // {code, reason, t}
        this.closeWaiters = [];
        this.autoPong = opts.autoPong !== undefined ? opts.autoPong : true;
        this.openedAt = null;
    }

    static async connect(url, opts = {}) {
        const c = new RawClient(url, opts);
        await c._open();
        return c;
    }

    _open() {
        return new Promise((resolve, reject) => {
            const ws = new WebSocket(this.url, { perMessageDeflate: false, maxPayload: 0, ...this.opts.wsOptions });
            this.ws = ws;
            let settled = false;
            const timer = setTimeout(() => {
                if (!settled) { settled = true; reject(new Error('connect/IDENT timeout')); try { ws.terminate(); } catch (e) { /* */ } }
            }, this.opts.timeout || DEFAULT_TIMEOUT);
            ws.on('open', () => { this.openedAt = Date.now(); });
            ws.on('message', (data, isBinary) => {
                const raw = isBinary ? data : data.toString('utf8');
                let msg;
                try { msg = JSON.parse(raw.toString()); } catch (e) { this.bad.push({ raw, binary: isBinary }); return; }
                const t = Date.now();
                if (isServerPing(msg)) {
                    this.pings.push({ msg, t });
                    if (this.autoPong) { this.sendRaw(JSON.stringify([0, '', 'PONG', msg[3]])); }
                    return;
                }
                if (this.id === null && msg[0] === 0 && msg[2] === 'IDENT') {
                    this.id = msg[3];
                    this.identFrame = { msg, raw, binary: isBinary, t };
                    if (!settled) { settled = true; clearTimeout(timer); resolve(); }
                    return;
                }
                const f = { msg, raw, binary: isBinary, t, used: false };
                this.frames.push(f);
                this._notify();
            });
            ws.on('close', (code, reason) => {
                this.closed = { code, reason: reason.toString(), t: Date.now() };
                this.closeWaiters.forEach((w) => w(this.closed));
                this.closeWaiters = [];
                this._notify();
                if (!settled) { settled = true; clearTimeout(timer); reject(new Error(`closed before IDENT (code ${code})`)); }
            });
            ws.on('error', (err) => {
                this.error = err;
                if (!settled) { settled = true; clearTimeout(timer); reject(err); }
            });
        });
    }

    _notify() {
        const ws = this.waiters;
        this.waiters = [];
        ws.forEach((w) => w());
    }

    get isOpen() { return this.ws && this.ws.readyState === WebSocket.OPEN; }

    sendRaw(data, opts) {
        if (this.ws.readyState !== WebSocket.OPEN) { return false; }
        this.ws.send(data, opts);
        return true;
    }
    send(arr) { return this.sendRaw(JSON.stringify(arr)); }
    nextSeq() { return this.seq++; }
    // send [seq, ...rest]; returns seq
    request(...rest) {
        const s = this.nextSeq();
        this.send([s, ...rest]);
        return s;
    }

    // first unused frame matching pred (marks it used), waiting up to timeout ms
    waitFor(pred, timeout = DEFAULT_TIMEOUT, what = 'frame') {
        return new Promise((resolve, reject) => {
            const deadline = Date.now() + timeout;
            let timer = null;
            const check = () => {
                const f = this.frames.find((x) => !x.used && safePred(pred, x.msg));
                if (f) { f.used = true; clearTimeout(timer); return resolve(f.msg); }
                if (this.closed && !this.opts.waitAfterClose) {
                    clearTimeout(timer);
                    return reject(new Error(`${what}: connection closed (code ${this.closed.code}) while waiting; recent: ${this.recent()}`));
                }
                this.waiters.push(check);
            };
            timer = setTimeout(() => {
                const i = this.waiters.indexOf(check);
                if (i !== -1) { this.waiters.splice(i, 1); }
                reject(new Error(`timeout (${timeout} ms) waiting for ${what}; recent frames: ${this.recent()}`));
            }, Math.max(0, deadline - Date.now()));
            check();
        });
    }

    // frames (unused, matching) received so far, without consuming them
    peek(pred = () => true) { return this.frames.filter((x) => !x.used && safePred(pred, x.msg)).map((x) => x.msg); }
    all(pred = () => true) { return this.frames.filter((x) => safePred(pred, x.msg)).map((x) => x.msg); }
    // consume all frames received so far
    drain() { this.frames.forEach((f) => { f.used = true; }); }
    mark() { return this.frames.length; }
    since(mark, pred = () => true) { return this.frames.slice(mark).filter((x) => safePred(pred, x.msg)).map((x) => x.msg); }

    recent(n = 6) {
        return this.frames.slice(-n).map((f) => truncate(f.raw.toString(), 300)).join(' | ');
    }

    // wait ms, then return unused frames matching pred (consuming them)
    async collect(pred, ms) {
        await sleep(ms);
        const out = this.frames.filter((x) => !x.used && safePred(pred, x.msg));
        out.forEach((f) => { f.used = true; });
        return out.map((f) => f.msg);
    }

    reply(seq, timeout) {
        return this.waitFor((m) => m[0] === seq && m[0] !== 0, timeout, `reply to seq ${JSON.stringify(seq)}`);
    }

    async ping(timeout) {
        const s = this.request('PING');
        const r = await this.reply(s, timeout);
        return r;
    }

    // JOIN and wait until our own JOIN arrives; returns {reply, frames, hk, members}
    async join(chan, timeout = DEFAULT_TIMEOUT) {
        const mark = this.mark();
        const s = this.request('JOIN', chan);
        const first = await this.reply(s, timeout);
        if (first[1] === 'ERROR' && first[2] !== 'EJOINED') {
            const e = new Error(`JOIN refused: ${JSON.stringify(first)}`);
            e.reply = first;
            throw e;
        }
        const c = first[1] === 'JACK' ? first[2] : chan;
        await this.waitFor((m) => m[0] === 0 && m[1] === this.id && m[2] === 'JOIN' && m[3] === c, timeout, `own JOIN of ${c}`);
        const frames = this.since(mark);
        const joins = frames.filter((m) => m[0] === 0 && m[2] === 'JOIN' && m[3] === c).map((m) => m[1]);
        const hk = joins.find((id) => typeof id === 'string' && id.length === 16);
        if (hk) { this.hk = hk; }
        // mark the membership frames of this join as used
        this.frames.slice(mark).forEach((f) => {
            if (f.msg[0] === 0 && f.msg[2] === 'JOIN' && f.msg[3] === c) { f.used = true; }
        });
        return { reply: first, frames, hk, members: joins.filter((id) => id !== hk), chan: c };
    }

    // channel MSG; resolves with the reply ([seq,"ACK"] or [seq,"ERROR",...])
    async msg(chan, data, timeout) {
        const s = this.request('MSG', chan, data);
        return this.reply(s, timeout);
    }

    async leave(chan, timeout) {
        const s = this.request('LEAVE', chan, '');
        return this.reply(s, timeout);
    }

    // learn the history keeper id (joins and leaves an ephemeral channel)
    async getHk() {
        if (this.hk) { return this.hk; }
        const ch = chan34();
        const r = await this.join(ch);
        if (!r.hk) { throw new Error('no HK in join'); }
        await this.leave(ch);
        await this.waitFor((m) => m[0] === 0 && m[2] === 'LEAVE' && m[3] === ch && m[1] === this.id, 2000, 'own LEAVE').catch(() => {});
        return this.hk;
    }

    // direct message to the HK with a JSON-encoded payload; returns seq
    sendHk(payload) {
        if (!this.hk) { throw new Error('HK unknown; call getHk() or join() first'); }
        return this.request('MSG', this.hk, typeof payload === 'string' ? payload : JSON.stringify(payload));
    }

    // HK direct message frames: [0,HK,"MSG",me,bodyString,...]
    isHkMsg(m) {
        return m[0] === 0 && m[1] === this.hk && m[2] === 'MSG' && m[3] === this.id && typeof m[4] === 'string';
    }

    waitHk(bodyPred, timeout = DEFAULT_TIMEOUT, what = 'HK message') {
        return this.waitFor((m) => this.isHkMsg(m) && bodyPred(JSON.parse(m[4]), m), timeout, what).then((m) => ({ frame: m, body: JSON.parse(m[4]) }));
    }

    /**
     * GET_HISTORY; returns {seq, ack, frames (raw HK frames), bodies, metadata, messages, end, error, timedOut}.
     * Collection stops at the end marker or an error body (for this channel), or after `timeout`.
     */
    async getHistory(chan, cfg, { timeout = DEFAULT_TIMEOUT, ackTimeout, raw } = {}) {
        const payload = raw !== undefined ? raw : ['GET_HISTORY', chan, cfg];
        const s = this.sendHk(payload);
        const res = { seq: s, ack: null, frames: [], bodies: [], metadata: [], messages: [], end: null, error: null, timedOut: false, reply: null };
        try {
            res.reply = await this.reply(s, ackTimeout || timeout);
        } catch (e) {
            res.timedOut = true;
            return res;
        }
        res.ack = res.reply[1] === 'ACK';
        if (!res.ack) { return res; }
        const txid = cfg && typeof cfg === 'object' && !Array.isArray(cfg) ? cfg.txid : undefined;
        const mine = (b) => {
            if (Array.isArray(b)) { return b[3] === chan && (txid === undefined || !txid || b[0] === txid); }
            if (b && typeof b === 'object') { return b.channel === chan; }
            return false;
        };
        for (;;) {
            let got;
            try {
                got = await this.waitHk((b) => mine(b), timeout, `history of ${chan}`);
            } catch (e) {
                res.timedOut = true;
                break;
            }
            res.frames.push(got.frame);
            res.bodies.push(got.body);
            const b = got.body;
            if (Array.isArray(b)) { res.messages.push(b); continue; }
            if (b.error) { res.error = b; break; }
            if (b.state === 1) { res.end = b; break; }
            res.metadata.push(b);
        }
        return res;
    }

    // anonymous RPC: payload [txid, [TYPE, arg]]; returns {ack, body}
    async rpc(req, { txid = 'rpc-' + rand64(6), timeout } = {}) {
        const s = this.sendHk([txid, req]);
        const ack = await this.reply(s, timeout);
        if (ack[1] !== 'ACK') { return { ack, body: null }; }
        const { body } = await this.waitHk((b) => Array.isArray(b) && b[0] === txid, timeout, `RPC reply ${txid}`);
        return { ack, body, txid };
    }

    // signed RPC (SERVER-API §1.3/§1.5); kp = nacl keypair; returns {ack, body}
    async signedRpc(kp, cookie, type, arg, opts = {}) {
        const signed = JSON.stringify([cookie, type, arg]);
        const sig = naclUtil.encodeBase64(nacl.sign.detached(naclUtil.decodeUTF8(signed), kp.secretKey));
        const pub = naclUtil.encodeBase64(kp.publicKey);
        return this.rpc([sig, pub, cookie, type, arg], opts);
    }

    // COOKIE RPC: authenticates this netflux session with kp; returns the cookie
    async authenticate(kp) {
        const { body } = await this.signedRpc(kp, null, 'COOKIE', '');
        if (!Array.isArray(body) || typeof body[1] !== 'string' || !body[1].includes('|')) {
            throw new Error(`COOKIE failed: ${JSON.stringify(body)}`);
        }
        this.cookie = body[1];
        return body[1];
    }

    waitClose(timeout = DEFAULT_TIMEOUT) {
        if (this.closed) { return Promise.resolve(this.closed); }
        return new Promise((resolve, reject) => {
            const t = setTimeout(() => reject(new Error(`socket not closed within ${timeout} ms`)), timeout);
            this.closeWaiters.push((c) => { clearTimeout(t); resolve(c); });
        });
    }

    close() {
        try { this.ws.close(); } catch (e) { /* ignore */ }
    }
    terminate() {
        try { this.ws.terminate(); } catch (e) { /* ignore */ }
    }
}

function safePred(pred, m) {
    try { return !!pred(m); } catch (e) { return false; }
}
function truncate(s, n) { return s.length > n ? s.slice(0, n) + `…(${s.length})` : s; }

// keys and signed channel messages (NETFLUX.md §4.1)
const keyPair = () => nacl.sign.keyPair();
const pubB64 = (kp) => naclUtil.encodeBase64(kp.publicKey);
const signContent = (payload, kp) => naclUtil.encodeBase64(nacl.sign(naclUtil.decodeUTF8(payload), kp.secretKey));

// A normal client on the same server still works: PING→ACK and a JOIN+MSG round trip.
async function assertServerHealthy(url, assert) {
    const a = await RawClient.connect(url);
    const b = await RawClient.connect(url);
    try {
        const p = await a.ping();
        assert.equal(p[1], 'ACK');
        const ch = chan32();
        await a.join(ch);
        await b.join(ch);
        const text = content('health');
        const r = await a.msg(ch, text);
        assert.deepEqual(r, [r[0], 'ACK']);
        const got = await b.waitFor((m) => m[2] === 'MSG' && m[3] === ch && m[4] === text, 5000, 'relayed health MSG');
        assert.equal(got[1], a.id);
    } finally {
        a.close();
        b.close();
    }
}

module.exports = {
    RawClient, chan32, chan34, content, hashOf, sleep, keyPair, pubB64, signContent,
    assertServerHealthy, HEX32, HEX16, isServerPing, nacl, naclUtil,
};
