'use strict';
// CryptPad's real client packages against the server: encrypted pads edited concurrently,
// late joiners, read-only viewers, a restart, and a check that the server never sees plaintext.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { startServer } = require('../lib/server');
const { RawClient, sleep } = require('../lib/client');
const { Crypto, newPadKeys, viewKeysOf, openPad, converge, connectNetwork } = require('../lib/realstack');
const { needsLocal, needsDataDir } = require('../lib/util');

let srv;
const markers = new Set(); // plaintext typed into pads, never to be found on disk
const marker = (tag) => {
    const m = `PLAINTEXT-${tag}-${crypto.randomBytes(6).toString('hex')}`;
    markers.add(m);
    return m;
};

before(async () => { srv = await startServer({ name: 'realstack' }); });
after(async () => { if (srv) { await srv.stop(); } });

async function edit(pads, perClient, tag) {
    const typed = [];
    await Promise.all(pads.map(async (p, i) => {
        for (let j = 0; j < perClient; j++) {
            const m = marker(`${tag}-c${i}-e${j}`);
            typed.push(m);
            p.insertLine(m);
            await sleep(20 + Math.floor(Math.random() * 80));
        }
    }));
    return typed;
}
// Every typed line is in the document. (Not "exactly once": under concurrent edits ChainPad
// itself sometimes re-applies a patch that lost a fork, which duplicates a line. That happens
// with the reference server too and says nothing about the server.)
const hasAll = (typed) => (doc) => { const lines = new Set(doc.split('\n')); return typed.every((m) => lines.has(m)); };

