'use strict';
// NETFLUX.md §3 / §7 items 16-20, 22, 24, 25, 30: the history keeper.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('../lib/server');
const { RawClient, chan32, chan34, content, hashOf, sleep, keyPair, pubB64 } = require('../lib/client');
const { populate, checkpointScenario, range, getRange, getFull } = require('../lib/history');
const { blindpadOnly } = require('../lib/util');

let srv;
before(async () => { srv = await startServer({ name: 'history' }); });
after(async () => { if (srv) { await srv.stop(); } });

const connect = () => RawClient.connect(srv.url);
const nowish = (t) => Number.isInteger(t) && Math.abs(t - Date.now()) < 120000;
const contentsOf = (msgs) => msgs.map((m) => m[4]);

describe('§7.16-19 GET_HISTORY', { concurrency: true }, () => {
    it('item 16: creation by a member with metadata → ACK, metadata {…,channel,created}, end marker; priority is element 5 of every frame', async () => {
        const a = await connect();
        try {
            const ch = chan32();
            await a.join(ch);
            const owner = pubB64(keyPair());
            const h = await a.getHistory(ch, { txid: 'tx1', priority: 2, metadata: { owners: [owner], custom: 'kept', channel: 'overwritten', created: 5 } });
            assert.ok(h.ack);
            assert.equal(h.bodies.length, 2, JSON.stringify(h.bodies));
            const md = h.bodies[0];
            assert.deepEqual(md.owners, [owner]);
            assert.equal(md.custom, 'kept', 'unknown creator fields are kept');
            assert.equal(md.channel, ch, 'channel is set by the server');
            assert.ok(nowish(md.created), 'created is the server time in ms');
            assert.deepEqual(Object.keys(md).slice(-2), ['channel', 'created'], 'channel/created set last');
            assert.deepEqual(h.bodies[1], { state: 1, channel: ch, txid: 'tx1' });
            for (const f of h.frames) {
                assert.equal(f.length, 6);
                assert.deepEqual(f.slice(0, 4), [0, a.hk, 'MSG', a.id]);
                assert.equal(f[5], 2);
            }
            // the same channel later, without priority → null; metadata sent again, unchanged
            const h2 = await a.getHistory(ch, { txid: 'tx2', metadata: { owners: [] } });
            assert.deepEqual(h2.bodies, [md, { state: 1, channel: ch, txid: 'tx2' }], 'metadata sent for an existing channel is ignored');
            for (const f of h2.frames) { assert.equal(f.length, 6); assert.equal(f[5], null); }
        } finally { a.close(); }
    });

    it('without cfg.metadata a member still creates metadata {channel, created}', async () => {
        const a = await connect();
        try {
            const ch = chan32();
            await a.join(ch);
            const h = await a.getHistory(ch, { txid: 'x' });
            assert.equal(h.metadata.length, 1);
            assert.deepEqual(Object.keys(h.metadata[0]).sort(), ['channel', 'created']);
            assert.ok(h.end);
        } finally { a.close(); }
    });

    it('a non-member asking about a channel that does not exist gets only the end marker (nothing created)', async () => {
        const a = await connect();
        const b = await connect();
        try {
            await a.getHk();
            const ch = chan32();
            const h = await a.getHistory(ch, { txid: 'nm', metadata: { owners: ['x'] } });
            assert.ok(h.ack);
            assert.deepEqual(h.bodies, [{ state: 1, channel: ch, txid: 'nm' }]);
            // nothing was created: a member creating it later gets its own metadata
            await b.join(ch);
            const h2 = await b.getHistory(ch, { txid: 'm', metadata: { owners: [] } });
            assert.equal(h2.metadata.length, 1);
            assert.deepEqual(h2.metadata[0].owners, []);
            const r = await b.rpc(['IS_NEW_CHANNEL', chan32()]);
            assert.deepEqual(r.body.slice(1), [null, { isNew: true }, null]);
        } finally { a.close(); b.close(); }
    });

    it('item 17: k messages → ACK, metadata, k frames [txid,sender,"MSG",c,content,time] in order, end marker', async () => {
        const a = await connect();
        const b = await connect();
        const reader = await connect();
        try {
            const ch = chan32();
            await a.join(ch);
            await b.join(ch);
            const h0 = await a.getHistory(ch, { txid: 'c0' });
            assert.ok(h0.end);
            const texts = Array.from({ length: 12 }, (_, i) => content(`k${i}`));
            const replies = await populate(a, ch, texts);
            replies.forEach((r) => assert.equal(r[1], 'ACK'));
            const relayed = [];
            for (let i = 0; i < texts.length; i++) { relayed.push(await b.waitFor((f) => f[2] === 'MSG' && f[3] === ch)); }
            await reader.getHk();
            const h = await reader.getHistory(ch, { txid: 77, priority: 1 });
            assert.equal(h.metadata.length, 1);
            assert.equal(h.messages.length, texts.length);
            h.messages.forEach((m, i) => {
                assert.deepEqual(m, [77, a.id, 'MSG', ch, texts[i], relayed[i][5]], 'stored array with element 0 = txid, same timestamp as relayed');
            });
            assert.deepEqual(h.end, { state: 1, channel: ch, txid: 77 });
            assert.deepEqual(h.bodies[0], h.metadata[0], 'metadata comes first');
            h.frames.forEach((f) => assert.equal(f[5], 1));
        } finally { a.close(); b.close(); reader.close(); }
    });

    it('legacy cfg (a string) and txid 0: element 0 stays 0; end marker without txid / with "txid":0', async () => {
        const a = await connect();
        try {
            const ch = chan32();
            await a.join(ch);
            const texts = [content('l1'), content('l2')];
            await populate(a, ch, texts);
            const h = await a.getHistory(ch, 'someValidateKeyString');
            assert.deepEqual(h.messages.map((m) => m[0]), [0, 0]);
            assert.deepEqual(contentsOf(h.messages), texts);
            assert.deepEqual(h.end, { state: 1, channel: ch });
            const h0 = await a.getHistory(ch, { txid: 0 });
            assert.deepEqual(h0.messages.map((m) => m[0]), [0, 0]);
            assert.deepEqual(h0.end, { state: 1, channel: ch, txid: 0 });
        } finally { a.close(); }
    });

    it('item 18: lastKnownHash = first 64 chars of message i → the response starts with message i (metadata still sent)', async () => {
        const a = await connect();
        try {
            const ch = chan32();
            await a.join(ch);
            await a.getHistory(ch, { txid: 'c' });
            const texts = Array.from({ length: 10 }, (_, i) => content(`h${i}`));
            await populate(a, ch, texts);
            for (const i of [0, 3, 9]) {
                const h = await a.getHistory(ch, { txid: `t${i}`, lastKnownHash: hashOf(texts[i]) });
                assert.equal(h.metadata.length, 1, 'metadata is always sent');
                assert.deepEqual(contentsOf(h.messages), texts.slice(i));
                assert.ok(h.end);
            }
            const all = await a.getHistory(ch, { txid: 'all', lastKnownHash: -1 });
            assert.deepEqual(contentsOf(all.messages), texts);
        } finally { a.close(); }
    });

    it('item 19: an unknown lastKnownHash → {"error":"EUNKNOWN",channel,txid}, no end marker', async () => {
        const a = await connect();
        try {
            const ch = chan32();
            await a.join(ch);
            await populate(a, ch, [content('u1'), content('u2')]);
            const h = await a.getHistory(ch, { txid: 'eu', lastKnownHash: 'Z'.repeat(64) });
            assert.deepEqual(h.error, { error: 'EUNKNOWN', channel: ch, txid: 'eu' });
            assert.equal(h.messages.length, 0);
            await sleep(300);
            assert.equal(a.peek((f) => a.isHkMsg(f)).length, 0, 'nothing after the error');
        } finally { a.close(); }
    });

    it('lastKnownHash on a channel that never existed → EDELETED; non-storable id → EINVAL', async () => {
        const a = await connect();
        try {
            await a.getHk();
            const ch = chan32();
            const h = await a.getHistory(ch, { txid: 'd', lastKnownHash: 'Y'.repeat(64) });
            assert.deepEqual(h.error, { error: 'EDELETED', channel: ch, txid: 'd' });
            const bad = 'hello world';
            await a.join(bad);
            const r = await a.msg(bad, 'x');
            assert.deepEqual(r, [r[0], 'ERROR'], 'storage failure for a non-storable id');
            const h2 = await a.getHistory(bad, { txid: 'inv' });
            assert.deepEqual(h2.error, { error: 'EINVAL', channel: bad, txid: 'inv' });
        } finally { a.close(); }
    });

    it('48-char and other storable ids are stored like 32-char ones', async () => {
        const a = await connect();
        try {
            for (const ch of [require('node:crypto').randomBytes(24).toString('hex'), '+=-' + require('node:crypto').randomBytes(24).toString('base64').replace(/[/]/g, '-').slice(0, 33)]) {
                await a.join(ch);
                const texts = [content('s1'), content('s2')];
                const rs = await populate(a, ch, texts);
                rs.forEach((r) => assert.equal(r[1], 'ACK'));
                const h = await a.getHistory(ch, { txid: 'l' });
                assert.deepEqual(contentsOf(h.messages), texts);
            }
        } finally { a.close(); }
    });

    it('duplicate hashes (same first 64 chars) are both stored and relayed', async () => {
        const a = await connect();
        const b = await connect();
        try {
            const ch = chan32();
            await a.join(ch); await b.join(ch);
            const prefix = content('dup').slice(0, 64);
            const texts = [prefix + 'one', prefix + 'two'];
            await populate(a, ch, texts);
            await b.waitFor((f) => f[4] === texts[0]);
            await b.waitFor((f) => f[4] === texts[1]);
            const h = await a.getHistory(ch, { txid: 'dd' });
            assert.deepEqual(contentsOf(h.messages), texts);
        } finally { a.close(); b.close(); }
    });
});

