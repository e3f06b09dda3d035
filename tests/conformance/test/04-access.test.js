'use strict';
// NETFLUX.md §4 / §7 items 21, 23, 26, 28, 29: signatures, restricted channels, RPC side effects,
// deletion, expiry; plus blindpad's deliberate deviations (1) and (2).
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const Crypto = require('chainpad-crypto');
const { startServer } = require('../lib/server');
const { RawClient, chan32, content, hashOf, sleep, keyPair, pubB64, signContent, nacl, naclUtil } = require('../lib/client');
const { populate, getFull } = require('../lib/history');
const { blindpadOnly, IS_REFERENCE } = require('../lib/util');

let srv;
before(async () => { srv = await startServer({ name: 'access' }); });
after(async () => { if (srv) { await srv.stop(); } });

const connect = () => RawClient.connect(srv.url);
const contentsOf = (msgs) => msgs.map((m) => m[4]);

// create a channel (join + GET_HISTORY with metadata) and wait for the end marker
async function create(c, ch, metadata) {
    await c.join(ch);
    const h = await c.getHistory(ch, { txid: 'create-' + ch.slice(0, 6), metadata });
    assert.ok(h.end, `channel created: ${JSON.stringify(h.bodies)}`);
    // The reference writes the new metadata asynchronously: for a few ms after the end marker
    // a JOIN/MSG can still see the channel as unrestricted/unsigned. blindpad has no such window
    // (checked by the blindpad-only tests below), so only wait under the reference.
    if (IS_REFERENCE) { await sleep(250); }
    return h.metadata[0];
}