describe('real client stack (netflux-websocket + chainpad-netflux + chainpad-crypto + chainpad)', () => {
    let shared = null; // {keys, doc} of the 10-client pad, for the late joiner / viewer tests

    it('two clients edit one encrypted pad concurrently and converge', async () => {
        const keys = newPadKeys();
        const a = await openPad(srv.url, keys, { userName: 'a' });
        const b = await openPad(srv.url, keys, { userName: 'b' });
        try {
            assert.equal(a.hk, b.hk);
            assert.match(a.hk, /^[0-9a-f]{16}$/);
            assert.equal(b.metadata.validateKey, keys.validateKey, 'metadata from the server');
            const typed = await edit([a, b], 8, 'two');
            const doc = await converge([a, b], { pred: hasAll(typed) });
            assert.ok(doc.split('\n').filter(Boolean).length >= typed.length);
        } finally { a.stop(); b.stop(); }
    });

    it('ten clients edit one pad concurrently and converge; a late joiner rebuilds the same content from history', async () => {
        const keys = newPadKeys();
        const pads = [];
        try {
            pads.push(await openPad(srv.url, keys, { userName: 'p0' })); // the creator
            const opened = await Promise.allSettled(Array.from({ length: 9 }, (_, i) => openPad(srv.url, keys, { userName: `p${i + 1}` })));
            opened.forEach((r) => { if (r.status === 'fulfilled') { pads.push(r.value); } });
            opened.forEach((r) => { if (r.status === 'rejected') { throw r.reason; } });
            const typed = await edit(pads, 5, 'ten');
            const doc = await converge(pads, { pred: hasAll(typed), timeout: 45000 });
            assert.ok(doc.split('\n').filter(Boolean).length >= 50);
            const late = await openPad(srv.url, keys, { userName: 'late' });
            try {
                assert.equal(late.doc(), doc, 'late joiner has the same content');
                assert.ok(late.messages.length > 0, 'content came from history');
            } finally { late.stop(); }
            shared = { keys, doc };
        } finally { pads.forEach((p) => p.stop()); }
    });

    it('a read-only client (view key only) reads the pad; its writes are refused by the server', async () => {
        const keys = newPadKeys();
        const editor = await openPad(srv.url, keys, { userName: 'editor' });
        let viewer = null;
        let forger = null;
        try {
            const typed = await edit([editor], 3, 'ro-src');
            await converge([editor], { pred: hasAll(typed) });
            const vk = viewKeysOf(keys);
            assert.equal(vk.channel, keys.channel);
            viewer = await openPad(srv.url, vk, { userName: 'viewer' });
            assert.equal(viewer.doc(), editor.doc(), 'viewer sees the content');
            // live updates reach the viewer
            const more = await edit([editor], 1, 'ro-live');
            await converge([editor, viewer], { pred: hasAll([...typed, ...more]) });

            // raw write attempts through the viewer's netflux network are refused
            const wc = viewer.network.webChannels.find((w) => w.id === keys.channel);
            assert.ok(wc, 'viewer joined the channel');
            const roMarker = marker('ro-write');
            const unsigned = Crypto.encrypt(`[2,${JSON.stringify(roMarker)}]`, vk.cryptKey);
            const secondary = Crypto.createEncryptor({ cryptKey: vk.cryptKey, signKey: vk.secondarySignKey }).encrypt(`[2,"${roMarker}"]`);
            for (const x of [unsigned, secondary, 'cp|' + unsigned]) {
                await assert.rejects(wc.bcast(x), (err) => err && err.type === undefined, 'bare [seq,"ERROR"] → rejection');
            }
            // a viewer that tries to edit through chainpad (no signing key: unsigned ciphertext)
            let attempts = 0;
            const fake = {
                encrypt: (m) => { attempts++; return Crypto.encrypt(m, vk.cryptKey); },
                decrypt: Crypto.createEncryptor({ cryptKey: vk.cryptKey }).decrypt,
            };
            forger = await openPad(srv.url, vk, { userName: 'forger', crypto: fake, readOnly: false });
            const forged = marker('forged');
            forger.insertLine(forged);
            await sleep(1500);
            assert.ok(attempts >= 1, 'the forger tried to send');
            assert.ok(!forger.authDoc().includes(forged), 'never acknowledged');
            assert.ok(!editor.doc().includes(forged) && !viewer.doc().includes(forged), 'never reached anyone');
            assert.ok(!editor.doc().includes(roMarker));
        } finally {
            editor.stop();
            if (viewer) { viewer.stop(); }
            if (forger) { forger.stop(); }
        }
        // history holds only the editor's messages
        const c = await RawClient.connect(srv.url);
        try {
            await c.join(keys.channel);
            const h = await c.getHistory(keys.channel, { txid: 'ro', lastKnownHash: -1 });
            const reader = Crypto.createEncryptor({ cryptKey: keys.cryptKey });
            for (const m of h.messages) {
                const plain = reader.decrypt(m[4].replace(/^cp\|([A-Za-z0-9+/=]{0,20}\|)?/, ''), keys.validateKey);
                assert.ok(typeof plain === 'string' && !plain.includes('ro-write') && !plain.includes('forged'));
            }
        } finally { c.close(); }
    });

    it('the late viewer of the ten-client pad sees the same content', async (t) => {
        if (!shared) { t.skip('ten-client test did not complete'); return; }
        const viewer = await openPad(srv.url, viewKeysOf(shared.keys), { userName: 'late-viewer' });
        try {
            assert.equal(viewer.doc(), shared.doc);
        } finally { viewer.stop(); }
    });

    it('history survives a server restart (same data dir, new HK id, content rebuilt)', async (t) => {
        if (needsLocal(t, 'restarts the server')) { return; }
        const keys = newPadKeys();
        const a = await openPad(srv.url, keys, { userName: 'r1' });
        const b = await openPad(srv.url, keys, { userName: 'r2' });
        let doc; let hk1;
        try {
            const typed = await edit([a, b], 6, 'restart');
            doc = await converge([a, b], { pred: hasAll(typed) });
            hk1 = a.hk;
        } finally { a.stop(); b.stop(); }
        await sleep(200);
        await srv.restart();
        const c = await openPad(srv.url, keys, { userName: 'after-restart' });
        try {
            assert.notEqual(c.hk, hk1, 'new HK id after a restart');
            assert.equal(c.doc(), doc, 'content rebuilt from the stored history');
            // and the pad is still writable
            const typed = await edit([c], 2, 'post-restart');
            await converge([c], { pred: hasAll(typed) });
        } finally { c.stop(); }
    });

    it('the server never sees plaintext: no marker typed into a pad is found in the data dir', async (t) => {
        if (needsDataDir(t, srv)) { return; }
        assert.ok(markers.size > 50, 'markers were typed');
        const hits = [];
        let logBytes = 0;
        const walk = (dir) => {
            for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
                const p = path.join(dir, e.name);
                if (e.isDirectory()) { walk(p); continue; }
                if (!e.isFile()) { continue; }
                const buf = fs.readFileSync(p);
                if (e.name.endsWith('.ndjson')) { logBytes += buf.length; }
                const s = buf.toString('latin1');
                for (const m of markers) { if (s.includes(m) || s.includes('PLAINTEXT-')) { hits.push(`${p}: ${m}`); break; } }
            }
        };
        walk(srv.dataDir);
        assert.ok(logBytes > 10000, `channel logs were scanned (${logBytes} bytes)`);
        assert.deepEqual(hits, []);
    });
});

describe('real netflux-websocket client against raw protocol details', { concurrency: true }, () => {
    it('netflux-websocket: join, member list, bcast with ACK, direct message, leave', async () => {
        const n1 = await connectNetwork(srv.url);
        const n2 = await connectNetwork(srv.url);
        try {
            const ch = crypto.randomBytes(16).toString('hex');
            const w1 = await n1.join(ch);
            const w2 = await n2.join(ch);
            assert.equal(w2.members.filter((m) => m.length === 32).length, 2);
            assert.equal(w2.members.filter((m) => m.length === 16).length, 1, 'HK in the member list');
            const got = new Promise((r) => w2.on('message', (msg, sender) => r({ msg, sender })));
            await w1.bcast('hello-real-client');
            assert.deepEqual(await got, { msg: 'hello-real-client', sender: w1.myID });
            const direct = new Promise((r) => n2.on('message', (msg, sender) => r({ msg, sender })));
            await n1.sendto(w2.myID, 'direct');
            assert.deepEqual(await direct, { msg: 'direct', sender: w1.myID });
            const left = new Promise((r) => w2.on('leave', (id) => r(id)));
            w1.leave();
            assert.equal(await left, w1.myID);
            await assert.rejects(n1.sendto('0'.repeat(32), 'x'), (e) => e.type === 'enoent');
        } finally { n1.disconnect(); n2.disconnect(); }
    });
});