describe('§3.4 / §7.20 checkpoints and lastKnownHash', { concurrency: true }, () => {
    it('item 20 and §3.4 table: start at the oldest retained checkpoint; lastKnownHash rules', async () => {
        const a = await connect();
        try {
            const ch = chan32();
            await a.join(ch);
            await a.getHistory(ch, { txid: 'c' });
            const sc = checkpointScenario();
            const rs = await populate(a, ch, sc.contents);
            rs.forEach((r) => assert.equal(r[1], 'ACK'));
            const names = (h) => h.messages.map((m) => sc.names[sc.contents.indexOf(m[4])]);
            const h = async (lkh, txid) => a.getHistory(ch, lkh === undefined ? { txid } : { txid, lastKnownHash: lkh });

            const none = await h(undefined, 'n');
            assert.deepEqual(names(none), range(sc.names, 'cp2', 'm131'), 'no lastKnownHash → from cp2');
            assert.ok(none.end);
            assert.deepEqual(names(await h(hashOf(sc.text.m130), 'a')), ['m130', 'cp4', 'm131']);
            assert.deepEqual(names(await h(hashOf(sc.text.cp4), 'b')), ['cp4', 'm131']);
            assert.deepEqual(names(await h(hashOf(sc.text.m131), 'c')), ['m131']);
            assert.deepEqual(names(await h(hashOf(sc.text.m127), 'd')), range(sc.names, 'm127', 'm131'));
            const old = await h(hashOf(sc.text.m100), 'e');
            assert.deepEqual(old.error, { error: 'EUNKNOWN', channel: ch, txid: 'e' }, 'hash older than the oldest retained checkpoint');
            const all = await h(-1, 'f');
            assert.deepEqual(names(all), sc.names, 'lastKnownHash -1 → all 135 lines');
        } finally { a.close(); }
    });

    it('channel without checkpoints (130 msgs): everything; a lastKnownHash is found by a full scan', async () => {
        const a = await connect();
        try {
            const ch = chan32();
            await a.join(ch);
            const texts = Array.from({ length: 130 }, (_, i) => content(`n${i + 1}`));
            await populate(a, ch, texts);
            const all = await a.getHistory(ch, { txid: 'x' });
            assert.deepEqual(contentsOf(all.messages), texts);
            const from3 = await a.getHistory(ch, { txid: 'y', lastKnownHash: hashOf(texts[2]) });
            assert.deepEqual(contentsOf(from3.messages), texts.slice(2));
            const unk = await a.getHistory(ch, { txid: 'z', lastKnownHash: hashOf(content('nope')) });
            assert.equal(unk.error && unk.error.error, 'EUNKNOWN');
        } finally { a.close(); }
    });

    it('§3.4 recommendation: after the channel was closed, any hash at or after R[0] is accepted, older ones are EUNKNOWN', async (t) => {
        if (blindpadOnly(t, 'the reference\'s rebuilt index only knows hashes from the last checkpoint on')) { return; }
        const a = await connect();
        const ch = chan32();
        const sc = checkpointScenario();
        try {
            await a.join(ch);
            await populate(a, ch, sc.contents);
        } finally { a.close(); }
        await a.waitClose();
        await sleep(300);
        const b = await connect();
        try {
            await b.join(ch);
            const names = (h) => h.messages.map((m) => sc.names[sc.contents.indexOf(m[4])]);
            const h1 = await b.getHistory(ch, { txid: 'r1', lastKnownHash: hashOf(sc.text.m127) });
            assert.deepEqual(names(h1), range(sc.names, 'm127', 'm131'));
            const h2 = await b.getHistory(ch, { txid: 'r2', lastKnownHash: hashOf(sc.text.cp2) });
            assert.deepEqual(names(h2), range(sc.names, 'cp2', 'm131'));
            const h3 = await b.getHistory(ch, { txid: 'r3', lastKnownHash: hashOf(sc.text.m125) });
            assert.equal(h3.error && h3.error.error, 'EUNKNOWN');
            const h4 = await b.getHistory(ch, { txid: 'r4' });
            assert.deepEqual(names(h4), range(sc.names, 'cp2', 'm131'));
        } finally { b.close(); }
    });

    it('item 22: a second checkpoint with the same id is ACKed and relayed without timestamp, but not stored', async () => {
        const a = await connect();
        const b = await connect();
        try {
            const ch = chan32();
            await a.join(ch); await b.join(ch);
            const cp1 = `cp|AuPM9y7Rqjk=|${content('first')}`;
            const cp2 = `cp|AuPM9y7Rqjk=|${content('second')}`;
            const m = content('after');
            // sent one after the other (each after the previous ACK): the reference only
            // suppresses the duplicate once the first checkpoint's append has completed
            for (const x of [cp1, cp2, m]) { assert.equal((await a.msg(ch, x))[1], 'ACK'); }
            const g1 = await b.waitFor((f) => f[4] === cp1);
            const g2 = await b.waitFor((f) => f[4] === cp2);
            assert.equal(g1.length, 6);
            assert.deepEqual(g2, [0, a.id, 'MSG', ch, cp2], 'duplicate checkpoint relayed without timestamp');
            const h = await a.getHistory(ch, { txid: 'dc', lastKnownHash: -1 });
            assert.deepEqual(contentsOf(h.messages), [cp1, m]);
            // a checkpoint without an id, and one with another id, are stored
            const cp3 = `cp|${content('noid')}`;
            const cp4 = `cp|BBBBBBBBBBB=|${content('other')}`;
            await populate(a, ch, [cp3, cp4]);
            const h2 = await a.getHistory(ch, { txid: 'dc2', lastKnownHash: -1 });
            assert.deepEqual(contentsOf(h2.messages), [cp1, m, cp3, cp4]);
        } finally { a.close(); b.close(); }
    });
});