describe('§7.21 signed channels (validateKey)', { concurrency: true }, () => {
    it('item 21: signed messages accepted (with/without cp|id|); unsigned or wrongly signed → [n,"ERROR"], not relayed, not stored', async () => {
        const a = await connect();
        const b = await connect();
        try {
            const ch = chan32();
            const keys = Crypto.createEditCryptor2();
            const enc = Crypto.createEncryptor({ cryptKey: keys.cryptKey, signKey: keys.signKey, validateKey: keys.validateKey });
            const md = await create(a, ch, { validateKey: keys.validateKey });
            assert.equal(md.validateKey, keys.validateKey);
            await b.join(ch);
            const good1 = enc.encrypt('[2,"patch one"]');
            const good2 = 'cp|AuPM9y7Rqjk=|' + enc.encrypt('[4,"checkpoint"]');
            const good3 = 'cp|' + enc.encrypt('[4,"checkpoint without id"]');
            for (const g of [good1, good2, good3]) {
                const r = await a.msg(ch, g);
                assert.deepEqual(r, [r[0], 'ACK']);
                const got = await b.waitFor((f) => f[2] === 'MSG' && f[3] === ch);
                assert.equal(got[4], g);
            }
            const other = Crypto.createEditCryptor2();
            const otherEnc = Crypto.createEncryptor({ cryptKey: keys.cryptKey, signKey: other.signKey, validateKey: other.validateKey });
            const tampered = (() => { const x = enc.encrypt('[2,"tamper"]'); return (x[10] === 'A' ? 'B' : 'A') + x.slice(1); })();
            const bad = [
                'not-a-signed-message',
                Crypto.encrypt('[2,"unsigned"]', keys.cryptKey), // secretbox only, no signature
                otherEnc.encrypt('[2,"signed with another key"]'),
                // (a checkpoint id different from the last stored one: the reference checks for a
                // duplicate checkpoint id before the signature, see README)
                'cp|QkFEQkFEQkE=|' + otherEnc.encrypt('[4,"bad checkpoint"]'),
                tampered,
                '',
                '!!!!' + good1.slice(4),
            ];
            for (const x of bad) {
                const r = await a.msg(ch, x);
                assert.deepEqual(r, [r[0], 'ERROR'], `refused with a bare ERROR: ${x.slice(0, 30)}`);
            }
            await sleep(200);
            assert.equal(b.peek((f) => f[2] === 'MSG').length, 0, 'refused messages are not relayed');
            const h = await b.getHistory(ch, { txid: 'sig', lastKnownHash: -1 });
            assert.deepEqual(contentsOf(h.messages), [good1, good2, good3]);
            // chainpad-crypto on the reader side decrypts what was stored
            const reader = Crypto.createEncryptor({ cryptKey: keys.cryptKey });
            assert.equal(reader.decrypt(h.messages[0][4], keys.validateKey), '[2,"patch one"]');
        } finally { a.close(); b.close(); }
    });

    it('base64 without "=" padding is accepted (the server pads it)', async () => {
        const a = await connect();
        try {
            const ch = chan32();
            const kp = keyPair();
            await create(a, ch, { validateKey: pubB64(kp) });
            let sent = 0;
            for (const payload of ['x', 'xy', 'xyz1']) {
                const full = signContent(payload, kp);
                const stripped = full.replace(/=+$/, '');
                const r = await a.msg(ch, stripped);
                assert.deepEqual(r, [r[0], 'ACK'], `payload ${payload}: ${stripped.length} chars`);
                sent++;
            }
            const h = await a.getHistory(ch, { txid: 'p' });
            assert.equal(h.messages.length, sent);
        } finally { a.close(); }
    });

    it('read-only client (view key only) reads and decrypts, but cannot produce accepted writes', async () => {
        const editor = await connect();
        const viewer = await connect();
        try {
            const keys = Crypto.createEditCryptor2();
            const ch = Buffer.from(keys.chanId.replace(/-/g, '/'), 'base64').toString('hex');
            assert.equal(ch.length, 32);
            const enc = Crypto.createEncryptor({ cryptKey: keys.cryptKey, signKey: keys.signKey, validateKey: keys.validateKey });
            await create(editor, ch, { validateKey: keys.validateKey });
            assert.equal((await editor.msg(ch, enc.encrypt('[2,"editor text"]')))[1], 'ACK');

            const view = Crypto.createViewCryptor2(keys.viewKeyStr);
            assert.equal(view.chanId, keys.chanId, 'view key gives the same channel');
            const ro = Crypto.createEncryptor({ cryptKey: view.cryptKey });
            assert.equal(ro.encrypt, undefined, 'no signing capability');
            await viewer.join(ch);
            const h = await viewer.getHistory(ch, { txid: 'ro' });
            assert.equal(h.metadata[0].validateKey, keys.validateKey);
            assert.equal(ro.decrypt(h.messages[0][4], h.metadata[0].validateKey), '[2,"editor text"]');
            // everything a viewer can make is refused
            const attempts = [
                Crypto.encrypt('[2,"ro unsigned"]', view.cryptKey),
                Crypto.createEncryptor({ cryptKey: view.cryptKey, signKey: view.secondarySignKey }).encrypt('[2,"ro secondary key"]'),
            ];
            for (const x of attempts) {
                const r = await viewer.msg(ch, x);
                assert.deepEqual(r, [r[0], 'ERROR']);
            }
            await sleep(150);
            assert.equal(editor.peek((f) => f[2] === 'MSG' && f[3] === ch).length, 0);
            const h2 = await editor.getHistory(ch, { txid: 'ro2' });
            assert.equal(h2.messages.length, 1);
        } finally { editor.close(); viewer.close(); }
    });

    it('item 23: an invalid metadata.validateKey at creation → only the ACK, no further frames', async () => {
        for (const vk of ['abc', Buffer.alloc(16).toString('base64'), Buffer.alloc(33).toString('base64')]) {
            const a = await connect();
            try {
                const ch = chan32();
                await a.join(ch);
                const h = await a.getHistory(ch, { txid: 'bad-vk', metadata: { validateKey: vk } }, { timeout: 1000 });
                assert.ok(h.ack, 'ACK');
                assert.ok(h.timedOut);
                assert.deepEqual(h.bodies, [], `nothing after the ACK for validateKey ${vk}`);
            } finally { a.close(); }
        }
    });
});

