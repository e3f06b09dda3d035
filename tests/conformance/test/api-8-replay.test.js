'use strict';
// Replay protection of signed RPCs (issue 4 point 1, SERVER-API.md §1.10 and Q1): blindpad
// enforces the cookie age the reference means to check (its Date parsing makes the check a no-op).
// A captured request can be replayed only within 300 s of the reply whose cookie it carries.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startApiServer, Rpc, keyPair, skipOnReference } = require('../lib/api');

let srv;
before(async () => { srv = await startApiServer({ name: 'api-replay' }); });
after(async () => { if (srv) { await srv.stop(); } });

// The cookie "<t>|<pid>|<token>" with its time part replaced.
const withTime = (cookie, t) => `${t}|${cookie.split('|').slice(1).join('|')}`;

describe('replay protection (Q1)', { concurrency: true }, () => {
    it('a fresh cookie works; the same session token with a time 10 min old is refused with NO_COOKIE', async (t) => {
        if (skipOnReference(t, 'the reference never checks the cookie time (Q1)')) { return; }
        const r = await Rpc.open(srv, keyPair());
        try {
            const cookie = await r.getCookie();
            assert.equal((await r.signed('GET_LIMIT', null))[1], r.cookie, 'a fresh cookie is accepted');
            const t0 = Number(cookie.split('|')[0]);
            const old = withTime(cookie, t0 - 10 * 60 * 1000);
            const body = await r.raw(r.envelope('GET_LIMIT', null, { cookie: old }));
            assert.deepEqual(body.slice(1), ['ERROR', 'NO_COOKIE']);
            // 4 min old is still inside the window; a time in the future is not.
            const recent = await r.raw(r.envelope('GET_LIMIT', null, { cookie: withTime(cookie, t0 - 4 * 60 * 1000) }));
            assert.notEqual(recent[1], 'ERROR', JSON.stringify(recent));
            const future = await r.raw(r.envelope('GET_LIMIT', null, { cookie: withTime(cookie, t0 + 60 * 60 * 1000) }));
            assert.deepEqual(future.slice(1), ['ERROR', 'NO_COOKIE']);
            const junk = await r.raw(r.envelope('GET_LIMIT', null, { cookie: withTime(cookie, 'abc') }));
            assert.deepEqual(junk.slice(1), ['ERROR', 'NO_COOKIE']);
        } finally { r.close(); }
    });

    it('a client holding a stale cookie recovers with one COOKIE round trip (§1.11)', async (t) => {
        if (skipOnReference(t, 'the reference never checks the cookie time (Q1)')) { return; }
        const r = await Rpc.open(srv, keyPair());
        try {
            const cookie = await r.getCookie();
            r.cookie = withTime(cookie, Number(cookie.split('|')[0]) - 10 * 60 * 1000);
            const vals = await r.ok('GET_LIMIT', null, { retry: true });
            assert.equal(vals.length, 3, JSON.stringify(vals));
        } finally { r.close(); }
    });
});