describe('§7.24-25 GET_HISTORY_RANGE / GET_FULL_HISTORY', { concurrency: true }, () => {
    it('item 24: argument errors INVALID_ARGS / UNSPECIFIED_COUNT / NO_TXID as [n,"ERROR",code,HK]', async () => {
        const a = await connect();
        try {
            await a.getHk();
            const ch = chan32();
            const cases = [
                [undefined, 'INVALID_ARGS'],
                ['str', 'INVALID_ARGS'],
                [{ txid: 't' }, 'UNSPECIFIED_COUNT'],
                [{ txid: 't', count: 'x', to: '' }, 'UNSPECIFIED_COUNT'],
                [{ count: 2 }, 'NO_TXID'],
                [{}, 'UNSPECIFIED_COUNT'],
            ];
            for (const [arg, code] of cases) {
                const payload = arg === undefined ? ['GET_HISTORY_RANGE', ch] : ['GET_HISTORY_RANGE', ch, arg];
                const s = a.sendHk(payload);
                assert.deepEqual(await a.reply(s), [s, 'ERROR', code, a.hk], JSON.stringify(arg));
            }
        } finally { a.close(); }
    });

    it('item 24: count / cpCount / from / to semantics (m1,m2,m3,cp1)', async () => {
        const a = await connect();
        try {
            const ch = chan32();
            await a.join(ch);
            const t = { m1: content('m1'), m2: content('m2'), m3: content('m3'), cp1: `cp|Q1AxQ1AxQ1A=|${content('cp1')}` };
            await populate(a, ch, [t.m1, t.m2, t.m3, t.cp1]);
            const run = async (arg) => {
                const r = await getRange(a, ch, arg);
                assert.deepEqual(r.reply, [r.reply[0], 'ACK']);
                assert.deepEqual(r.end, ['HISTORY_RANGE_END', arg.txid, ch]);
                r.frames.forEach((f) => assert.equal(f.length, 5, 'no priority element'));
                r.items.forEach((m) => { assert.equal(m[0], 0); assert.equal(m[1], a.id); assert.equal(m[2], 'MSG'); assert.equal(m[3], ch); });
                return r.items.map((m) => m[4]);
            };
            assert.deepEqual(await run({ from: hashOf(t.m3), count: 2, txid: 'rtx1' }), [t.m2, t.m3]);
            assert.deepEqual(await run({ cpCount: 2, txid: 'rtx2' }), [t.m1, t.m2, t.m3, t.cp1]);
            assert.deepEqual(await run({ from: hashOf(t.m3), to: hashOf(t.m2), txid: 'rtx3' }), [t.m2, t.m3]);
            assert.deepEqual(await run({ to: 'NONE', txid: 'rtx4' }), [t.m1, t.m2, t.m3, t.cp1]);
            assert.deepEqual(await run({ count: 1, txid: 'rtx5' }), [t.cp1]);
            assert.deepEqual(await run({ to: 'nope', txid: 'rtx6' }), []);
        } finally { a.close(); }
    });

    it('item 24: ranges on the 135-line checkpoint channel', async () => {
        const a = await connect();
        try {
            const ch = chan32();
            await a.join(ch);
            const sc = checkpointScenario();
            await populate(a, ch, sc.contents);
            const run = async (arg) => {
                const r = await getRange(a, ch, arg);
                assert.ok(r.end, `END for ${JSON.stringify(arg)}`);
                return r.items.map((m) => sc.names[sc.contents.indexOf(m[4])]);
            };
            const h = (n) => hashOf(sc.text[n]);
            assert.deepEqual(await run({ cpCount: 2, txid: 'a' }), range(sc.names, 'cp3', 'm131'));
            assert.deepEqual(await run({ cpCount: 3, txid: 'b' }), range(sc.names, 'cp2', 'm131'));
            const c = await run({ cpCount: 2, from: h('m127'), txid: 'c' });
            assert.deepEqual(c, range(sc.names, 'cp1', 'm127'));
            assert.equal(c.length, 124);
            assert.deepEqual(await run({ cpCount: 1, from: h('m130'), txid: 'd' }), ['cp3', 'm129', 'm130']);
            assert.deepEqual(await run({ count: 3, txid: 'e' }), ['m130', 'cp4', 'm131']);
            assert.deepEqual(await run({ count: 3, from: 'nope', txid: 'f' }), ['m130', 'cp4', 'm131']);
            assert.deepEqual(await run({ to: h('m129'), txid: 'g' }), ['m129', 'm130', 'cp4', 'm131']);
            assert.deepEqual(await run({ to: 'nope', txid: 'h' }), []);
        } finally { a.close(); }
    });

    it('item 24: missing log → only HISTORY_RANGE_END (count/cpCount); HISTORY_RANGE_ERROR with code ENOENT (to)', async () => {
        const a = await connect();
        try {
            await a.getHk();
            const ch = chan32();
            const r1 = await getRange(a, ch, { count: 5, txid: 'x1' });
            assert.deepEqual(r1.items, []);
            assert.deepEqual(r1.end, ['HISTORY_RANGE_END', 'x1', ch]);
            const r2 = await getRange(a, ch, { cpCount: 2, txid: 'x2' });
            assert.deepEqual(r2.end, ['HISTORY_RANGE_END', 'x2', ch]);
            const r3 = await getRange(a, ch, { to: 'NONE', txid: 'x3' });
            assert.ok(r3.error, 'HISTORY_RANGE_ERROR');
            assert.equal(r3.error[0], 'HISTORY_RANGE_ERROR');
            assert.equal(r3.error[1], 'x3');
            assert.equal(r3.error[2] && r3.error[2].code, 'ENOENT');
        } finally { a.close(); }
    });

    it('item 25: GET_FULL_HISTORY → ACK, ["FULL_HISTORY",line]… ["FULL_HISTORY_END",c]; missing channel → ["ERROR",c,string]', async () => {
        const a = await connect();
        try {
            const ch = chan32();
            await a.join(ch);
            await a.getHistory(ch, { txid: 'c', metadata: { owners: [] } });
            const texts = [content('f1'), `cp|RkZGRkZGRkY=|${content('fcp')}`, content('f2')];
            await populate(a, ch, texts);
            const r = await getFull(a, ch);
            assert.deepEqual(r.reply, [r.reply[0], 'ACK']);
            assert.deepEqual(r.items.map((m) => m[4]), texts);
            r.items.forEach((m) => { assert.equal(m[0], 0, 'element 0 not replaced'); assert.equal(m.length, 6); });
            assert.deepEqual(r.end, ['FULL_HISTORY_END', ch]);
            r.frames.forEach((f) => assert.equal(f.length, 5, 'no priority element'));
            const missing = chan32();
            const r2 = await getFull(a, missing);
            assert.ok(r2.error, 'error for a missing channel');
            assert.equal(r2.error[0], 'ERROR');
            assert.equal(r2.error[1], missing);
            assert.equal(typeof r2.error[2], 'string');
        } finally { a.close(); }
    });
});

