'use strict';
// NETFLUX.md §1 / §7 items 1-4, and bad input at the frame level.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const { startServer, EXTERNAL } = require('../lib/server');
const { RawClient, chan32, content, sleep, HEX32, assertServerHealthy } = require('../lib/client');
const { connectRaw } = require('../lib/rawtcp');
const { blindpadOnly, needsLocal } = require('../lib/util');

let srv;
let limits; // blindpad with --max-message 1048576
let slowsrv; // blindpad with --max-output 262144

before(async () => {
    srv = await startServer({ name: 'transport' });
    if (!EXTERNAL) {
        limits = await startServer({ name: 'limits', args: ['--max-message', '1048576'] });
        slowsrv = await startServer({ name: 'maxoutput', args: ['--max-output', '262144'] });
    }
});
after(async () => {
    for (const s of [srv, limits, slowsrv]) { if (s) { await s.stop(); } }
});

const wsPath = (path) => `${srv.baseUrl}${path}`;

describe('§7.1 connection and IDENT', { concurrency: true }, () => {
    it('upgrade on /cryptpad_websocket; first frame is a text IDENT with 32 lowercase hex; ids differ', async () => {
        const a = await RawClient.connect(wsPath('/cryptpad_websocket'));
        const b = await RawClient.connect(wsPath('/cryptpad_websocket'));
        try {
            for (const c of [a, b]) {
                assert.equal(c.frames.length + c.bad.length + c.pings.length, 0, 'IDENT must be the first frame');
                assert.equal(c.identFrame.binary, false, 'IDENT must be a text frame');
                assert.match(c.id, HEX32);
                assert.equal(c.identFrame.raw, `[0,"","IDENT","${c.id}"]`, 'compact JSON serialization');
            }
            assert.notEqual(a.id, b.id);
        } finally { a.close(); b.close(); }
    });

    it('any request path is upgraded (/, /anything?x=1)', async () => {
        for (const p of ['/', '/anything?x=1']) {
            const c = await RawClient.connect(wsPath(p));
            assert.match(c.id, HEX32);
            assert.equal((await c.ping())[1], 'ACK');
            c.close();
        }
    });

    it('many connections get distinct ids', async () => {
        const cs = await Promise.all(Array.from({ length: 20 }, () => RawClient.connect(srv.url)));
        assert.equal(new Set(cs.map((c) => c.id)).size, 20);
        cs.forEach((c) => c.close());
    });
});

describe('§7.2-3 PING / ACK', { concurrency: true }, () => {
    it('[n,"PING"] → [n,"ACK"], seq echoed exactly (ints, strings, 0, null, objects)', async () => {
        const c = await RawClient.connect(srv.url);
        try {
            for (const s of [1, 42, 9007199254740991, 'abc', 'x y "z"', 0, null, { x: 1 }]) {
                const m = c.mark();
                c.send([s, 'PING']);
                const r = await c.waitFor((f) => f[1] === 'ACK' && JSON.stringify(f[0]) === JSON.stringify(s), 3000, `ACK for ${JSON.stringify(s)}`);
                assert.deepEqual(r, [s, 'ACK']);
                const raw = c.frames.slice(m).find((f) => f.msg === r).raw;
                assert.equal(raw, JSON.stringify([s, 'ACK']));
            }
        } finally { c.close(); }
    });

    it('a binary frame holding [n,"PING"] is answered with a text [n,"ACK"]', async () => {
        const c = await RawClient.connect(srv.url);
        try {
            c.sendRaw(Buffer.from('[7,"PING"]'), { binary: true });
            const r = await c.reply(7);
            assert.deepEqual(r, [7, 'ACK']);
            const f = c.frames.find((x) => x.msg === r);
            assert.equal(f.binary, false, 'server frames are text');
        } finally { c.close(); }
    });

    it('pipelined PINGs are all answered', async () => {
        const c = await RawClient.connect(srv.url);
        try {
            const seqs = Array.from({ length: 200 }, () => c.request('PING'));
            for (const s of seqs) { assert.deepEqual(await c.reply(s), [s, 'ACK']); }
        } finally { c.close(); }
    });
});

