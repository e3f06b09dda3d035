'use strict';
// SERVER-API.md §8 items 1-13: RPC transport (§1), cookies and sessions, netflux-session
// authentication of restricted channels.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const {
    startApiServer, Rpc, RawClient, createChannel, chan32, sleep, keyPair, pub, txid,
} = require('../lib/api');

let srv;
before(async () => { srv = await startApiServer({ name: 'api-rpc' }); });
after(async () => { if (srv) { await srv.stop(); } });

const HEX32 = '0123456789abcdef0123456789abcdef';

describe('§8 RPC transport', { concurrency: true }, () => {
    it('§8.1 JOIN of "0"x34 lists exactly one 16-character member (the HK) besides the client', async () => {
        const c = await RawClient.connect(srv.url);
        try {
            const r = await c.join('0'.repeat(34));
            const joins = r.frames.filter((m) => m[0] === 0 && m[2] === 'JOIN' && m[3] === '0'.repeat(34)).map((m) => m[1]);
            assert.ok(joins.includes(c.id), 'the client itself is listed');
            const hks = joins.filter((id) => typeof id === 'string' && id.length === 16);
            assert.equal(hks.length, 1, `one 16-char member: ${JSON.stringify(joins)}`);
            assert.match(hks[0], /^[0-9a-f]{16}$/);
            assert.equal(c.id.length, 32, 'user ids are not 16 characters long');
            // everyone else listed is a 32-char user (other clients of the suite may be there)
            assert.ok(joins.every((id) => id === hks[0] || id.length === 32), JSON.stringify(joins));
        } finally { c.close(); }
    });

    it('§8.2 MSG to the hkId ["t1",["GET_FILE_SIZE","<32 hex>"]] → [seq,"ACK"] first, then ["t1",null,0,null]', async () => {
        const r = await Rpc.open(srv);
        try {
            const ch = chan32();
            const mark = r.c.mark();
            const s = r.c.request('MSG', r.hk, JSON.stringify(['t1', ['GET_FILE_SIZE', ch]]));
            const ack = await r.c.reply(s);
            assert.deepEqual(ack, [s, 'ACK']);
            const { body } = await r.c.waitHk((b) => Array.isArray(b) && b[0] === 't1');
            assert.deepEqual(body, ['t1', null, 0, null]);
            const frames = r.c.since(mark);
            const iAck = frames.findIndex((m) => m[0] === s && m[1] === 'ACK');
            const iReply = frames.findIndex((m) => r.c.isHkMsg(m) && JSON.parse(m[4])[0] === 't1');
            assert.ok(iAck !== -1 && iReply !== -1 && iAck < iReply, 'the ACK comes before the reply');
        } finally { r.close(); }
    });

    it('§8.3 an unparsable payload string to the hkId gets no reply (no ACK, or an ACK only)', async () => {
        const r = await Rpc.open(srv);
        try {
            const mark = r.c.mark();
            const s = r.c.request('MSG', r.hk, '["t3", {not json');
            await sleep(1000);
            const frames = r.c.since(mark);
            const replies = frames.filter((m) => m[0] === s);
            assert.ok(replies.length === 0 || (replies.length === 1 && replies[0][1] === 'ACK'), `no ACK or an ACK: ${JSON.stringify(replies)}`);
            assert.equal(frames.filter((m) => r.c.isHkMsg(m)).length, 0, 'no HK message');
            // the connection is still usable
            assert.deepEqual(await r.anon('GET_FILE_SIZE', chan32(), { txid: 'after' }), ['after', null, 0, null]);
        } finally { r.close(); }
    });

    it('§8.4 the request "hello" (a string instead of an array) → ["t","ERROR","INVALID_ARG_FORMAT"]', async () => {
        const r = await Rpc.open(srv);
        try {
            assert.deepEqual(await r.raw('hello', { txid: 't' }), ['t', 'ERROR', 'INVALID_ARG_FORMAT']);
        } finally { r.close(); }
    });

    it('§8.5 ["FOO","bar"] → ["t","ERROR","NO_COOKIE"]', async () => {
        const r = await Rpc.open(srv);
        try {
            assert.deepEqual(await r.raw(['FOO', 'bar'], { txid: 't' }), ['t', 'ERROR', 'NO_COOKIE']);
        } finally { r.close(); }
    });

    it('§8.6 signed COOKIE with cookie null, signed over [null,"COOKIE",""] → ["t","<a>|<b>|<c>"], a multiple of 5000', async () => {
        const kp = keyPair();
        const r = await Rpc.open(srv, kp);
        try {
            const env = r.envelope('COOKIE', '', { cookie: null, signOver: '[null,"COOKIE",""]' });
            assert.deepEqual(env.slice(2), [null, 'COOKIE', '']);
            const body = await r.raw(env, { txid: 't' });
            assert.equal(body.length, 2, JSON.stringify(body));
            assert.equal(body[0], 't');
            const parts = body[1].split('|');
            assert.equal(parts.length, 3, body[1]);
            assert.match(parts[0], /^\d+$/);
            assert.equal(Number(parts[0]) % 5000, 0, 'time rounded down to 5 s');
            assert.ok(Math.abs(Number(parts[0]) - Date.now()) < 60000, 'time is now');
            assert.ok(parts[2].length > 0, 'a token');
        } finally { r.close(); }
    });

    it('§8.7 signed GET_LIMIT with that cookie → ["t",cookie,52428800,"",""] (default config)', async () => {
        const r = await Rpc.open(srv, keyPair());
        try {
            const cookie = await r.getCookie();
            const body = await r.raw(r.envelope('GET_LIMIT', null, { cookie }), { txid: 't' });
            assert.equal(body[0], 't');
            assert.equal(typeof body[1], 'string');
            assert.equal(body[1].split('|').length, 3, `a cookie: ${JSON.stringify(body)}`);
            assert.deepEqual(body.slice(2), [52428800, '', '']);
        } finally { r.close(); }
    });

    it('§8.8 the same request with one byte of the argument changed after signing → INVALID_SIGNATURE_OR_PUBLIC_KEY', async () => {
        const r = await Rpc.open(srv, keyPair());
        try {
            const cookie = await r.getCookie();
            const env = r.envelope('GET_LIMIT', 'abc', { cookie });
            const good = await r.raw(env);
            assert.notEqual(good[1], 'ERROR', `untampered request works: ${JSON.stringify(good)}`);
            const bad = env.slice(); bad[4] = 'abd';
            assert.deepEqual(await r.raw(bad, { txid: 't' }), ['t', 'ERROR', 'INVALID_SIGNATURE_OR_PUBLIC_KEY']);
            // a signature from another key for the same public key
            const other = r.envelope('GET_LIMIT', 'abc', { cookie, kp: keyPair() }); other[1] = env[1];
            assert.deepEqual(await r.raw(other, { txid: 't2' }), ['t2', 'ERROR', 'INVALID_SIGNATURE_OR_PUBLIC_KEY']);
        } finally { r.close(); }
    });

    it('§8.9 a signed request with cookie "x|y|z" → NO_COOKIE; the same with command COOKIE → success', async () => {
        const r = await Rpc.open(srv, keyPair());
        try {
            assert.deepEqual(await r.raw(r.envelope('GET_LIMIT', null, { cookie: 'x|y|z' }), { txid: 't' }), ['t', 'ERROR', 'NO_COOKIE']);
            const ok = await r.raw(r.envelope('COOKIE', '', { cookie: 'x|y|z' }), { txid: 't2' });
            assert.equal(ok.length, 2, JSON.stringify(ok));
            assert.equal(ok[0], 't2');
            assert.equal(ok[1].split('|').length, 3, JSON.stringify(ok));
            assert.notEqual(ok[1], 'x|y|z');
            // the new cookie works
            const lim = await r.raw(r.envelope('GET_LIMIT', null, { cookie: ok[1] }));
            assert.equal(typeof lim[2], 'number', JSON.stringify(lim));
        } finally { r.close(); }
    });

    it('§8.10 a signed unknown command with a valid cookie → INVALID_RPC_CALL', async () => {
        const r = await Rpc.open(srv, keyPair());
        try {
            const cookie = await r.getCookie();
            assert.deepEqual(await r.raw(r.envelope('FOOBAR', null, { cookie }), { txid: 't' }), ['t', 'ERROR', 'INVALID_RPC_CALL']);
            // the retired WebSocket block commands are unknown too (§2.1)
            assert.deepEqual(await r.raw(r.envelope('WRITE_LOGIN_BLOCK', [], { cookie }), { txid: 't2' }), ['t2', 'ERROR', 'INVALID_RPC_CALL']);
        } finally { r.close(); }
    });

    it('§8.11 EXPIRE_SESSION → "OK"; the next request with the old cookie → NO_COOKIE', async () => {
        const r = await Rpc.open(srv, keyPair());
        try {
            const cookie = await r.getCookie();
            const body = await r.raw(r.envelope('EXPIRE_SESSION', null, { cookie }), { txid: 't' });
            assert.equal(body[0], 't');
            assert.equal(typeof body[1], 'string', JSON.stringify(body));
            assert.equal(body[2], 'OK', JSON.stringify(body));
            assert.equal(body.length, 3);
            assert.deepEqual(await r.raw(r.envelope('GET_LIMIT', null, { cookie }), { txid: 't2' }), ['t2', 'ERROR', 'NO_COOKIE']);
            // the client's recovery (§1.11): COOKIE, then the request again under a new txid
            const again = await r.signed('GET_LIMIT', null, { cookie, retry: true });
            assert.deepEqual(again.slice(2), [52428800, '', '']);
        } finally { r.close(); }
    });

    it('§8.12 DESTROY gets no reply, and the connection stays usable', async () => {
        const r = await Rpc.open(srv, keyPair());
        try {
            const cookie = await r.getCookie();
            const tid = txid('destroy');
            const { ack, body } = await r.sendPayload(JSON.stringify([tid, r.envelope('DESTROY', null, { cookie })]), tid, { timeout: 1500 });
            assert.deepEqual(ack && ack[1], 'ACK');
            assert.equal(body, null, `no reply: ${JSON.stringify(body)}`);
            assert.deepEqual(await r.anon('GET_FILE_SIZE', chan32(), { txid: 'after' }), ['after', null, 0, null]);
            const lim = await r.raw(r.envelope('GET_LIMIT', null, { cookie }));
            assert.equal(typeof lim[2], 'number', `the session still works: ${JSON.stringify(lim)}`);
        } finally { r.close(); }
    });

    it('§8.13 after any signed RPC on A a restricted channel allowing that key can be joined from A; B without authentication gets ERESTRICTED [hkId,...]', async () => {
        const O = keyPair(); const K = keyPair();
        const owner = await Rpc.open(srv, O);
        const a = await Rpc.open(srv, K);
        const b = await RawClient.connect(srv.url);
        try {
            const ch = chan32();
            await owner.getCookie();
            await createChannel(owner.c, ch, { owners: [pub(O)], restricted: true, allowed: [pub(K)] });
            // any signed RPC (not only COOKIE): GET_HASH
            const h = await a.signed('GET_HASH', pub(K));
            assert.notEqual(h[1], 'ERROR', JSON.stringify(h));
            const j = await a.c.join(ch);
            assert.equal(j.reply[1], 'JACK', JSON.stringify(j.reply));
            const s = b.request('JOIN', ch);
            const refused = await b.reply(s);
            assert.equal(refused[1], 'ERROR');
            assert.equal(refused[2], 'ERESTRICTED');
            assert.ok(Array.isArray(refused[3]), JSON.stringify(refused));
            assert.equal(refused[3][0], owner.hk);
            assert.deepEqual(refused[3].slice(1).sort(), [pub(O), pub(K)].sort());
        } finally { owner.close(); a.close(); b.close(); }
    });
});
