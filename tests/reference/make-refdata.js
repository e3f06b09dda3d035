// Drives the REFERENCE CryptPad server (2026.2.2) with raw `ws` clients speaking Netflux,
// to produce tests/data/refstore (see README.md in this directory and make-refdata.sh).
//
//   node make-refdata.js prepare <cryptpadRoot> <workdir>
//        choose channel ids and keys (workdir/state.json) and hand-write the LEGACY channels
//        (metadata object as first log line) into <cryptpadRoot>/datastore; the server must
//        NOT be running yet.
//   node make-refdata.js drive <workdir>
//        create all other channels through the running reference.
//   node make-refdata.js capture <cryptpadRoot> <workdir> <out.json> [--keep-offsets]
//        replay the history requests against the (restarted) reference, one fresh websocket per
//        transcript, and write the normalised transcripts. Without --keep-offsets every
//        `*.ndjson.offset` file is deleted before each transcript so the reference always indexes
//        the logs from byte 0, as a server that opens the committed data dir (which holds no
//        .offset files) would.
//
// Environment: REF_WS (default ws://127.0.0.1:23003/)
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const WebSocket = require('ws');
const nacl = require('tweetnacl');
const naclUtil = require('tweetnacl-util');

const WS_URL = process.env.REF_WS || 'ws://127.0.0.1:23003/';
const EPHEMERAL = '0'.repeat(34);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const b64 = (u8) => naclUtil.encodeBase64(u8);
const unb64 = (s) => naclUtil.decodeBase64(s);
const utf8 = (s) => naclUtil.decodeUTF8(s);
const randHex = (n) => crypto.randomBytes(n).toString('hex');
const newChannelId = () => randHex(16);
const hashOf = (content) => (typeof content === 'string' ? content.slice(0, 64) : '');
const randB64 = (n) => crypto.randomBytes(n).toString('base64');

const keyFromSeed = (seedB64) => {
    const kp = nacl.sign.keyPair.fromSeed(unb64(seedB64));
    return { seed: seedB64, pub: b64(kp.publicKey), secretKey: kp.secretKey };
};
const newKey = () => keyFromSeed(b64(nacl.randomBytes(32)));

// attached signature, as chainpad-crypto produces it: base64(sig(64) || payload)
const signed = (key, payload) => b64(nacl.sign(utf8(payload), key.secretKey));
// checkpoint id as chainpad-netflux computes it: base64 of the first 8 bytes of SHA-512(patch)
const cpId = (payload) => b64(nacl.hash(utf8(payload)).subarray(0, 8));
const checkpoint = (key, payload, id) => 'cp|' + (id || cpId(payload)) + '|' + (key ? signed(key, payload) : payload);

// ---------------------------------------------------------------------------------------------
// A minimal Netflux client

class Client {
    constructor(label) {
        this.label = label;
        this.raw = [];      // every text frame received, in order, exactly as received
        this.frames = [];   // same, parsed
        this.seq = 1;
        this.waiters = [];
        this.id = null;
        this.hk = null;
        this.cookies = {};  // pub -> cookie
    }

    static connect(label) {
        const c = new Client(label);
        return new Promise((resolve, reject) => {
            const ws = c.ws = new WebSocket(WS_URL, { perMessageDeflate: false });
            const t = setTimeout(() => reject(new Error('no IDENT')), 10000);
            ws.on('error', (e) => { clearTimeout(t); reject(e); });
            ws.on('message', (data, isBinary) => {
                if (isBinary) { throw new Error('binary frame from server'); }
                const text = data.toString('utf8');
                const f = JSON.parse(text);
                c.raw.push(text);
                c.frames.push(f);
                c.lastFrameAt = Date.now();
                if (f[0] === 0 && f[2] === 'IDENT') { c.id = f[3]; clearTimeout(t); resolve(c); }
                if (f[0] === 0 && f[2] === 'JOIN' && typeof f[1] === 'string' && f[1].length === 16) { c.hk = f[1]; }
                c._check();
            });
        });
    }

    _check() {
        this.waiters = this.waiters.filter((w) => {
            for (let i = w.from; i < this.frames.length; i++) {
                if (w.pred(this.frames[i], i)) { clearTimeout(w.timer); w.resolve(i); return false; }
            }
            w.from = this.frames.length;
            return true;
        });
    }

    waitFor(pred, timeout, from) {
        return new Promise((resolve, reject) => {
            const w = { pred, resolve, from: from || 0 };
            w.timer = setTimeout(() => {
                this.waiters = this.waiters.filter((x) => x !== w);
                reject(new Error(this.label + ': timeout waiting; last frames: ' + this.raw.slice(-3).join(' | ')));
            }, timeout || 10000);
            this.waiters.push(w);
            this._check();
        });
    }

    // resolves once no frame has arrived for `ms`
    async quiet(ms) {
        for (;;) {
            const n = this.frames.length;
            await sleep(ms);
            if (this.frames.length === n) { return; }
        }
    }

    sendText(text) { this.ws.send(text); }
    send(arr) { this.ws.send(JSON.stringify(arr)); }

    hkBody(f) {
        if (!(f[0] === 0 && f[1] === this.hk && f[2] === 'MSG' && f[3] === this.id)) { return undefined; }
        try { return JSON.parse(f[4]); } catch (e) { return undefined; }
    }

    async join(chan) {
        const seq = this.seq++;
        const from = this.frames.length;
        this.send([seq, 'JOIN', chan]);
        const i = await this.waitFor((f) => (f[0] === 0 && f[2] === 'JOIN' && f[1] === this.id && f[3] === chan) ||
            (f[0] === seq && f[1] === 'ERROR'), 10000, from);
        return this.frames.slice(from, i + 1);
    }

    async leave(chan) {
        const seq = this.seq++;
        const from = this.frames.length;
        this.send([seq, 'LEAVE', chan, '']);
        await this.waitFor((f) => f[0] === seq, 10000, from);
    }

    async getHistory(chan, cfg) {
        const seq = this.seq++;
        const from = this.frames.length;
        this.send([seq, 'MSG', this.hk, JSON.stringify(['GET_HISTORY', chan, cfg])]);
        const i = await this.waitFor((f) => {
            if (f[0] === seq && f[1] === 'ERROR') { return true; }
            const b = this.hkBody(f);
            return b && !Array.isArray(b) && b.channel === chan && (b.state === 1 || b.error);
        }, 10000, from);
        const out = this.frames.slice(from, i + 1);
        const last = this.hkBody(out[out.length - 1]);
        if (!last || last.state !== 1) { throw new Error('GET_HISTORY failed: ' + JSON.stringify(out)); }
        return out;
    }