describe('§7.26 restricted channels', { concurrency: true }, () => {
    it('item 26: JOIN → ERESTRICTED [HK,…owners,…allowed]; history → ERESTRICTED HK; after COOKIE with an allowed key, JOIN works', async () => {
        const creator = await connect();
        const stranger = await connect();
        const friend = await connect();
        const owner = await connect();
        try {
            const O = keyPair(); const A = keyPair(); const S = keyPair();
            const ch = chan32();
            const md = await create(creator, ch, { owners: [pubB64(O)], restricted: true, allowed: [pubB64(A)] });
            assert.equal(md.restricted, true);
            const hk = creator.hk;
            // stranger
            const s1 = stranger.request('JOIN', ch);
            assert.deepEqual(await stranger.reply(s1), [s1, 'ERROR', 'ERESTRICTED', [hk, pubB64(O), pubB64(A)]]);
            stranger.hk = hk;
            const hs = stranger.sendHk(['GET_HISTORY', ch, { txid: 'x' }]);
            assert.deepEqual(await stranger.reply(hs), [hs, 'ERROR', 'ERESTRICTED', hk]);
            for (const cmd of [['GET_FULL_HISTORY', ch], ['GET_HISTORY_RANGE', ch, { txid: 'r', count: 2 }]]) {
                const s = stranger.sendHk(cmd);
                assert.deepEqual(await stranger.reply(s), [s, 'ERROR', 'ERESTRICTED', hk], cmd[0]);
            }
            const sm = await stranger.msg(ch, content('intrusion'));
            assert.deepEqual(sm, [sm[0], 'ERROR'], 'non-member write to a restricted channel');
            // authenticated with a key that is not allowed: still refused
            await stranger.authenticate(S);
            const s2 = stranger.request('JOIN', ch);
            assert.equal((await stranger.reply(s2))[2], 'ERESTRICTED');
            // allowed key
            friend.hk = hk;
            const s3 = friend.request('JOIN', ch);
            assert.equal((await friend.reply(s3))[2], 'ERESTRICTED');
            await friend.authenticate(A);
            const j = await friend.join(ch);
            assert.deepEqual(j.reply, [j.reply[0], 'JACK', ch]);
            assert.deepEqual(j.members, [creator.id, friend.id]);
            const h = await friend.getHistory(ch, { txid: 'f' });
            assert.ok(h.end);
            // owner key works too
            owner.hk = hk;
            await owner.authenticate(O);
            await owner.join(ch);
            // members can write; the stranger saw nothing
            const text = content('member');
            assert.equal((await friend.msg(ch, text))[1], 'ACK');
            assert.equal((await creator.waitFor((f) => f[2] === 'MSG' && f[3] === ch))[4], text);
            await sleep(100);
            assert.equal(stranger.peek((f) => f[3] === ch).length, 0);
            assert.equal(creator.peek((f) => f[2] === 'MSG' && f[4] && String(f[4]).startsWith('intrusion')).length, 0);
        } finally { creator.close(); stranger.close(); friend.close(); owner.close(); }
    });

    it('allow list shrinks (SET_METADATA RM_ALLOWED): the member gets {"error":"ERESTRICTED"} and is removed; allowed members get the metadata', async () => {
        const owner = await connect();
        const friend = await connect();
        try {
            const O = keyPair(); const A = keyPair();
            const ch = chan32();
            await owner.authenticate(await (async () => { await owner.getHk(); return O; })());
            await create(owner, ch, { owners: [pubB64(O)], restricted: true, allowed: [pubB64(A)] });
            friend.hk = owner.hk;
            await friend.authenticate(A);
            await friend.join(ch);
            await owner.waitFor((f) => f[2] === 'JOIN' && f[1] === friend.id);
            const r = await owner.signedRpc(O, owner.cookie, 'SET_METADATA', { channel: ch, command: 'RM_ALLOWED', value: [pubB64(A)] });
            assert.equal(typeof r.body[1], 'string');
            assert.deepEqual(r.body[2].allowed, []);
            const kicked = await friend.waitHk((b) => b && b.error === 'ERESTRICTED');
            assert.deepEqual(kicked.body, { error: 'ERESTRICTED', channel: ch });
            const l = await owner.waitFor((f) => f[2] === 'LEAVE' && f[3] === ch);
            assert.deepEqual(l, [0, friend.id, 'LEAVE', ch]);
            const md = await owner.waitHk((b) => b && b.channel === ch && Array.isArray(b.allowed));
            assert.deepEqual(md.body.allowed, []);
            // the kicked user cannot write as a non-member
            const w = await friend.msg(ch, content('after-kick'));
            assert.deepEqual(w, [w[0], 'ERROR']);
        } finally { owner.close(); friend.close(); }
    });

    it('blindpad: a restricted channel is in force from the instant of creation (stranger JOIN right after the ACK)', async (t) => {
        if (blindpadOnly(t, 'the reference creates metadata asynchronously after the ACK; a JOIN in that window is let in')) { return; }
        for (let round = 0; round < 5; round++) {
            const creator = await connect();
            const stranger = await connect();
            try {
                const ch = chan32();
                await creator.join(ch);
                const s = creator.sendHk(['GET_HISTORY', ch, { txid: 'r', metadata: { owners: [pubB64(keyPair())], restricted: true, allowed: [pubB64(keyPair())] } }]);
                await creator.reply(s);
                const js = stranger.request('JOIN', ch);
                const r = await stranger.reply(js);
                assert.equal(r[1], 'ERROR', `round ${round}: ${JSON.stringify(r)}`);
                assert.equal(r[2], 'ERESTRICTED');
            } finally { creator.close(); stranger.close(); }
        }
    });
});

