'use strict';
// NETFLUX.md §1.4 / §7 item 5: server keepalive. blindpad is started with short timings
// (--ping-interval 1000 --idle-timeout 3000 --keepalive-tick 200); the reference runs with its
// real 15 s / 60 s / 5 s timing, only when CONFORMANCE_SLOW=1.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startServer, EXTERNAL, SLOW } = require('../lib/server');
const { RawClient, chan32, sleep } = require('../lib/client');

const T = EXTERNAL ? { ping: 15000, idle: 60000, tick: 5000 } : { ping: 1000, idle: 3000, tick: 200 };
const SKIP = EXTERNAL && !SLOW ? 'external server: real 15 s / 60 s keepalive timing, set CONFORMANCE_SLOW=1 to run it' : false;
const SLACK = EXTERNAL ? 3000 : 1000;

let srv;
before(async () => {
    if (SKIP) { return; }
    srv = await startServer({ name: 'keepalive', args: ['--ping-interval', String(T.ping), '--idle-timeout', String(T.idle), '--keepalive-tick', String(T.tick)] });
});
after(async () => { if (srv) { await srv.stop(); } });

describe('§7.5 keepalive', { concurrency: true, skip: SKIP, timeout: T.idle * 2 + 30000 }, () => {
    it('a silent client gets [0,"","PING",<int ms>] after ~ping-interval and is dropped after ~idle-timeout', async () => {
        const c = await RawClient.connect(srv.url, { autoPong: false });
        const t0 = c.identFrame.t;
        const cl = await c.waitClose(T.idle + T.tick + SLACK + 2000);
        assert.ok(c.pings.length >= 1, 'got a server PING');
        const p = c.pings[0];
        assert.equal(p.msg.length, 4);
        assert.ok(Number.isInteger(p.msg[3]) && Math.abs(p.msg[3] - Date.now()) < 600000, 'server time in ms');
        const dp = p.t - t0;
        assert.ok(dp >= T.ping - 100 && dp <= T.ping + T.tick + SLACK, `PING after ${dp} ms`);
        assert.equal(c.pings.length, 1, 'one outstanding ping only');
        const dc = cl.t - t0;
        assert.ok(dc >= T.idle - 100 && dc <= T.idle + T.tick + SLACK, `closed after ${dc} ms`);
    });

    it('a client that answers [0,"","PONG",t] stays connected and keeps being pinged', async () => {
        const c = await RawClient.connect(srv.url, { autoPong: true });
        try {
            await sleep(T.idle + T.tick * 2 + 500);
            assert.ok(c.isOpen, 'still connected');
            assert.ok(c.pings.length >= 2, `pinged ${c.pings.length} times`);
            assert.equal((await c.ping())[1], 'ACK');
        } finally { c.close(); }
    });

    it('any data frame counts as activity (client PINGs, even unknown commands)', async () => {
        const a = await RawClient.connect(srv.url, { autoPong: false });
        const b = await RawClient.connect(srv.url, { autoPong: false });
        try {
            const end = Date.now() + T.idle + T.tick * 2 + 500;
            while (Date.now() < end) {
                a.request('PING');
                b.send([1, 'NOT_A_COMMAND']);
                await sleep(T.ping / 2);
            }
            assert.ok(a.isOpen && b.isOpen);
        } finally { a.close(); b.close(); }
    });

    it('WebSocket-level pings are answered but do not count as activity', async () => {
        const c = await RawClient.connect(srv.url, { autoPong: false });
        let pongs = 0;
        c.ws.on('pong', () => { pongs++; });
        const timer = setInterval(() => { try { c.ws.ping(); } catch (e) { /* closed */ } }, Math.max(100, T.ping / 3));
        try {
            const cl = await c.waitClose(T.idle + T.tick + SLACK + 2000);
            assert.ok(pongs >= 1, 'ws pongs received');
            assert.ok(cl.t - c.identFrame.t >= T.idle - 100);
        } finally { clearInterval(timer); }
    });

    it('a member dropped for inactivity is announced with LEAVE', async () => {
        const silent = await RawClient.connect(srv.url, { autoPong: false });
        const watcher = await RawClient.connect(srv.url, { autoPong: true });
        try {
            const ch = chan32();
            await silent.join(ch);
            await watcher.join(ch);
            const l = await watcher.waitFor((f) => f[2] === 'LEAVE' && f[3] === ch, T.idle + T.tick + SLACK + 2000);
            assert.deepEqual(l, [0, silent.id, 'LEAVE', ch]);
        } finally { watcher.close(); silent.close(); }
    });
});