    // broadcast to a channel; resolves with the reply frame ([seq,"ACK"] or [seq,"ERROR",...])
    async msg(chan, content, extra) {
        const seq = this.seq++;
        const from = this.frames.length;
        this.send([seq, 'MSG', chan, content].concat(extra || []));
        const i = await this.waitFor((f) => f[0] === seq, 10000, from);
        return this.frames[i];
    }
    async msgOk(chan, content, extra) {
        const r = await this.msg(chan, content, extra);
        if (r[1] !== 'ACK') { throw new Error('MSG refused: ' + JSON.stringify(r)); }
        return r;
    }
    async msgRawOk(text, seq) {
        const from = this.frames.length;
        this.sendText(text);
        const i = await this.waitFor((f) => f[0] === seq, 10000, from);
        if (this.frames[i][1] !== 'ACK') { throw new Error('raw MSG refused: ' + JSON.stringify(this.frames[i])); }
    }

    async _rpc(txid, request) {
        const seq = this.seq++;
        const from = this.frames.length;
        this.send([seq, 'MSG', this.hk, JSON.stringify([txid, request])]);
        const i = await this.waitFor((f) => {
            const b = this.hkBody(f);
            return Array.isArray(b) && b[0] === txid;
        }, 10000, from);
        return { frames: this.frames.slice(from, i + 1), reply: this.hkBody(this.frames[i]) };
    }
    rpcAnon(cmd, arg) {
        return this._rpc('anon-' + randHex(4), [cmd, arg]);
    }
    async rpcSigned(key, cmd, arg) {
        const cookie = this.cookies[key.pub] || null;
        const toSign = JSON.stringify([cookie, cmd, arg]);
        const sig = b64(nacl.sign.detached(utf8(toSign), key.secretKey));
        const r = await this._rpc('sig-' + randHex(4), [sig, key.pub, cookie, cmd, arg]);
        if (typeof r.reply[1] === 'string' && r.reply[1].indexOf('|') !== -1) { this.cookies[key.pub] = r.reply[1]; }
        if (r.reply[1] === 'ERROR') { throw new Error(cmd + ' failed: ' + JSON.stringify(r.reply)); }
        return r;
    }
    async authenticate(key) {
        if (!this.cookies[key.pub]) { await this.rpcSigned(key, 'COOKIE', ''); }
    }

    async learnHk() {
        if (this.hk) { return; }
        await this.join(EPHEMERAL);
        await this.leave(EPHEMERAL);
    }

    close() {
        return new Promise((resolve) => {
            if (this.ws.readyState === WebSocket.CLOSED) { return resolve(); }
            this.ws.once('close', () => resolve());
            this.ws.close();
        });
    }
}

// ---------------------------------------------------------------------------------------------
// state (ids, keys, labelled lines) shared by the phases

const statePath = (work) => path.join(work, 'state.json');
const loadState = (work) => JSON.parse(fs.readFileSync(statePath(work), 'utf8'));
const saveState = (work, st) => fs.writeFileSync(statePath(work), JSON.stringify(st, null, 2) + '\n');
const keysOf = (st) => {
    const out = {};
    Object.keys(st.keys).forEach((k) => { out[k] = keyFromSeed(st.keys[k].seed); });
    return out;
};

const CHANNEL_NAMES = [
    'plain', 'signed-cp', 'dup-cp', 'deleted', 'deleted-reason', 'restricted', 'amended',
    'expired', 'legacy', 'legacy-amended', 'mailbox', 'edge', 'metadata-only', 'nocp-long',
    'cleared', 'trimmed', 'never-existed',
];

// ---------------------------------------------------------------------------------------------
// phase 1: prepare (server stopped)

const writeLegacy = (root, chan, legacyLine, lines) => {
    const dir = path.join(root, 'datastore', chan.slice(0, 2));
    fs.mkdirSync(dir, { recursive: true });
    const text = [JSON.stringify(legacyLine)].concat(lines.map((l) => JSON.stringify(l))).join('\n') + '\n';
    fs.writeFileSync(path.join(dir, chan + '.ndjson'), text);
};

const prepare = (root, work) => {
    fs.mkdirSync(work, { recursive: true });
    const st = { channels: {}, keys: {}, labels: {}, notes: {} };
    CHANNEL_NAMES.forEach((n) => { st.channels[n] = newChannelId(); });
    // owner = a user's edPublic (RPC identity); allowed/second = other users;
    // one validateKey (channel signing key) per signed channel.
    ['owner', 'second', 'allowed', 'outsider'].forEach((k) => { st.keys[k] = { seed: newKey().seed }; });
    ['signed-cp', 'deleted', 'deleted-reason', 'restricted', 'amended', 'expired', 'legacy', 'legacy-amended',
        'metadata-only', 'cleared', 'trimmed'].forEach((c) => { st.keys['sign:' + c] = { seed: newKey().seed }; });
    Object.keys(st.keys).forEach((k) => { st.keys[k].pub = keyFromSeed(st.keys[k].seed).pub; });
    const K = keysOf(st);

    // LEGACY channels: the log's first line is the metadata object. CryptPad stopped writing these
    // (2019); they are written here by hand, in the exact format of the log lines the reference writes.
    const t0 = 1561620000000; // June 2019
    const u1 = randHex(16), u2 = randHex(16);
    {
        const chan = st.channels.legacy;
        const key = K['sign:legacy'];
        // key order as in the brief: channel, validateKey, created
        const legacy = { channel: chan, validateKey: key.pub, created: t0 };
        const lines = [];
        lines.push([0, u1, 'MSG', chan, checkpoint(key, 'L:cp1'), t0 + 1000]);
        lines.push([0, u1, 'MSG', chan, signed(key, 'L:m1'), t0 + 2000]);
        lines.push([0, u2, 'MSG', chan, signed(key, 'L:m2'), t0 + 3000]);
        writeLegacy(root, chan, legacy, lines);
        st.labels.legacy = { cp1: 2, m1: 3, m2: 4 }; // 1-based file lines (line 1 = legacy metadata)
    }
    {
        const chan = st.channels['legacy-amended'];
        const key = K['sign:legacy-amended'];
        // key order as CryptPad wrote its metadata: validateKey, owners, channel, created
        const legacy = { validateKey: key.pub, owners: [K.owner.pub], channel: chan, created: t0 + 5000 };
        const lines = [];
        lines.push([0, u1, 'MSG', chan, signed(key, 'LA:m1'), t0 + 6000]);
        lines.push([0, u1, 'MSG', chan, signed(key, 'LA:m2'), t0 + 7000]);
        writeLegacy(root, chan, legacy, lines);
        st.labels['legacy-amended'] = { m1: 2, m2: 3 };
    }
    saveState(work, st);
    console.log('prepare: channels', st.channels);
};

// ---------------------------------------------------------------------------------------------
// phase 2: drive (server running)