describe('validateKey in force from the instant of creation', { concurrency: true }, () => {
    it('blindpad: GET_HISTORY creating a signed channel + 60 unsigned MSGs without waiting → all refused, none relayed or stored', async (t) => {
        if (blindpadOnly(t, 'the reference accepts some of the messages sent before the metadata is written')) { return; }
        const a = await connect();
        const w = await connect();
        try {
            const ch = chan32();
            await a.join(ch);
            await w.join(ch);
            const kp = keyPair();
            a.sendHk(['GET_HISTORY', ch, { txid: 'race', metadata: { validateKey: pubB64(kp) } }]);
            const seqs = Array.from({ length: 60 }, (_, i) => a.request('MSG', ch, content(`unsigned${i}`)));
            for (const s of seqs) {
                assert.deepEqual(await a.reply(s), [s, 'ERROR']);
            }
            await sleep(200);
            assert.equal(w.peek((f) => f[2] === 'MSG' && f[3] === ch).length, 0, 'nothing relayed');
            const h = await w.getHistory(ch, { txid: 'check' });
            assert.equal(h.metadata[0].validateKey, pubB64(kp));
            assert.equal(h.messages.length, 0, 'nothing stored');
        } finally { a.close(); w.close(); }
    });
});

describe('§7.28-29 deletion and IS_NEW_CHANNEL', { concurrency: true }, () => {
    it('item 29: IS_NEW_CHANNEL → ACK, then [txid,null,{"isNew":bool},null]', async () => {
        const a = await connect();
        try {
            await a.getHk();
            const ch = chan32();
            const r1 = await a.rpc(['IS_NEW_CHANNEL', ch], { txid: 'x' });
            assert.deepEqual(r1.ack, [r1.ack[0], 'ACK']);
            assert.deepEqual(r1.body, ['x', null, { isNew: true }, null]);
            await a.join(ch);
            await a.getHistory(ch, { txid: 'c' });
            const r2 = await a.rpc(['IS_NEW_CHANNEL', ch], { txid: 'y' });
            assert.deepEqual(r2.body, ['y', null, { isNew: true }, null], 'metadata only: still new');
            await a.msg(ch, content('first'));
            const r3 = await a.rpc(['IS_NEW_CHANNEL', ch], { txid: 'z' });
            assert.deepEqual(r3.body, ['z', null, { isNew: false }, null]);
            const r4 = await a.rpc(['IS_NEW_CHANNEL', 'short'], { txid: 'w' });
            assert.deepEqual(r4.body, ['w', 'ERROR', 'INVALID_CHAN']);
        } finally { a.close(); }
    });

    it('item 28: owner deletes a channel → members get EDELETED with the reason; later MSG → enoent, GET_HISTORY → EDELETED', async () => {
        const a = await connect();
        const b = await connect();
        const ownerConn = await connect();
        try {
            const O = keyPair();
            const ch = chan32();
            await create(a, ch, { owners: [pubB64(O)] });
            await b.join(ch);
            await populate(a, ch, [content('d1'), content('d2')]);
            // a non-owner cannot delete
            const X = keyPair();
            b.hk = a.hk;
            const bc = await b.authenticate(X);
            const nope = await b.signedRpc(X, bc, 'REMOVE_OWNED_CHANNEL', { channel: ch, reason: 'nope' });
            assert.equal(nope.body[1], 'ERROR');
            assert.equal(nope.body[2], 'INSUFFICIENT_PERMISSIONS');
            ownerConn.hk = a.hk;
            const cookie = await ownerConn.authenticate(O);
            const r = await ownerConn.signedRpc(O, cookie, 'REMOVE_OWNED_CHANNEL', { channel: ch, reason: 'my-reason' });
            assert.equal(r.body[2], 'OK', JSON.stringify(r.body));
            for (const x of [a, b]) {
                const n = await x.waitHk((body) => body && body.error === 'EDELETED');
                assert.deepEqual(n.body, { error: 'EDELETED', message: 'my-reason', channel: ch });
                assert.equal(n.frame.length, 5, 'notice without priority');
            }
            await sleep(100);
            assert.equal(a.peek((f) => f[2] === 'LEAVE').length, 0, 'no LEAVE frames');
            const w = await b.msg(ch, content('after-delete'));
            assert.deepEqual(w, [w[0], 'ERROR', 'enoent', ch]);
            const h = await b.getHistory(ch, { txid: 'd3' });
            assert.deepEqual(h.error, { error: 'EDELETED', message: 'my-reason', channel: ch, txid: 'd3' });
            const n2 = await b.rpc(['IS_NEW_CHANNEL', ch], { txid: 'n' });
            assert.deepEqual(n2.body, ['n', null, { isNew: true, reason: 'my-reason' }, null]);
        } finally { a.close(); b.close(); ownerConn.close(); }
    });

    it('CLEAR_OWNED_CHANNEL → members get ECLEARED; history is then empty', async () => {
        const a = await connect();
        try {
            const O = keyPair();
            const ch = chan32();
            await create(a, ch, { owners: [pubB64(O)] });
            await populate(a, ch, [content('c1'), content('c2')]);
            const cookie = await a.authenticate(O);
            const r = await a.signedRpc(O, cookie, 'CLEAR_OWNED_CHANNEL', ch);
            assert.equal(r.body[0], r.txid);
            assert.notEqual(r.body[1], 'ERROR', JSON.stringify(r.body));
            const n = await a.waitHk((b) => b && b.error === 'ECLEARED');
            assert.deepEqual(n.body, { error: 'ECLEARED', channel: ch });
            const h = await a.getHistory(ch, { txid: 'after' });
            assert.equal(h.messages.length, 0);
            assert.equal(h.metadata.length, 1, 'metadata survives a clear');
        } finally { a.close(); }
    });

    it('WRITE_PRIVATE_MESSAGE stores [0,null,"MSG",c,msg,time] and relays it to members', async () => {
        const a = await connect();
        const b = await connect();
        try {
            const ch = chan32();
            await create(a, ch, {});
            await b.getHk();
            const text = content('wpm');
            const r = await b.rpc(['WRITE_PRIVATE_MESSAGE', [ch, text]], { txid: 'wpm-1' });
            assert.equal(r.body[0], 'wpm-1');
            assert.equal(r.body[1], null);
            const t = r.body[2];
            assert.ok(Number.isInteger(t));
            const got = await a.waitFor((f) => f[2] === 'MSG' && f[3] === ch);
            assert.deepEqual(got, [0, null, 'MSG', ch, text, t]);
            const h = await a.getHistory(ch, { txid: 'w' });
            assert.deepEqual(h.messages, [['w', null, 'MSG', ch, text, t]]);
        } finally { a.close(); b.close(); }
    });
});

