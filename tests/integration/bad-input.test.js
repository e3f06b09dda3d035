// Integration: malformed requests that blindpad answers where the reference
// crashes, hangs or misbehaves (docs/PROTOCOL.md). Each gets a clear error;
// the connection and the channel's stored history are unaffected.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const nacl = require('tweetnacl');
const naclUtil = require('tweetnacl-util');
const { startServer, Client } = require('./lib.js');

test('bad names and RPC envelopes get clear errors; nothing stored is lost', async () => {
    const srv = await startServer();
    try {
        const c = await Client.connect(srv.url);
        const ch = 'f'.repeat(32);
        await c.join(ch);
        assert.equal((await c.request(['MSG', ch, 'kept-1']))[1], 'ACK');
        // A NUL inside a name must not reach a channel whose name is a prefix of it.
        assert.deepEqual(await c.request(['MSG', ch + '\u0000x', 'sneaky']), [3, 'ERROR', 'EINVAL', 'target must not contain NUL']);
        assert.deepEqual((await c.request(['JOIN', ch + '\u0000x'])).slice(1, 3), ['ERROR', 'EINVAL']);
        assert.deepEqual(await c.request(['LEAVE', ch + '\u0000x']), [5, 'ERROR', 'EINVAL', 'channel must not contain NUL']);
        assert.deepEqual(await c.request(['JOIN', 'x'.repeat(300)]), [6, 'ERROR', 'EINVAL', 'channel name too long']);
        assert.deepEqual(await c.request(['JOIN', 42]), [7, 'ERROR', 'EINVAL', 'channel must be a string']);
        assert.deepEqual(await c.request(['MSG', { a: 1 }, 'x']), [8, 'ERROR', 'EINVAL', 'target must be a string']);
        // RPC envelopes the reference throws on (no reply, the client hangs): an error reply.
        const rpc = async (payload) => {
            const r = await c.request(['MSG', c.hk, JSON.stringify(payload)]);
            assert.equal(r[1], 'ACK');
            const m = await c.waitFor((f) => f[1] === c.hk && f[2] === 'MSG' && JSON.parse(f[4])[0] === payload[0]);
            return JSON.parse(m[4]);
        };
        assert.deepEqual(await rpc(['t1', 5]), ['t1', 'ERROR', 'INVALID_ARG_FORMAT']);
        assert.deepEqual(await rpc(['t2', null]), ['t2', 'ERROR', 'INVALID_ARG_FORMAT']);
        assert.deepEqual(await rpc(['t3']), ['t3', 'ERROR', 'INSUFFICIENT_ARGS']);
        assert.deepEqual(await rpc(['t4', ['FOO', 'bar']]), ['t4', 'ERROR', 'NO_COOKIE']);
        assert.deepEqual(await rpc(['t5', ['IS_NEW_CHANNEL', 12]]), ['t5', 'ERROR', 'INVALID_CHAN']);
        assert.deepEqual(await rpc(['t6', ['GET_FILE_SIZE', 'x']]), ['t6', 'ERROR', 'INVALID_CHAN']);
        assert.deepEqual(await rpc(['t7', ['WRITE_PRIVATE_MESSAGE', 'notarray']]), ['t7', 'ERROR', 'INVALID_ARGS']);
        assert.deepEqual(await rpc(['t8', ['sig', 'pub', null, 'COOKIE', '']]), ['t8', 'ERROR', 'INVALID_SIGNATURE_OR_PUBLIC_KEY']);
        // a null argument to a signed command (crashes the reference's main process, Q9): no cookie yet
        assert.deepEqual(await rpc(['t9', ['sig', 'pub', null, 'REMOVE_OWNED_CHANNEL', null]]), ['t9', 'ERROR', 'NO_COOKIE']);
        // Signed requests with null or wrong-typed arguments (SERVER-API.md Q9: they
        // crash the reference's main process): a real key, a real cookie.
        const kp = nacl.sign.keyPair();
        const pub = naclUtil.encodeBase64(kp.publicKey);
        const signed = (txid, cookie, cmd, arg) => {
            const inner = JSON.stringify([cookie, cmd, arg]);
            const sig = naclUtil.encodeBase64(nacl.sign.detached(naclUtil.decodeUTF8(inner), kp.secretKey));
            return rpc([txid, [sig, pub, cookie, cmd, arg]]);
        };
        const cookieReply = await signed('s1', null, 'COOKIE', '');
        assert.equal(cookieReply[0], 's1');
        assert.match(cookieReply[1], /^\d+\|\d+\|[0-9a-f]+$/);
        const cookie = cookieReply[1];
        assert.deepEqual((await signed('s2', cookie, 'REMOVE_OWNED_CHANNEL', null)).slice(1), ['ERROR', 'INVALID_ARGUMENTS']);
        assert.deepEqual((await signed('s3', cookie, 'SET_METADATA', null)).slice(1), ['ERROR', 'INVALID_CHAN']);
        assert.deepEqual((await signed('s4', cookie, 'SET_METADATA', { channel: ch, command: 5 })).slice(1), ['ERROR', 'INVALID_COMMAND']);
        assert.deepEqual((await signed('s5', cookie, 'CLEAR_OWNED_CHANNEL', [ch])).slice(1), ['ERROR', 'INVALID_ARGUMENTS']);
        assert.deepEqual((await signed('s6', cookie, 'REMOVE_OWNED_CHANNEL', { channel: ch })).slice(1), ['ERROR', 'E_NO_OWNERS']);
        // Still served, nothing lost, nothing stored under a bogus name.
        assert.equal((await c.request(['PING']))[1], 'ACK');
        assert.equal((await c.request(['MSG', ch, 'kept-2']))[1], 'ACK');
        assert.deepEqual((await c.history(ch)).map((m) => m[4]), ['kept-1', 'kept-2']);
        c.close();
    } finally { await srv.stop(); }
});