const drive = async (work) => {
    const st = loadState(work);
    const K = keysOf(st);
    const C = st.channels;
    const obs = [];   // live observations, written to workdir/drive-log.json
    const note = (what, frames) => { obs.push({ what, frames }); };
    const label = (chan, name, line) => { (st.labels[chan] = st.labels[chan] || {})[name] = line; };

    const owner = await Client.connect('owner');
    await owner.learnHk();
    console.log('drive: HK', owner.hk);

    // (a) plain: unsigned, 10 messages, no checkpoints; metadata = {channel, created} only
    {
        const chan = C.plain;
        await owner.join(chan);
        note('plain: GET_HISTORY creating the channel (no metadata in cfg)', await owner.getHistory(chan, { txid: 'create-plain', priority: 2 }));
        let line = 0;
        for (let n = 1; n <= 10; n++) {
            if (n === 4) {
                // a message with characters JSON must escape, non-ASCII (BMP and astral) inside the
                // first 64 UTF-16 units, and a lone surrogate after them; sent with gratuitous escapes
                // (\/ and \u0061) to show that the reference stores JSON.stringify of the parsed frame.
                const seq = owner.seq++;
                const content = 'plain-04 "q" \\ / é€ 😀 \t\n\u0001\u001f\u007f\u2028 ' + 'x'.repeat(40) + ' \ud800 tail';
                let frame = JSON.stringify([seq, 'MSG', chan, content]);
                frame = frame.replace('/', '\\/').replace('plain-04', 'pl\\u0061in-04');
                note('plain: weird message, raw frame as sent', [frame]);
                await owner.msgRawOk(frame, seq);
                label('plain', 'weird', ++line);
                continue;
            }
            await owner.msgOk(chan, 'plain-' + String(n).padStart(2, '0') + '-' + randB64(48));
            label('plain', 'm' + n, ++line);
        }
        await owner.leave(chan);
    }

    // (b) signed-cp: validateKey + owners; m1..m5, cp1, m6..m125, cp2, m126..m128, cp3, m129, m130, cp4, m131
    {
        const chan = C['signed-cp'];
        const key = K['sign:signed-cp'];
        const w2 = await Client.connect('w2');
        await owner.join(chan);
        note('signed-cp: creation', await owner.getHistory(chan, { txid: 424242, priority: 2, metadata: { validateKey: key.pub, owners: [K.owner.pub] } }));
        await w2.join(chan);
        const seqn = [];
        for (let i = 1; i <= 5; i++) { seqn.push('m' + i); }
        seqn.push('cp1');
        for (let i = 6; i <= 125; i++) { seqn.push('m' + i); }
        seqn.push('cp2', 'm126', 'm127', 'm128', 'cp3', 'm129', 'm130', 'cp4', 'm131');
        let line = 0;
        for (const lbl of seqn) {
            const writer = (line % 2) ? w2 : owner;
            const payload = 'b:' + lbl;
            const content = lbl.startsWith('cp') ? checkpoint(key, payload) : signed(key, payload);
            await writer.msgOk(chan, content);
            label('signed-cp', lbl, ++line);
        }
        // refused writes are not stored
        note('signed-cp: unsigned message refused', [await owner.msg(chan, 'not-signed')]);
        note('signed-cp: message signed with another key refused', [await owner.msg(chan, signed(K['sign:deleted'], 'b:wrong'))]);
        await w2.close();
        await owner.leave(chan);
    }

    // (c) dup-cp: a checkpoint id sent twice in a row (second one not stored), and once more later
    {
        const chan = C['dup-cp'];
        const obsv = await Client.connect('observer');
        await owner.join(chan);
        await owner.getHistory(chan, { txid: 'create-dup', priority: 2 });
        await obsv.join(chan);
        let line = 0;
        await owner.msgOk(chan, 'dup-m1-' + randB64(40)); label('dup-cp', 'm1', ++line);
        await owner.msgOk(chan, 'dup-m2-' + randB64(40)); label('dup-cp', 'm2', ++line);
        await owner.msgOk(chan, 'cp|AAAAAAAAAAA=|dup-cpX-first-' + randB64(30)); label('dup-cp', 'cpX', ++line);
        const from = obsv.frames.length;
        const r = await owner.msg(chan, 'cp|AAAAAAAAAAA=|dup-cpX-second-' + randB64(30));
        await obsv.quiet(300);
        note('dup-cp: duplicate checkpoint: reply to sender, then what the other member got', [r].concat(obsv.frames.slice(from)));
        await owner.msgOk(chan, 'dup-m3-' + randB64(40)); label('dup-cp', 'm3', ++line);
        await owner.msgOk(chan, 'cp|AAAAAAAAAAA=|dup-cpX-third-' + randB64(30)); // same id again, after m3: also suppressed
        await owner.msgOk(chan, 'cp|BBBBBBBBBBB=|dup-cpY-' + randB64(30)); label('dup-cp', 'cpY', ++line);
        await owner.msgOk(chan, 'dup-m4-' + randB64(40)); label('dup-cp', 'm4', ++line);
        await obsv.close();
        await owner.leave(chan);
    }

    await owner.authenticate(K.owner);

    // (d) deleted / deleted-reason: owned channels removed with REMOVE_OWNED_CHANNEL
    for (const name of ['deleted', 'deleted-reason']) {
        const chan = C[name];
        const key = K['sign:' + name];
        const w = await Client.connect('w-' + name);
        await w.join(chan);
        await w.getHistory(chan, { txid: 'create-' + name, priority: 2, metadata: { validateKey: key.pub, owners: [K.owner.pub] } });
        for (let i = 1; i <= 3; i++) { await w.msgOk(chan, signed(key, name + ':m' + i)); label(name, 'm' + i, i); }
        const from = w.frames.length;
        const arg = name === 'deleted' ? { channel: chan } : { channel: chan, reason: 'custom-reason' };
        const r = await owner.rpcSigned(K.owner, 'REMOVE_OWNED_CHANNEL', arg);
        await w.quiet(300);
        note(name + ': REMOVE_OWNED_CHANNEL reply (owner) and what a member got', r.frames.concat(w.frames.slice(from)));
        await w.close();
    }

    // (e) restricted at creation; amended through SET_METADATA
    {
        const chan = C.restricted;
        const key = K['sign:restricted'];
        await owner.join(chan);
        await owner.getHistory(chan, { txid: 'create-restricted', priority: 2, metadata: { validateKey: key.pub, owners: [K.owner.pub], restricted: true, allowed: [K.allowed.pub] } });
        for (let i = 1; i <= 3; i++) { await owner.msgOk(chan, signed(key, 'r:m' + i)); label('restricted', 'm' + i, i); }
        await owner.leave(chan);
    }
    {
        const chan = C.amended;
        const key = K['sign:amended'];
        await owner.join(chan);
        await owner.getHistory(chan, { txid: 'create-amended', priority: 2, metadata: { validateKey: key.pub, owners: [K.owner.pub] } });
        let line = 0;
        for (let i = 1; i <= 3; i++) { await owner.msgOk(chan, signed(key, 'e:m' + i)); label('amended', 'm' + i, ++line); }
        for (const [command, value] of [['ADD_OWNERS', [K.second.pub]], ['RESTRICT_ACCESS', [true]], ['ADD_ALLOWED', [K.allowed.pub]]]) {
            const from = owner.frames.length;
            const r = await owner.rpcSigned(K.owner, 'SET_METADATA', { channel: chan, command, value });
            await owner.quiet(300);
            note('amended: SET_METADATA ' + command + ' (requester is a member)', owner.frames.slice(from));
            void r;
        }
        await owner.msgOk(chan, signed(key, 'e:m4')); label('amended', 'm4', ++line);
        await owner.leave(chan);
    }

    // (f) expired: expire 3 s after creation
    {
        const chan = C.expired;
        const key = K['sign:expired'];
        await owner.join(chan);
        note('expired: creation with expire:3', await owner.getHistory(chan, { txid: 'create-expired', priority: 2, metadata: { validateKey: key.pub, owners: [K.owner.pub], expire: 3 } }));
        for (let i = 1; i <= 2; i++) { await owner.msgOk(chan, signed(key, 'f:m' + i)); label('expired', 'm' + i, i); }
        await owner.leave(chan);
    }

    // (g) legacy channels (hand-written before the start): the reference validates new messages
    // against the legacy validateKey and appends them
    {
        const chan = C.legacy;
        const key = K['sign:legacy'];
        await owner.join(chan);
        note('legacy: GET_HISTORY on the hand-written legacy channel', await owner.getHistory(chan, { txid: 'load-legacy', priority: 2, metadata: { validateKey: K['sign:deleted'].pub } }));
        await owner.msgOk(chan, signed(key, 'L:m3')); label('legacy', 'm3', 5);
        await owner.msgOk(chan, checkpoint(key, 'L:cp2')); label('legacy', 'cp2', 6);
        await owner.msgOk(chan, signed(key, 'L:m4')); label('legacy', 'm4', 7);
        await owner.leave(chan);
    }
    {
        const chan = C['legacy-amended'];
        const key = K['sign:legacy-amended'];
        await owner.join(chan);
        await owner.getHistory(chan, { txid: 'load-legacy-amended', priority: 2 });
        await owner.msgOk(chan, signed(key, 'LA:m3')); label('legacy-amended', 'm3', 4);
        const r = await owner.rpcSigned(K.owner, 'SET_METADATA', { channel: chan, command: 'ADD_OWNERS', value: [K.second.pub] });
        note('legacy-amended: SET_METADATA ADD_OWNERS', r.frames);
        await owner.leave(chan);
    }

    // (h) mailbox: only WRITE_PRIVATE_MESSAGE (anonymous RPC), no metadata
    {
        const chan = C.mailbox;
        for (let i = 1; i <= 3; i++) {
            const s = await Client.connect('sender' + i);
            await s.learnHk();
            const r = await s.rpcAnon('WRITE_PRIVATE_MESSAGE', [chan, 'mbox-' + i + '-' + randB64(60)]);
            if (r.reply[1] === 'ERROR') { throw new Error('WPM ' + JSON.stringify(r.reply)); }
            note('mailbox: WRITE_PRIVATE_MESSAGE #' + i + ' (nobody in the channel)', r.frames);
            label('mailbox', 'm' + i, i);
            await s.close();
        }
    }

    // (i) edge: two messages sharing the same 64-char hash; a message with an extra trailing element
    {
        const chan = C.edge;
        await owner.join(chan);
        await owner.getHistory(chan, { txid: 'create-edge', priority: 2, metadata: {} });
        const dup = 'edge-dup-' + randB64(60).slice(0, 55); // exactly 64 chars
        let line = 0;
        await owner.msgOk(chan, 'edge-01-' + randB64(48)); label('edge', 'm1', ++line);
        await owner.msgOk(chan, dup + '-first'); label('edge', 'dupFirst', ++line);
        await owner.msgOk(chan, 'edge-03-' + randB64(48)); label('edge', 'm3', ++line);
        await owner.msgOk(chan, dup + '-second'); label('edge', 'dupSecond', ++line);
        await owner.msgOk(chan, 'edge-05-extra-' + randB64(40), ['EXTRA-ELEMENT']); label('edge', 'extra', ++line);
        note('edge: object content (broadcast, not stored)', [await owner.msg(chan, { not: 'a string' })]);
        await owner.msgOk(chan, 'edge-06-' + randB64(48)); label('edge', 'm6', ++line);
        await owner.leave(chan);
    }

    // (j) metadata-only: created, never written
    {
        const chan = C['metadata-only'];
        await owner.join(chan);
        await owner.getHistory(chan, { txid: 'create-mo', priority: 2, metadata: { validateKey: K['sign:metadata-only'].pub, owners: [K.owner.pub] } });
        await owner.leave(chan);
    }

    // (k) nocp-long: 105 unsigned messages, no checkpoint (a rebuilt index keeps only n52..n105)
    {
        const chan = C['nocp-long'];
        await owner.join(chan);
        await owner.getHistory(chan, { txid: 'create-long', priority: 2 });
        for (let i = 1; i <= 105; i++) {
            await owner.msgOk(chan, 'n' + String(i).padStart(3, '0') + '-' + randB64(18));
            label('nocp-long', 'n' + i, i);
        }
        await owner.leave(chan);
    }

    // (l) cleared: CLEAR_OWNED_CHANNEL empties the log, keeps the metadata
    {
        const chan = C.cleared;
        const key = K['sign:cleared'];
        await owner.join(chan);
        await owner.getHistory(chan, { txid: 'create-cleared', priority: 2, metadata: { validateKey: key.pub, owners: [K.owner.pub] } });
        for (let i = 1; i <= 3; i++) { await owner.msgOk(chan, signed(key, 'l:m' + i)); }
        const from = owner.frames.length;
        await owner.rpcSigned(K.owner, 'CLEAR_OWNED_CHANNEL', chan);
        await owner.quiet(300);
        note('cleared: CLEAR_OWNED_CHANNEL (requester is a member)', owner.frames.slice(from));
        await owner.leave(chan);
    }

    // (m) trimmed: TRIM_HISTORY to cp1 (archive copy + rewritten log + one-line metadata log)
    {
        const chan = C.trimmed;
        const key = K['sign:trimmed'];
        await owner.join(chan);
        await owner.getHistory(chan, { txid: 'create-trimmed', priority: 2, metadata: { validateKey: key.pub, owners: [K.owner.pub] } });
        const contents = {};
        let line = 0;
        for (const lbl of ['m1', 'm2', 'cp1', 'm3', 'cp2', 'm4']) {
            contents[lbl] = lbl.startsWith('cp') ? checkpoint(key, 't:' + lbl) : signed(key, 't:' + lbl);
            await owner.msgOk(chan, contents[lbl]);
            if (['cp1', 'm3', 'cp2', 'm4'].includes(lbl)) { label('trimmed', lbl, ++line); }
        }
        const r = await owner.rpcSigned(K.owner, 'TRIM_HISTORY', { channel: chan, hash: hashOf(contents.cp1) });
        note('trimmed: TRIM_HISTORY', r.frames);
        await owner.leave(chan);
    }

    await owner.close();
    fs.writeFileSync(path.join(work, 'drive-log.json'), JSON.stringify(obs, null, 1) + '\n');
    st.driveHk = owner.hk;
    saveState(work, st);
    console.log('drive: done');
};