describe('§7.4 bad frames', { concurrency: true }, () => {
    const expectClosed = async (send) => {
        const c = await RawClient.connect(srv.url);
        send(c);
        const cl = await c.waitClose(5000);
        assert.ok(cl, 'connection closed');
        return cl;
    };

    it('a frame that is not JSON closes the connection', async () => {
        await expectClosed((c) => c.sendRaw('this is {not json'));
        await assertServerHealthy(srv.url, assert);
    });

    it('JSON that is not an array closes the connection ({"a":1}, "str", 5, null)', async () => {
        for (const v of ['{"a":1}', '"hello"', '5', 'null']) {
            await expectClosed((c) => c.sendRaw(v));
        }
        await assertServerHealthy(srv.url, assert);
    });

    it('a member that sends a bad frame is dropped: others get its LEAVE', async () => {
        const a = await RawClient.connect(srv.url);
        const b = await RawClient.connect(srv.url);
        const ch = chan32();
        await a.join(ch);
        await b.join(ch);
        b.sendRaw('{bad');
        await b.waitClose();
        const l = await a.waitFor((m) => m[2] === 'LEAVE' && m[3] === ch);
        assert.deepEqual(l, [0, b.id, 'LEAVE', ch]);
        a.close();
        await assertServerHealthy(srv.url, assert);
    });

    it('unknown commands get no reply and do not close the connection', async () => {
        const c = await RawClient.connect(srv.url);
        try {
            const m = c.mark();
            c.send([3, 'FOO', 'bar']);
            c.send([4, 'join', 'lowercase-is-unknown']);
            c.send([5]);
            c.send([]);
            c.send([6, null]);
            c.send([7, 42, 'x']);
            const p = await c.ping();
            assert.equal(p[1], 'ACK');
            await sleep(200);
            assert.deepEqual(c.since(m).filter((f) => f !== p), [], 'no reply to unknown commands');
            assert.ok(c.isOpen);
        } finally { c.close(); }
        await assertServerHealthy(srv.url, assert);
    });

    it('wrong types: JOIN with a number / object channel is answered (same seq) or the socket closed; no crash', async () => {
        for (const chan of [12345, { a: 1 }, [1, 2], true]) {
            const c = await RawClient.connect(srv.url);
            const s = c.request('JOIN', chan);
            const r = await Promise.race([c.reply(s, 3000).catch(() => null), c.waitClose(3000).then(() => 'closed').catch(() => null)]);
            assert.ok(r === 'closed' || (Array.isArray(r) && r[0] === s), `JOIN ${JSON.stringify(chan)} → ${JSON.stringify(r)}`);
            c.close();
        }
        await assertServerHealthy(srv.url, assert);
    });

    it('wrong types: MSG with object content is relayed as is (no timestamp), ACKed, not stored', async () => {
        const a = await RawClient.connect(srv.url);
        const b = await RawClient.connect(srv.url);
        try {
            const ch = chan32();
            await a.join(ch);
            await b.join(ch);
            const r = await a.msg(ch, { obj: true, n: [1, 2] });
            assert.equal(r[1], 'ACK');
            const got = await b.waitFor((m) => m[2] === 'MSG' && m[3] === ch);
            assert.deepEqual(got, [0, a.id, 'MSG', ch, { obj: true, n: [1, 2] }]);
            for (const v of [5, null, [1], true]) {
                const rr = await a.msg(ch, v);
                assert.equal(rr[1], 'ACK', `MSG content ${JSON.stringify(v)}`);
            }
            // no lastKnownHash: with lastKnownHash (even -1) a channel without a log answers EDELETED
            const h = await a.getHistory(ch, { txid: 'wt1' });
            assert.ok(h.end, 'end marker');
            assert.equal(h.messages.length, 0, 'non-string contents are not stored');
        } finally { a.close(); b.close(); }
        await assertServerHealthy(srv.url, assert);
    });

    it('wrong types: GET_HISTORY with an array cfg counts as "no cfg" (end marker without txid)', async () => {
        const a = await RawClient.connect(srv.url);
        try {
            const ch = chan32();
            await a.join(ch);
            assert.equal((await a.msg(ch, content('x')))[1], 'ACK');
            const h = await a.getHistory(ch, [1, 2]);
            assert.ok(h.ack, 'ACK');
            assert.equal(h.messages.length, 1);
            assert.equal(h.messages[0][0], 0, 'element 0 not replaced without a txid');
            assert.deepEqual(h.end, { state: 1, channel: ch });
        } finally { a.close(); }
        await assertServerHealthy(srv.url, assert);
    });

    it('wrong types: HK requests with odd shapes never crash the server', async () => {
        const c = await RawClient.connect(srv.url);
        await c.getHk();
        const payloads = [
            JSON.stringify(['GET_HISTORY']),
            JSON.stringify(['GET_HISTORY', 5, { txid: 'x' }]),
            JSON.stringify(['GET_HISTORY', {}, { txid: 'x' }]),
            JSON.stringify(['GET_FULL_HISTORY']),
            JSON.stringify(['GET_HISTORY_RANGE', {}, { txid: 't', count: 2 }]),
            JSON.stringify(['GET_HISTORY_RANGE', chan32(), { txid: 't', count: 'x' }]),
            JSON.stringify(['tx', 5]),
            JSON.stringify(['tx', null]),
            JSON.stringify(['tx', ['FOO', 'bar']]),
            JSON.stringify([]),
            'not json',
        ];
        for (const p of payloads) {
            if (!c.isOpen) { break; }
            c.request('MSG', c.hk, p);
        }
        c.request('MSG', c.hk, { not: 'a string' });
        await sleep(300);
        c.close();
        await assertServerHealthy(srv.url, assert);
    });

    it('a non-array JSON payload to the HK gets no ACK and no reply', async () => {
        for (const p of ['{"a":1}', '5', 'null']) {
            const c = await RawClient.connect(srv.url);
            await c.getHk();
            const m = c.mark();
            const s = c.request('MSG', c.hk, p);
            await sleep(400);
            assert.deepEqual(c.since(m).filter((f) => f[0] === s || c.isHkMsg(f)), [], `payload ${p}`);
            c.close();
        }
        await assertServerHealthy(srv.url, assert);
    });

    it('huge ids: JOIN/MSG with a 1 MB channel name is answered or closed, never a crash', async () => {
        const c = await RawClient.connect(srv.url);
        const big = 'a'.repeat(1024 * 1024);
        const s = c.request('JOIN', big);
        const r = await Promise.race([c.reply(s, 8000).catch(() => null), c.waitClose(8000).then(() => 'closed').catch(() => null)]);
        assert.ok(r === 'closed' || (Array.isArray(r) && r[0] === s), 'JOIN answered or socket closed');
        if (c.isOpen) {
            const s2 = c.request('MSG', big, 'x');
            const r2 = await Promise.race([c.reply(s2, 8000).catch(() => null), c.waitClose(8000).then(() => 'closed').catch(() => null)]);
            assert.ok(r2 === 'closed' || (Array.isArray(r2) && r2[0] === s2), 'MSG answered or socket closed');
        }
        if (c.isOpen) {
            c.request('MSG', big, 'x'.repeat(1000)); // to a "user id" that does not exist
            c.send([99, 'PING', big]);
        }
        await sleep(300);
        c.close();
        await assertServerHealthy(srv.url, assert);
    });

    it('binary garbage in a binary frame closes the connection', async () => {
        const c = await RawClient.connect(srv.url);
        c.sendRaw(Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x80]), crypto.randomBytes(4096)]), { binary: true });
        await c.waitClose(5000);
        await assertServerHealthy(srv.url, assert);
    });

    it('invalid UTF-8 in a text frame closes with 1007', async () => {
        const c = await RawClient.connect(srv.url);
        c.sendRaw(Buffer.from([0x5b, 0x31, 0x2c, 0x22, 0xc3, 0x28, 0xff, 0x22, 0x5d]), { binary: false }); // [1,"\xc3(\xff"]
        const cl = await c.waitClose(5000);
        assert.equal(cl.code, 1007);
        await assertServerHealthy(srv.url, assert);
    });

    it('oversized frame closes with 1009; other members get LEAVE', async (t) => {
        // blindpad: started with --max-message 1048576, 2 MB frame. Reference: 100 MiB limit, 101 MiB frame.
        const target = EXTERNAL ? srv : limits;
        const size = EXTERNAL ? 101 * 1024 * 1024 : 2 * 1024 * 1024;
        const a = await RawClient.connect(target.url);
        const b = await RawClient.connect(target.url);
        const ch = chan32();
        await a.join(ch);
        await b.join(ch);
        const payload = JSON.stringify([1, 'MSG', ch, 'x'.repeat(size)]);
        b.sendRaw(payload);
        const cl = await b.waitClose(30000);
        assert.equal(cl.code, 1009);
        const l = await a.waitFor((m) => m[2] === 'LEAVE' && m[3] === ch, 5000);
        assert.deepEqual(l, [0, b.id, 'LEAVE', ch]);
        assert.equal(a.peek((m) => m[2] === 'MSG').length, 0, 'the oversized message was not relayed');
        a.close();
        await assertServerHealthy(target.url, assert);
    });

    it('a frame just under --max-message is accepted', async (t) => {
        if (needsLocal(t, 'uses --max-message 1048576')) { return; }
        const a = await RawClient.connect(limits.url);
        const b = await RawClient.connect(limits.url);
        try {
            const ch = chan32();
            await a.join(ch);
            await b.join(ch);
            const overhead = JSON.stringify([1, 'MSG', ch, '']).length;
            const text = 'y'.repeat(1048576 - overhead - 100);
            const r = await a.msg(ch, text, 10000);
            assert.equal(r[1], 'ACK');
            const got = await b.waitFor((m) => m[2] === 'MSG' && m[3] === ch, 10000);
            assert.equal(got[4].length, text.length);
        } finally { a.close(); b.close(); }
    });

    it('a client that never reads is dropped (--max-output); others keep working', async (t) => {
        if (blindpadOnly(t, 'the reference queues output without limit; blindpad drops at --max-output')) { return; }
        // a channel with ~1 MB of history
        const w = await RawClient.connect(slowsrv.url);
        const big = chan32();
        await w.join(big);
        for (let i = 0; i < 16; i++) {
            assert.equal((await w.msg(big, `${i}-` + 'z'.repeat(64 * 1024)))[1], 'ACK');
        }
        const watch = chan32();
        await w.join(watch);
        const slow = await connectRaw(slowsrv.port);
        slow.sendText(JSON.stringify([1, 'JOIN', watch]));
        await w.waitFor((m) => m[2] === 'JOIN' && m[1] === slow.id && m[3] === watch, 5000, 'slow client JOIN');
        slow.sock.pause(); // never read again
        let hkId = null;
        {
            const probe = await RawClient.connect(slowsrv.url);
            hkId = await probe.getHk();
            probe.close();
        }
        let seq = 2;
        let stop = false;
        const pump = (async () => {
            while (!stop && !slow.sock.destroyed) {
                if (slow.sock.writableLength < 1024 * 1024) {
                    slow.sendText(JSON.stringify([seq++, 'MSG', hkId, JSON.stringify(['GET_HISTORY', big, { txid: 'slow' + seq, lastKnownHash: -1 }])]));
                }
                await sleep(20);
            }
        })();
        try {
            const l = await w.waitFor((m) => m[2] === 'LEAVE' && m[1] === slow.id && m[3] === watch, 30000, 'LEAVE of the slow client');
            assert.deepEqual(l, [0, slow.id, 'LEAVE', watch]);
        } finally {
            stop = true;
            await pump;
            slow.sock.destroy();
            w.close();
        }
        assert.ok(slowsrv.alive(), 'server alive');
        await assertServerHealthy(slowsrv.url, assert);
    });
});

describe('HTTP', { concurrency: true }, () => {
    it('GET /health answers JSON {"status":"ok", store.writable:true}', async (t) => {
        if (blindpadOnly(t, 'the reference has no /health on its websocket port')) { return; }
        const body = await new Promise((resolve, reject) => {
            http.get(`http://127.0.0.1:${srv.port}/health`, (res) => {
                let d = '';
                res.on('data', (x) => { d += x; });
                res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body: d }));
            }).on('error', reject);
        });
        assert.equal(body.status, 200);
        assert.match(String(body.type), /json/);
        const j = JSON.parse(body.body);
        assert.equal(j.status, 'ok');
        assert.equal(j.store && j.store.writable, true);
    });
});