describe('§4.4 expiry', { concurrency: true }, () => {
    it('a history request on an expired channel → {"error":"EEXPIRED"} notice to the members, no history', async () => {
        const a = await connect();
        const b = await connect();
        try {
            const ch = chan32();
            const md = await create(a, ch, { expire: 1 });
            assert.ok(Number.isInteger(md.expire) && md.expire > Date.now() - 5000 && md.expire < Date.now() + 5000, 'expire converted to absolute ms');
            await b.join(ch);
            await sleep(1300);
            const h = await b.getHistory(ch, { txid: 'late' }, { timeout: 1500 });
            assert.equal(h.end, null, 'no end marker');
            assert.equal(h.messages.length, 0);
            // blindpad's task runner archives a channel as soon as it expires (the reference
            // scans every 5 min): if it ran first, the members got EDELETED "EXPIRED" instead,
            // which is the outcome the EEXPIRED window only delays.
            for (const x of [a, b]) {
                const n = await x.waitHk((body) => body && (body.error === 'EEXPIRED' ||
                    (body.error === 'EDELETED' && body.message === 'EXPIRED')), 3000, 'EEXPIRED notice');
                if (n.body.error === 'EEXPIRED') { assert.deepEqual(n.body, { error: 'EEXPIRED', channel: ch }); }
                else { assert.ok(!srv.external, 'only blindpad archives at once'); assert.equal(n.body.channel, ch); }
            }
            // JOIN is not refused because of expiry
            const c = await connect();
            const j = await c.join(ch);
            assert.equal(j.reply[1], 'JACK');
            c.close();
        } finally { a.close(); b.close(); }
    });

    it('blindpad: a write to an expired channel → [n,"ERROR"] + EEXPIRED notice; not relayed, not stored', async (t) => {
        if (blindpadOnly(t, 'the reference stores writes after expiry (§4.4 bug); blindpad follows the recommendation')) { return; }
        const a = await connect();
        const b = await connect();
        try {
            const ch = chan32();
            await create(a, ch, { expire: 1 });
            await b.join(ch);
            const before = content('before');
            assert.equal((await a.msg(ch, before))[1], 'ACK');
            await b.waitFor((f) => f[4] === before);
            await sleep(1300);
            const late = content('late');
            const r = await a.msg(ch, late);
            assert.equal(r[1], 'ERROR', JSON.stringify(r));
            // Either the EEXPIRED window (the write refused by the expiry check) or, if the
            // task runner archived the channel first, EDELETED "EXPIRED" (the write then finds
            // no channel to join: [n,"ERROR","enoent",ch]).
            const n = await a.waitHk((body) => body && (body.error === 'EEXPIRED' ||
                (body.error === 'EDELETED' && body.message === 'EXPIRED')), 3000);
            if (n.body.error === 'EEXPIRED') { assert.deepEqual(r, [r[0], 'ERROR']); assert.deepEqual(n.body, { error: 'EEXPIRED', channel: ch }); }
            else { assert.deepEqual(r, [r[0], 'ERROR', 'enoent', ch]); }
            await sleep(200);
            assert.equal(b.peek((f) => f[2] === 'MSG' && f[3] === ch).length, 0, 'not relayed');
            if (srv.dataDir) {
                const log = path.join(srv.dataDir, 'datastore', ch.slice(0, 2), `${ch}.ndjson`);
                const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
                assert.ok(!text.includes(late), 'not stored');
            }
        } finally { a.close(); b.close(); }
    });
});