// ---------------------------------------------------------------------------------------------
// phase 3: capture (server restarted on the resulting data)

// the channel's log; for deleted channels, the archived copy (to know the hashes they had)
const readLog = (root, chan) => {
    let p = path.join(root, 'datastore', chan.slice(0, 2), chan + '.ndjson');
    if (!fs.existsSync(p)) { p = path.join(root, 'data', 'archive', 'datastore', chan.slice(0, 2), chan + '.ndjson'); }
    if (!fs.existsSync(p)) { return []; }
    return fs.readFileSync(p, 'utf8').split('\n').filter((l) => l.length).map((l) => JSON.parse(l));
};

const removeOffsets = (root) => {
    const ds = path.join(root, 'datastore');
    if (!fs.existsSync(ds)) { return 0; }
    let n = 0;
    for (const d of fs.readdirSync(ds)) {
        const dir = path.join(ds, d);
        if (!fs.statSync(dir).isDirectory()) { continue; }
        for (const f of fs.readdirSync(dir)) {
            if (f.endsWith('.offset')) { fs.unlinkSync(path.join(dir, f)); n++; }
        }
    }
    return n;
};

// Build the list of transcripts. A step is {frame (with "$HK" placeholders), kind, ...}.
const planTranscripts = (root, st) => {
    const C = st.channels;
    const K = keysOf(st);
    const T = [];
    const logs = {};
    CHANNEL_NAMES.forEach((n) => { logs[n] = readLog(root, C[n]); });
    // hash of a labelled line (1-based file line)
    const H = (name, lbl) => {
        const line = st.labels[name][lbl];
        const m = logs[name][line - 1];
        if (!Array.isArray(m) || typeof m[4] !== 'string') { throw new Error('bad label ' + name + '/' + lbl); }
        return hashOf(m[4]);
    };
    const lastLabel = (name) => {
        const l = st.labels[name];
        return Object.keys(l).reduce((a, b) => (l[a] > l[b] ? a : b));
    };
    const firstLabel = (name) => {
        const l = st.labels[name];
        return Object.keys(l).reduce((a, b) => (l[a] < l[b] ? a : b));
    };
    const UNKNOWN = 'AAAAunknownHashAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'.slice(0, 64);

    const J = (chan) => ({ kind: 'join', chan, frame: [1, 'JOIN', chan] });
    const EPH = () => ({ kind: 'join', chan: EPHEMERAL, frame: [1, 'JOIN', EPHEMERAL] });
    const hkStep = (seq, kind, payload, extra) => Object.assign({ kind, frame: [seq, 'MSG', '$HK', JSON.stringify(payload)] }, extra || {});
    const GH = (seq, chan, cfg) => hkStep(seq, 'history', ['GET_HISTORY', chan, cfg]);
    const RANGE = (seq, chan, arg) => hkStep(seq, 'range', ['GET_HISTORY_RANGE', chan, arg]);
    const FULL = (seq, chan) => hkStep(seq, 'full', ['GET_FULL_HISTORY', chan]);
    const ISNEW = (seq, chan, txid) => hkStep(seq, 'rpc', [txid, ['IS_NEW_CHANNEL', chan]], { txid });
    const SIZE = (seq, chan, txid) => hkStep(seq, 'rpc', [txid, ['GET_FILE_SIZE', chan]], { txid });
    const GETMD = (seq, chan, txid) => hkStep(seq, 'rpc', [txid, ['GET_METADATA', chan]], { txid });
    const add = (name, chan, steps, why) => T.push({ name, channel: chan, steps, why });
    // joined request: fresh socket, JOIN chan, then the request
    const joined = (name, chan, step, why) => add(name, chan, [J(chan), step], why);
    // request without being a member: JOIN the 34-char ephemeral channel only to learn the HK id
    const outside = (name, chan, step, why) => add(name, chan, [EPH(), step], why);

    // standard battery for a channel with messages
    const battery = (name, opts) => {
        const chan = C[name];
        const tx = name;
        const skip = opts.skip || [];
        const joinedB = (n, ...rest) => { if (!skip.includes(n.slice(name.length + 1))) { joined(n, ...rest); } };
        joinedB(name + '/gh', chan, GH(2, chan, { txid: tx + '-gh', priority: 2 }), 'GET_HISTORY without lastKnownHash');
        for (const lbl of opts.lkh) {
            joinedB(name + '/gh-lkh-' + lbl, chan, GH(2, chan, { txid: tx + '-lkh-' + lbl, priority: 2, lastKnownHash: H(name, lbl) }),
                'GET_HISTORY with lastKnownHash = hash of ' + lbl + ' (file line ' + st.labels[name][lbl] + ')');
        }
        joinedB(name + '/gh-lkh-minus1', chan, GH(2, chan, { txid: tx + '-all', priority: 2, lastKnownHash: -1 }), 'lastKnownHash -1');
        joinedB(name + '/gh-lkh-unknown', chan, GH(2, chan, { txid: tx + '-unk', priority: 2, lastKnownHash: UNKNOWN }), 'unknown lastKnownHash');
        joinedB(name + '/range-count3', chan, RANGE(2, chan, { count: 3, txid: tx + '-r1' }), 'GET_HISTORY_RANGE {count:3}');
        joinedB(name + '/range-cpcount2', chan, RANGE(2, chan, { cpCount: 2, txid: tx + '-r2' }), '{cpCount:2}');
        if (opts.cpFrom) {
            joinedB(name + '/range-cpcount2-from-' + opts.cpFrom, chan, RANGE(2, chan, { from: H(name, opts.cpFrom), cpCount: 2, txid: tx + '-r3' }),
                '{cpCount:2, from: hash of ' + opts.cpFrom + '}');
        }
        joinedB(name + '/range-to-none', chan, RANGE(2, chan, { to: 'NONE', txid: tx + '-r4' }), '{to:"NONE"}');
        if (opts.toFrom) {
            const [to, from] = opts.toFrom;
            joinedB(name + '/range-to-' + to + '-from-' + from, chan, RANGE(2, chan, { from: H(name, from), to: H(name, to), txid: tx + '-r5' }),
                '{to: hash of ' + to + ', from: hash of ' + from + '}');
        }
        joinedB(name + '/full', chan, FULL(2, chan), 'GET_FULL_HISTORY');
        outside(name + '/is-new', chan, ISNEW(2, chan, tx + '-isnew'), 'anonymous RPC IS_NEW_CHANNEL');
        outside(name + '/file-size', chan, SIZE(2, chan, tx + '-size'), 'anonymous RPC GET_FILE_SIZE (log + metadata log bytes)');
    };

    // (a) plain
    battery('plain', { lkh: ['m1', 'm3', 'weird', 'm10'], toFrom: ['m3', 'm5'], cpFrom: 'm5' });
    joined('plain/gh-no-priority', C.plain, GH(2, C.plain, { txid: 'plain-noprio' }), 'no priority -> null 6th element');
    joined('plain/gh-lkh-number', C.plain, GH(2, C.plain, { txid: 'plain-num', priority: 2, lastKnownHash: 12345 }), 'lastKnownHash that is a number other than -1');
    outside('plain/gh-outside', C.plain, GH(2, C.plain, { txid: 'plain-out', priority: 2 }), 'GET_HISTORY without having joined');

    // (b) signed-cp
    battery('signed-cp', { lkh: ['m1', 'm125', 'cp2', 'm126', 'm127', 'm130', 'cp4', 'm131'], toFrom: ['m129', 'cp4'], cpFrom: 'm127' });
    {
        const chan = C['signed-cp'];
        const R = (n, arg, why) => joined('signed-cp/' + n, chan, RANGE(2, chan, arg), why);
        R('range-cpcount3', { cpCount: 3, txid: 'b-r6' }, '{cpCount:3}');
        R('range-cpcount1-from-m130', { cpCount: 1, from: H('signed-cp', 'm130'), txid: 'b-r7' }, '{cpCount:1, from:m130}');
        R('range-cpcount2-from-cp4', { cpCount: 2, from: H('signed-cp', 'cp4'), txid: 'b-r8' }, '{cpCount:2, from: a checkpoint}');
        R('range-count3-from-unknown', { count: 3, from: 'nope', txid: 'b-r9' }, '{count:3, from:"nope"}');
        R('range-count2-from-cp1', { count: 2, from: H('signed-cp', 'cp1'), txid: 'b-r10' }, '{count:2, from:cp1}');
        R('range-to-unknown', { to: 'nope', txid: 'b-r11' }, '{to:"nope"}');
        R('range-to-m129', { to: H('signed-cp', 'm129'), txid: 'b-r12' }, '{to:m129} (no from)');
        R('range-no-args', 'not-an-object', 'argument not an object -> INVALID_ARGS');
        R('range-no-count', { txid: 'b-r13' }, 'no count/cpCount/to -> UNSPECIFIED_COUNT');
        R('range-no-txid', { count: 2 }, 'no txid -> NO_TXID');
        joined('signed-cp/gh-txid-number', chan, GH(2, chan, { txid: 777, priority: 1 }), 'numeric txid, priority 1');
        joined('signed-cp/gh-legacy-cfg', chan, GH(2, chan, K['sign:signed-cp'].pub), 'legacy form: cfg is the validateKey string');
        joined('signed-cp/gh-metadata-ignored', chan, GH(2, chan, { txid: 'b-meta', priority: 2, metadata: { validateKey: K['sign:deleted'].pub, owners: [K.outsider.pub] } }),
            'metadata in cfg for an existing channel is ignored');
    }

    // (c) dup-cp
    battery('dup-cp', { lkh: ['m1', 'm2', 'cpX', 'm3', 'cpY', 'm4'], toFrom: ['m2', 'm3'], cpFrom: 'm4' });

    // (d) deleted channels
    for (const name of ['deleted', 'deleted-reason']) {
        const chan = C[name];
        joined(name + '/gh', chan, GH(2, chan, { txid: name + '-gh', priority: 2 }), 'GET_HISTORY on a deleted channel (placeholder)');
        joined(name + '/gh-lkh', chan, GH(2, chan, { txid: name + '-lkh', priority: 2, lastKnownHash: H(name, 'm1') }), 'with the lastKnownHash of a (deleted) message');
        outside(name + '/gh-outside', chan, GH(2, chan, { txid: name + '-out', priority: 2 }), 'without joining');
        joined(name + '/range-count3', chan, RANGE(2, chan, { count: 3, txid: name + '-r1' }), 'GET_HISTORY_RANGE count');
        joined(name + '/range-to-none', chan, RANGE(2, chan, { to: 'NONE', txid: name + '-r4' }), 'GET_HISTORY_RANGE to:NONE');
        joined(name + '/full', chan, FULL(2, chan), 'GET_FULL_HISTORY');
        outside(name + '/is-new', chan, ISNEW(2, chan, name + '-isnew'), 'IS_NEW_CHANNEL');
        outside(name + '/get-metadata', chan, GETMD(2, chan, name + '-md'), 'anonymous GET_METADATA');
        outside(name + '/file-size', chan, SIZE(2, chan, name + '-size'), 'anonymous GET_FILE_SIZE');
    }

    // (e) restricted / amended
    const cookieStep = (seq, key, txid) => {
        const toSign = JSON.stringify([null, 'COOKIE', '']);
        const sig = b64(nacl.sign.detached(utf8(toSign), key.secretKey)); // ed25519 is deterministic
        return hkStep(seq, 'rpc', [txid, [sig, key.pub, null, 'COOKIE', '']], { txid });
    };
    for (const name of ['restricted', 'amended']) {
        const chan = C[name];
        add(name + '/join-unauthenticated', chan, [J(chan)], 'JOIN without an authenticated key');
        outside(name + '/gh-unauthenticated', chan, GH(2, chan, { txid: name + '-gh', priority: 2 }), 'GET_HISTORY without an allowed key');
        outside(name + '/range-unauthenticated', chan, RANGE(2, chan, { count: 3, txid: name + '-r1' }), 'GET_HISTORY_RANGE without an allowed key');
        outside(name + '/full-unauthenticated', chan, FULL(2, chan), 'GET_FULL_HISTORY without an allowed key');
        add(name + '/allowed-cookie-join-gh', chan, [EPH(), cookieStep(2, K.allowed, name + '-cookie'), Object.assign(J(chan), { frame: [3, 'JOIN', chan] }),
            GH(4, chan, { txid: name + '-auth', priority: 2 })], 'COOKIE signed by an allowed key, then JOIN and GET_HISTORY');
        add(name + '/owner-cookie-join-gh', chan, [EPH(), cookieStep(2, K.owner, name + '-cookie-o'), Object.assign(J(chan), { frame: [3, 'JOIN', chan] }),
            GH(4, chan, { txid: name + '-auth-o', priority: 2, lastKnownHash: H(name, 'm2') })], 'COOKIE signed by the owner, then JOIN and GET_HISTORY from m2');
        add(name + '/outsider-cookie-join', chan, [EPH(), cookieStep(2, K.outsider, name + '-cookie-x'), Object.assign(J(chan), { frame: [3, 'JOIN', chan] })],
            'COOKIE signed by a key that is not allowed, then JOIN');
        outside(name + '/is-new', chan, ISNEW(2, chan, name + '-isnew'), 'IS_NEW_CHANNEL');
        outside(name + '/get-metadata', chan, hkStep(2, 'rpc', [name + '-md', ['GET_METADATA', chan]], { txid: name + '-md' }), 'anonymous GET_METADATA');
    }

    // (f) expired
    {
        const chan = C.expired;
        joined('expired/gh', chan, GH(2, chan, { txid: 'expired-gh', priority: 2 }), 'GET_HISTORY on an expired channel (joined)');
        joined('expired/gh-lkh', chan, GH(2, chan, { txid: 'expired-lkh', priority: 2, lastKnownHash: H('expired', 'm1') }), 'same, with lastKnownHash');
        outside('expired/gh-outside', chan, GH(2, chan, { txid: 'expired-out', priority: 2 }), 'GET_HISTORY on an expired channel without joining');
        joined('expired/range-count3', chan, RANGE(2, chan, { count: 3, txid: 'expired-r1' }), 'GET_HISTORY_RANGE on an expired channel');
        joined('expired/full', chan, FULL(2, chan), 'GET_FULL_HISTORY on an expired channel');
        outside('expired/is-new', chan, ISNEW(2, chan, 'expired-isnew'), 'IS_NEW_CHANNEL');
        outside('expired/get-metadata', chan, hkStep(2, 'rpc', ['expired-md', ['GET_METADATA', chan]], { txid: 'expired-md' }), 'anonymous GET_METADATA');
    }

    // (g) legacy
    battery('legacy', { lkh: ['cp1', 'm1', 'm3', 'cp2', 'm4'], toFrom: ['m1', 'm3'], cpFrom: 'm4' });
    outside('legacy/get-metadata', C.legacy, hkStep(2, 'rpc', ['legacy-md', ['GET_METADATA', C.legacy]], { txid: 'legacy-md' }), 'anonymous GET_METADATA');
    battery('legacy-amended', { lkh: ['m1', 'm2', 'm3'], toFrom: ['m1', 'm2'] });
    outside('legacy-amended/get-metadata', C['legacy-amended'], hkStep(2, 'rpc', ['la-md', ['GET_METADATA', C['legacy-amended']]], { txid: 'la-md' }), 'anonymous GET_METADATA');

    // (h) mailbox
    battery('mailbox', { lkh: ['m1', 'm2', 'm3'], toFrom: ['m1', 'm2'] });
    outside('mailbox/get-metadata', C.mailbox, hkStep(2, 'rpc', ['mailbox-md', ['GET_METADATA', C.mailbox]], { txid: 'mailbox-md' }), 'anonymous GET_METADATA (no metadata at all)');

    // (i) edge
    battery('edge', { lkh: ['m1', 'dupFirst', 'extra', 'm6'], toFrom: ['dupFirst', 'm6'] });

    // (j) metadata-only
    {
        const chan = C['metadata-only'];
        joined('metadata-only/gh', chan, GH(2, chan, { txid: 'mo-gh', priority: 2 }), 'metadata but no log file');
        joined('metadata-only/gh-lkh-unknown', chan, GH(2, chan, { txid: 'mo-lkh', priority: 2, lastKnownHash: UNKNOWN }), 'with a lastKnownHash');
        joined('metadata-only/gh-lkh-minus1', chan, GH(2, chan, { txid: 'mo-all', priority: 2, lastKnownHash: -1 }), 'lastKnownHash -1');
        joined('metadata-only/range-count3', chan, RANGE(2, chan, { count: 3, txid: 'mo-r1' }), 'range count');
        joined('metadata-only/range-to-none', chan, RANGE(2, chan, { to: 'NONE', txid: 'mo-r4' }), 'range to:NONE (log missing)');
        joined('metadata-only/full', chan, FULL(2, chan), 'GET_FULL_HISTORY (log missing)');
        outside('metadata-only/is-new', chan, ISNEW(2, chan, 'mo-isnew'), 'IS_NEW_CHANNEL');
        outside('metadata-only/file-size', chan, SIZE(2, chan, 'mo-size'), 'GET_FILE_SIZE');
    }

    // (k) nocp-long
    battery('nocp-long', { lkh: ['n3', 'n51', 'n52', 'n105'], toFrom: ['n102', 'n104'], skip: ['range-cpcount2', 'full'] });

    // (l) cleared (empty log file + metadata)
    {
        const chan = C.cleared;
        joined('cleared/gh', chan, GH(2, chan, { txid: 'cl-gh', priority: 2 }), 'cleared channel (empty log)');
        joined('cleared/gh-lkh-unknown', chan, GH(2, chan, { txid: 'cl-lkh', priority: 2, lastKnownHash: UNKNOWN }), 'with a lastKnownHash');
        joined('cleared/gh-lkh-minus1', chan, GH(2, chan, { txid: 'cl-all', priority: 2, lastKnownHash: -1 }), 'lastKnownHash -1');
        joined('cleared/range-count3', chan, RANGE(2, chan, { count: 3, txid: 'cl-r1' }), 'range count');
        joined('cleared/range-to-none', chan, RANGE(2, chan, { to: 'NONE', txid: 'cl-r4' }), 'range to:NONE');
        joined('cleared/full', chan, FULL(2, chan), 'GET_FULL_HISTORY');
        outside('cleared/is-new', chan, ISNEW(2, chan, 'cl-isnew'), 'IS_NEW_CHANNEL');
        outside('cleared/file-size', chan, SIZE(2, chan, 'cl-size'), 'GET_FILE_SIZE');
    }

    // (m) trimmed
    battery('trimmed', { lkh: ['cp1', 'm3', 'cp2', 'm4'], toFrom: ['cp1', 'm3'] });

    // never-existed
    {
        const chan = C['never-existed'];
        outside('never-existed/gh-outside', chan, GH(2, chan, { txid: 'ne-gh', priority: 2 }), 'never existed, not joined, no lastKnownHash');
        outside('never-existed/gh-outside-lkh', chan, GH(2, chan, { txid: 'ne-lkh', priority: 2, lastKnownHash: UNKNOWN }), 'never existed, not joined, lastKnownHash');
        joined('never-existed/gh-lkh', chan, GH(2, chan, { txid: 'ne-lkh-j', priority: 2, lastKnownHash: UNKNOWN }), 'never existed, joined, lastKnownHash (no creation)');
        outside('never-existed/range-count3', chan, RANGE(2, chan, { count: 3, txid: 'ne-r1' }), 'range count');
        outside('never-existed/range-to-none', chan, RANGE(2, chan, { to: 'NONE', txid: 'ne-r4' }), 'range to:NONE');
        outside('never-existed/full', chan, FULL(2, chan), 'GET_FULL_HISTORY');
        outside('never-existed/is-new', chan, ISNEW(2, chan, 'ne-isnew'), 'IS_NEW_CHANNEL');
        outside('never-existed/file-size', chan, SIZE(2, chan, 'ne-size'), 'GET_FILE_SIZE');
        outside('never-existed/get-metadata', chan, hkStep(2, 'rpc', ['ne-md', ['GET_METADATA', chan]], { txid: 'ne-md' }), 'anonymous GET_METADATA');
    }
    return T;
};

