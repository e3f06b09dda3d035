'use strict';
// SERVER-API.md §8 items 27-34: anonymous channel queries (§2.2).
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const {
    startApiServer, Rpc, RawClient, createChannel, chan32, keyPair, pub, blobId, tryConfig,
    chanFile, readLines, sleep, IS_REFERENCE,
} = require('../lib/api');

let srv;
before(async () => { srv = await startApiServer({ name: 'api-anon' }); });
after(async () => { if (srv) { await srv.stop(); } });

const rpc = (kp) => Rpc.open(srv, kp);

describe('§8 anonymous channel queries', { concurrency: true }, () => {
    it('§8.27 GET_FILE_SIZE of an invalid id → INVALID_CHAN; of an unknown 48-hex id → 0', async () => {
        const r = await rpc();
        try {
            assert.deepEqual(await r.anon('GET_FILE_SIZE', 'xyz', { txid: 't' }), ['t', 'ERROR', 'INVALID_CHAN']);
            assert.deepEqual(await r.anon('GET_FILE_SIZE', blobId(), { txid: 't2' }), ['t2', null, 0, null]);
            assert.deepEqual(await r.anon('GET_FILE_SIZE', chan32(), { txid: 't3' }), ['t3', null, 0, null]);
        } finally { r.close(); }
    });

    it('§8.28 IS_NEW_CHANNEL of a 48-char id → INVALID_CHAN; of an unknown channel → {"isNew":true}', async () => {
        const r = await rpc();
        try {
            assert.deepEqual(await r.anon('IS_NEW_CHANNEL', blobId(), { txid: 't' }), ['t', 'ERROR', 'INVALID_CHAN']);
            assert.deepEqual(await r.anon('IS_NEW_CHANNEL', chan32(), { txid: 't2' }), ['t2', null, { isNew: true }, null]);
        } finally { r.close(); }
    });

    it('§8.29 IS_NEW_CHANNEL after GET_HISTORY created only metadata → {"isNew":true}; after one message → {"isNew":false}', async () => {
        const r = await rpc();
        try {
            const ch = chan32();
            await createChannel(r.c, ch, { owners: [pub(keyPair())] });
            assert.deepEqual(await r.anon('IS_NEW_CHANNEL', ch, { txid: 't' }), ['t', null, { isNew: true }, null]);
            assert.equal((await r.c.msg(ch, 'first message'))[1], 'ACK');
            assert.deepEqual(await r.anon('IS_NEW_CHANNEL', ch, { txid: 't2' }), ['t2', null, { isNew: false }, null]);
        } finally { r.close(); }
    });

    it('§8.30 GET_METADATA of an unknown channel → {}; of the 33-zero channel → {channel, creation, owners: the admins}', async () => {
        const r = await rpc();
        try {
            assert.deepEqual(await r.anon('GET_METADATA', chan32(), { txid: 't' }), ['t', null, {}, null]);
            const z = '0'.repeat(33);
            const body = await r.anon('GET_METADATA', z, { txid: 't2' });
            assert.equal(body[1], null, JSON.stringify(body));
            const md = body[2];
            assert.equal(md.channel, z);
            assert.equal(typeof md.creation, 'number');
            assert.ok(Math.abs(md.creation - Date.now()) < 60000, 'creation = now');
            assert.ok(Array.isArray(md.owners));
            const cfg = srv.http ? await tryConfig(srv.http) : null;
            if (cfg) {
                assert.deepEqual(md.owners.slice().sort(), cfg.adminKeys.slice().sort(), 'owners = /api/config adminKeys');
            } else if (!srv.external) {
                const { ADMIN_KEY } = require('../lib/api');
                assert.deepEqual(md.owners, [ADMIN_KEY], 'owners = --admin-keys');
            }
            if (srv.hasAdmin) {
                const { ADMIN_KEY } = require('../lib/api');
                assert.ok(md.owners.includes(ADMIN_KEY), `the configured admin is an owner: ${JSON.stringify(md.owners)}`);
            }
        } finally { r.close(); }
    });

    it('§8.31 GET_METADATA of a restricted channel from an unauthorised connection → {"restricted":true,"allowed":[...],"rejected":true}', async () => {
        const O = keyPair(); const A = keyPair();
        const owner = await rpc(O);
        const stranger = await rpc(keyPair());
        try {
            const ch = chan32();
            await owner.getCookie();
            await createChannel(owner.c, ch, { owners: [pub(O)], restricted: true, allowed: [pub(A)] });
            const body = await stranger.anon('GET_METADATA', ch, { txid: 't' });
            assert.equal(body[1], null, JSON.stringify(body));
            assert.equal(body[2].restricted, true);
            assert.equal(body[2].rejected, true);
            assert.deepEqual(body[2].allowed, [pub(O), pub(A)]);
            assert.deepEqual(Object.keys(body[2]).sort(), ['allowed', 'rejected', 'restricted']);
            // an authenticated stranger (key not allowed) is still rejected
            await stranger.getCookie();
            assert.equal((await stranger.anon('GET_METADATA', ch))[2].rejected, true);
            // the owner's connection gets the full metadata
            const full = (await owner.anon('GET_METADATA', ch))[2];
            assert.equal(full.channel, ch);
            assert.deepEqual(full.owners, [pub(O)]);
            assert.equal(full.rejected, undefined);
        } finally { owner.close(); stranger.close(); }
    });

    it('§8.32 GET_DELETED_PADS [validUnknown,"bad"] → [validUnknown]', async () => {
        const r = await rpc();
        try {
            const unknown = chan32();
            assert.deepEqual(await r.anon('GET_DELETED_PADS', [unknown, 'bad'], { txid: 't' }), ['t', null, [unknown], null]);
            // a channel with content is not listed
            const ch = chan32();
            await createChannel(r.c, ch, {});
            assert.equal((await r.c.msg(ch, 'content'))[1], 'ACK');
            assert.deepEqual(await r.anon('GET_DELETED_PADS', [ch, unknown], { txid: 't2' }), ['t2', null, [unknown], null]);
        } finally { r.close(); }
    });

    it('§8.33 WRITE_PRIVATE_MESSAGE ["<32 hex>","hello"] appends [0,null,"MSG",id,"hello",ms], members get that frame; reply [t,null,<ms or null>,null]', async () => {
        const sender = await rpc();
        const member = await RawClient.connect(srv.url);
        try {
            // a channel that exists, with a member
            const ch = chan32();
            await createChannel(member, ch, {});
            await sleep(50);
            const t0 = Date.now();
            const body = await sender.anon('WRITE_PRIVATE_MESSAGE', [ch, 'hello'], { txid: 't' });
            assert.equal(body.length, 4, JSON.stringify(body));
            assert.equal(body[0], 't');
            assert.equal(body[1], null, JSON.stringify(body));
            assert.equal(body[3], null);
            assert.ok(body[2] === null || typeof body[2] === 'number', JSON.stringify(body));
            const f = await member.waitFor((m) => m[2] === 'MSG' && m[3] === ch);
            assert.equal(f.length, 6, JSON.stringify(f));
            assert.deepEqual(f.slice(0, 5), [0, null, 'MSG', ch, 'hello']);
            assert.equal(typeof f[5], 'number');
            assert.ok(f[5] >= t0 - 1000 && f[5] <= Date.now() + 1000);
            if (typeof body[2] === 'number') { assert.equal(body[2], f[5], 'the reply is the stored time'); }
            const h = await member.getHistory(ch, { txid: 'h' });
            // (history replays carry the request's txid in element 0)
            assert.deepEqual(h.messages.map((m) => m.slice(1, 5)), [[null, 'MSG', ch, 'hello']]);
            if (srv.dataDir) {
                const lines = readLines(chanFile(srv.dataDir, ch)).map((l) => JSON.parse(l));
                assert.deepEqual(lines[lines.length - 1], f);
            }
            // a channel that did not exist yet: created; the reply is null (reference) or the time
            const fresh = chan32();
            const b2 = await sender.anon('WRITE_PRIVATE_MESSAGE', [fresh, 'hello'], { txid: 't2' });
            assert.equal(b2[1], null, JSON.stringify(b2));
            assert.ok(b2[2] === null || typeof b2[2] === 'number');
            if (IS_REFERENCE) { assert.equal(b2[2], null); }
            if (IS_REFERENCE) { await sleep(100); }
            assert.deepEqual(await sender.anon('IS_NEW_CHANNEL', fresh, { txid: 't3' }), ['t3', null, { isNew: false }, null]);
            if (srv.dataDir) {
                const lines = readLines(chanFile(srv.dataDir, fresh)).map((l) => JSON.parse(l));
                assert.equal(lines.length, 1);
                assert.deepEqual(lines[0].slice(0, 5), [0, null, 'MSG', fresh, 'hello']);
                assert.equal(fs.existsSync(chanFile(srv.dataDir, fresh, '.metadata.ndjson')), false, 'no metadata written');
            }
        } finally { sender.close(); member.close(); }
    });

    it('§8.34 WRITE_PRIVATE_MESSAGE to the 33-zero channel from a non-admin → INSUFFICIENT_PERMISSIONS', async () => {
        const r = await rpc(keyPair());
        try {
            const z = '0'.repeat(33);
            assert.deepEqual(await r.anon('WRITE_PRIVATE_MESSAGE', [z, 'broadcast'], { txid: 't' }), ['t', 'ERROR', 'INSUFFICIENT_PERMISSIONS']);
            await r.getCookie(); // an authenticated non-admin session
            assert.deepEqual(await r.anon('WRITE_PRIVATE_MESSAGE', [z, 'broadcast'], { txid: 't2' }), ['t2', 'ERROR', 'INSUFFICIENT_PERMISSIONS']);
        } finally { r.close(); }
    });
});