describe('§7.30 big messages', { concurrency: true }, () => {
    it('item 30: a 5 MiB channel message is accepted, relayed, stored and returned in history', async () => {
        const a = await connect();
        const b = await connect();
        try {
            const ch = chan32();
            await a.join(ch); await b.join(ch);
            const big = content('big') + 'Q'.repeat(5 * 1024 * 1024);
            const r = await a.msg(ch, big, 30000);
            assert.equal(r[1], 'ACK');
            const got = await b.waitFor((f) => f[2] === 'MSG' && f[3] === ch, 30000);
            assert.equal(got[4], big);
            const after = content('after');
            await a.msg(ch, after);
            const h = await b.getHistory(ch, { txid: 'big' }, { timeout: 30000 });
            assert.equal(h.messages.length, 2);
            assert.equal(h.messages[0][4], big);
            assert.equal(h.messages[1][4], after);
            const h2 = await b.getHistory(ch, { txid: 'big2', lastKnownHash: hashOf(after) });
            assert.deepEqual(contentsOf(h2.messages), [after]);
        } finally { a.close(); b.close(); }
    });

    it('non-ASCII and escaped content round-trips byte-exactly through relay and history', async () => {
        const a = await connect();
        const b = await connect();
        try {
            const ch = chan32();
            await a.join(ch); await b.join(ch);
            const weird = `${content('u')} é ü 中文 😀 "quote" back\\slash / tab\t nl\n ctl\u0001 del\u007f \u2028\u2029 end`;
            assert.equal((await a.msg(ch, weird))[1], 'ACK');
            const got = await b.waitFor((f) => f[2] === 'MSG' && f[3] === ch);
            assert.equal(got[4], weird);
            const h = await b.getHistory(ch, { txid: 'w' });
            assert.equal(h.messages[0][4], weird);
            const hh = await b.getHistory(ch, { txid: 'w2', lastKnownHash: hashOf(weird) });
            assert.equal(hh.messages.length, 1);
        } finally { a.close(); b.close(); }
    });
});

describe('ephemeral channels are never stored', { concurrency: true }, () => {
    it('GET_FULL_HISTORY of a 34-char channel with traffic has no messages', async () => {
        const a = await connect();
        const b = await connect();
        try {
            const ch = chan34();
            await a.join(ch); await b.join(ch);
            await populate(a, ch, [content('e1'), content('e2')]);
            const r = await getFull(a, ch);
            assert.deepEqual(r.items, []);
        } finally { a.close(); b.close(); }
    });
});