const END_QUIET_MS = 200;       // after the end of an answer, wait this long for stray frames
const JOIN_QUIET_MS = 100;      // same, after the own JOIN that ends a join
const NOANSWER_WAIT_MS = 3000;  // no end frame within this time: the request gets no (complete) answer
const NOANSWER_QUIET_MS = 1000; // ... then collect until quiet for this long

const runTranscript = async (t, opts) => {
    const c = await Client.connect(t.name);
    const stepsOut = [];
    const sent = [];
    for (const step of t.steps) {
        const frame = JSON.parse(JSON.stringify(step.frame));
        if (frame[2] === '$HK') {
            if (c.hk !== opts.hk) { throw new Error(t.name + ': HK id not learnt from a JOIN before an HK request'); }
            frame[2] = opts.hk;
        }
        const from = c.frames.length;
        const seq = frame[0];
        c.send(frame);
        sent.push(step.frame);
        const isEnd = (f) => {
            if (f[0] === seq && f[0] !== 0) {
                if (f[1] === 'ERROR') { return true; }
                if (step.kind === 'join' && f[1] === 'JACK') { return false; }
                return false; // ACK: keep waiting
            }
            if (step.kind === 'join') { return f[0] === 0 && f[2] === 'JOIN' && f[1] === c.id && f[3] === step.chan; }
            const b = c.hkBody(f);
            if (b === undefined) { return false; }
            if (step.kind === 'history') { return !Array.isArray(b) && b && (b.state === 1 || b.error !== undefined); }
            // an object body with `error` (e.g. the EEXPIRED notice) also ends range/full requests
            if (step.kind === 'range') { return Array.isArray(b) ? (b[0] === 'HISTORY_RANGE_END' || b[0] === 'HISTORY_RANGE_ERROR') : Boolean(b && b.error); }
            if (step.kind === 'full') { return Array.isArray(b) ? (b[0] === 'FULL_HISTORY_END' || b[0] === 'ERROR') : Boolean(b && b.error); }
            if (step.kind === 'rpc') { return Array.isArray(b) && b[0] === step.txid; }
            return false;
        };
        let ended = true;
        try {
            await c.waitFor(isEnd, NOANSWER_WAIT_MS, from);
            await c.quiet(step.kind === 'join' ? JOIN_QUIET_MS : END_QUIET_MS);
        } catch (e) {
            ended = false;
            await c.quiet(NOANSWER_QUIET_MS);
        }
        stepsOut.push({ from, to: c.frames.length, ended });
    }
    const me = c.id;
    const hk = opts.hk; // learnt once per server run (the ERESTRICTED list of a refused JOIN holds it too)
    if (c.hk && c.hk !== hk) { throw new Error('HK id changed'); }
    await c.close();
    await sleep(100); // let the server process the disconnect (channel closed, caches dropped)
    if (!opts.keepOffsets) { removeOffsets(opts.root); }

    // normalise: HK id -> $HK, own id -> $ME, other users' ids in JOIN frames -> $USER, cookie -> $COOKIE,
    // absolute server paths -> $ROOT
    const norm = (raw) => {
        let s = raw;
        if (hk) { s = s.split(hk).join('$HK'); }
        s = s.split(me).join('$ME');
        s = s.replace(/\d{13}\|\d+\|[0-9a-f]+/g, '$$COOKIE');
        if (opts.rootAbs) { s = s.split(opts.rootAbs).join('$ROOT'); }
        const f = JSON.parse(s);
        if (f[0] === 0 && f[2] === 'JOIN' && typeof f[1] === 'string' && f[1].length === 32) { f[1] = '$USER'; }
        return f;
    };
    // every frame must be compact JSON.stringify output, so that re-serialising the stored arrays
    // gives back the exact bytes
    for (const r of c.raw) {
        if (JSON.stringify(JSON.parse(r)) !== r) { throw new Error('frame not in canonical compact form: ' + r); }
    }
    const expect = [];
    const counts = [];
    const ended = [];
    for (const s of stepsOut) {
        counts.push(s.to - s.from);
        ended.push(s.ended);
        for (let i = s.from; i < s.to; i++) { expect.push(norm(c.raw[i])); }
    }
    return { name: t.name, channel: t.channel, why: t.why, send: sent, expect, counts, ended };
};

// JSON with one frame per line (keeps diffs and reading manageable)
const formatTranscripts = (list) => {
    const out = ['['];
    list.forEach((t, ti) => {
        out.push('  {');
        out.push('    "name": ' + JSON.stringify(t.name) + ',');
        out.push('    "channel": ' + JSON.stringify(t.channel) + ',');
        out.push('    "why": ' + JSON.stringify(t.why) + ',');
        out.push('    "counts": ' + JSON.stringify(t.counts) + ',');
        out.push('    "ended": ' + JSON.stringify(t.ended) + ',');
        out.push('    "send": [');
        t.send.forEach((f, i) => out.push('      ' + JSON.stringify(f) + (i < t.send.length - 1 ? ',' : '')));
        out.push('    ],');
        out.push('    "expect": [');
        t.expect.forEach((f, i) => out.push('      ' + JSON.stringify(f) + (i < t.expect.length - 1 ? ',' : '')));
        out.push('    ]');
        out.push('  }' + (ti < list.length - 1 ? ',' : ''));
    });
    out.push(']');
    return out.join('\n') + '\n';
};

const capture = async (root, work, outFile, keepOffsets) => {
    const st = loadState(work);
    const rootAbs = fs.realpathSync(root);
    if (!keepOffsets) { removeOffsets(root); }
    const plan = planTranscripts(root, st);
    const t0 = Date.now();
    const probe = await Client.connect('probe');
    await probe.learnHk();
    const hk = probe.hk;
    await probe.close();
    const results = [];
    for (const t of plan) {
        results.push(await runTranscript(t, { root, rootAbs, keepOffsets, hk }));
    }
    fs.writeFileSync(outFile, formatTranscripts(results));
    console.log('capture: ' + results.length + ' transcripts in ' + Math.round((Date.now() - t0) / 1000) + ' s -> ' + outFile);
};

// ---------------------------------------------------------------------------------------------

const main = async () => {
    const [cmd, ...args] = process.argv.slice(2);
    if (cmd === 'prepare') { return prepare(args[0], args[1]); }
    if (cmd === 'drive') { return drive(args[0]); }
    if (cmd === 'capture') { return capture(args[0], args[1], args[2], args.includes('--keep-offsets')); }
    console.error('usage: make-refdata.js prepare ROOT WORK | drive WORK | capture ROOT WORK OUT [--keep-offsets]');
    process.exit(2);
};
main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
