'use strict';
// Pins and quotas beyond the SERVER-API.md §8 checklist: refusals that lose nothing, quota changes
// by decree, shared quotas, Q4/Q5/Q6/Q9, tags, a torn pin log, the reference's pins/ directory.
// Signatures are made with tweetnacl, as the real client does.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer } = require('./lib');
const { RawClient, nacl, naclUtil } = require('../conformance/lib/client');

const EMPTY_HASH = 'slspTLTetp6gCkw88xE5BIAbYBXllWvQGahXCx/h1gQOlE7zze4W0KRlA8puZZol8hz5zt3BPzUqPJgTjBXWrw==';
const chan = () => crypto.randomBytes(16).toString('hex');
const pub = (kp) => naclUtil.encodeBase64(kp.publicKey);
const safe = (k) => k.replace(/\//g, '-');
const pinHash = (ids) => crypto.createHash('sha512').update(JSON.stringify([...new Set(ids)].sort())).digest('base64');
const keyWith = (pred) => { for (;;) { const kp = nacl.sign.keyPair(); if (pred(pub(kp))) { return kp; } } };
const pinLog = (dataDir, key) => path.join(dataDir, 'data', 'pins', safe(key).slice(0, 2), safe(key) + '.ndjson');
const readOr = (p, d = '') => { try { return fs.readFileSync(p, 'utf8'); } catch (e) { return d; } };

// A signed-RPC session for one key on its own connection.
class Session {
    static async open(url, kp) {
        const s = new Session();
        s.kp = kp;
        s.c = await RawClient.connect(url);
        await s.c.getHk();
        s.cookie = null;
        const b = await s.call('COOKIE', '');
        assert.ok(typeof b[1] === 'string' && b[1].includes('|'), JSON.stringify(b));
        return s;
    }
    async call(cmd, arg) {
        const { body } = await this.c.signedRpc(this.kp, this.cookie, cmd, arg, { timeout: 10000 });
        if (Array.isArray(body) && typeof body[1] === 'string' && body[1].includes('|')) { this.cookie = body[1]; }
        return body;
    }
    async ok(cmd, arg) {
        const b = await this.call(cmd, arg);
        assert.ok(Array.isArray(b) && b[1] !== 'ERROR', `${cmd} ${JSON.stringify(arg)} -> ${JSON.stringify(b)}`);
        return b.slice(2);
    }
    async err(cmd, arg) {
        const b = await this.call(cmd, arg);
        assert.equal(b[1], 'ERROR', `${cmd} ${JSON.stringify(arg)} -> ${JSON.stringify(b)}`);
        return b[2];
    }
    async anon(cmd, arg) { return (await this.c.rpc([cmd, arg], { timeout: 10000 })).body; }
    async admin(...args) { return this.ok('ADMIN', args); }
    close() { this.c.close(); }
}

// A channel of about `len` bytes, written with WRITE_PRIVATE_MESSAGE; returns [id, size].
async function makeChannel(s, len) {
    const id = chan();
    const b = await s.anon('WRITE_PRIVATE_MESSAGE', [id, 'x'.repeat(len)]);
    assert.equal(b[1], null, JSON.stringify(b));
    const size = (await s.anon('GET_FILE_SIZE', id))[2];
    assert.ok(size > len, `size ${size}`);
    return [id, size];
}

const ADMIN = nacl.sign.keyPair();

describe('pins and quotas', { concurrency: false }, () => {
    let srv;
    let admin;
    before(async () => {
        srv = await startServer({ args: ['--admin-keys', pub(ADMIN), '--default-storage-limit', '3000'] });
        admin = await Session.open(srv.url, ADMIN);
    });
    after(async () => { if (admin) { admin.close(); } if (srv) { await srv.stop(); } });

    it('a PIN above the quota is refused with E_OVER_LIMIT, writes nothing and loses nothing; SET_QUOTA lets it through', async () => {
        const u = await Session.open(srv.url, nacl.sign.keyPair());
        try {
            const key = pub(u.kp);
            const [a, sa] = await makeChannel(u, 1500);
            const [b, sb] = await makeChannel(u, 1500);
            const bLog = readOr(path.join(srv.dataDir, 'datastore', b.slice(0, 2), b + '.ndjson'));
            await u.ok('PIN', [a]);
            assert.deepEqual(await u.ok('GET_TOTAL_SIZE', key), [sa]);
            const logBefore = readOr(pinLog(srv.dataDir, key));
            assert.equal(logBefore.split('\n').filter(Boolean).length, 1);

            assert.equal(await u.err('PIN', [b]), 'E_OVER_LIMIT');
            assert.equal(await u.err('PIN', [a, b]), 'E_OVER_LIMIT'); // a is already pinned: only b counts
            assert.equal(await u.err('PIN', [`${b}#drive`]), 'E_OVER_LIMIT'); // a tagged id counts its document
            assert.equal(readOr(pinLog(srv.dataDir, key)), logBefore, 'the refused PINs wrote nothing');
            assert.deepEqual(await u.ok('GET_HASH', key), [pinHash([a])]);
            assert.deepEqual(await u.ok('GET_TOTAL_SIZE', key), [sa]);
            assert.equal((await u.anon('GET_FILE_SIZE', b))[2], sb, 'the refused document is intact');
            assert.equal(readOr(path.join(srv.dataDir, 'datastore', b.slice(0, 2), b + '.ndjson')), bLog);

            // raise the limit by decree, with the "[user@host/KEY-with-dashes]" form of the id
            await admin.admin('ADMIN_DECREE', ['SET_QUOTA', [`[bob@localhost/${safe(key)}]`, { limit: 10000, plan: 'pro', note: 'hi' }]]);
            assert.deepEqual(await u.ok('GET_LIMIT', null), [10000, 'pro', 'hi']);
            assert.equal((await u.anon('IS_PREMIUM', key))[2], true);
            await u.ok('PIN', [b]);
            assert.deepEqual(await u.ok('GET_HASH', key), [pinHash([a, b])]);
            assert.deepEqual(await u.ok('GET_TOTAL_SIZE', key), [sa + sb]);

            // back to the default: over the quota now; PIN of anything new is refused, RESET is not (Q6)
            await admin.admin('ADMIN_DECREE', ['RM_QUOTA', [key]]);
            assert.deepEqual(await u.ok('UPDATE_LIMITS', []), [3000, '', '']);
            assert.equal((await u.anon('IS_PREMIUM', key))[2], false);
            const c = chan(); // empty: size 0, but there is no free space at all
            assert.equal(await u.err('PIN', [c]), 'E_OVER_LIMIT');
            await u.ok('RESET', [a, b, c]);
            assert.deepEqual(await u.ok('GET_HASH', key), [pinHash([a, b, c])]);
            // UNPIN frees space again
            await u.ok('UNPIN', [b]);
            await u.ok('PIN', [c]); // already pinned: nothing to do
            const [d] = await makeChannel(u, 100);
            await u.ok('PIN', [d]);
            assert.deepEqual(await u.ok('GET_HASH', key), [pinHash([a, c, d])]);
        } finally { u.close(); }
    });

    it('limits are looked up by the unsafe key, also by UPDATE_LIMITS (Q4)', async () => {
        const kp = keyWith((k) => k.includes('/'));
        const u = await Session.open(srv.url, kp);
        try {
            await admin.admin('ADMIN_DECREE', ['SET_QUOTA', [pub(kp), { limit: 123456, plan: '', note: 'slash' }]]);
            assert.deepEqual(await u.ok('GET_LIMIT', null), [123456, '', 'slash']);
            assert.deepEqual(await u.ok('UPDATE_LIMITS', null), [123456, '', 'slash']);
            assert.equal((await u.anon('IS_PREMIUM', pub(kp)))[2], false, 'an empty plan is not premium');
            // the dashed 44-char form names the same key
            await admin.admin('ADMIN_DECREE', ['RM_QUOTA', [safe(pub(kp))]]);
            assert.deepEqual(await u.ok('UPDATE_LIMITS', null), [3000, '', '']);
        } finally { u.close(); }
    });

    it('a shared quota (users) counts the union of the users\' pins once', async () => {
        const u1 = await Session.open(srv.url, nacl.sign.keyPair());
        const u2 = await Session.open(srv.url, nacl.sign.keyPair());
        try {
            const [a, sa] = await makeChannel(u1, 500);
            const [b, sb] = await makeChannel(u1, 700);
            await u1.ok('PIN', [a]);
            await u2.ok('PIN', [a, b]);
            const users = [pub(u1.kp), pub(u2.kp)];
            await admin.admin('ADMIN_DECREE', ['SET_QUOTA', [pub(u1.kp), { limit: 5000, plan: 'team', note: '', users }]]);
            assert.deepEqual(await u1.ok('GET_TOTAL_SIZE', null), [sa + sb]);
            assert.deepEqual(await u2.ok('GET_TOTAL_SIZE', null), [sa + sb], 'u2 has no limit entry: its own pins');
            assert.deepEqual(await admin.admin('GET_USER_TOTAL_SIZE', pub(u1.kp)), [sa + sb]);
        } finally { u1.close(); u2.close(); }
    });

    it('tags: the cache is cleaned like the disk (Q5); PIN "d#drive" of a pinned d writes nothing; UNPIN strips tags', async () => {
        const u = await Session.open(srv.url, nacl.sign.keyPair());
        try {
            const key = pub(u.kp);
            const a = chan(); const d = chan(); const block = pub(nacl.sign.keyPair());
            await u.ok('RESET', [a, `${d}#drive`, `${block}#block`]);
            assert.deepEqual(await u.ok('GET_HASH', key), [pinHash([a, d])]);
            const before = readOr(pinLog(srv.dataDir, key));
            await u.ok('PIN', [`${d}#drive`, a, `${block}#block`]);
            assert.equal(readOr(pinLog(srv.dataDir, key)), before, 'nothing new: no line');
            await u.ok('UNPIN', [`${d}#whatever`]);
            assert.deepEqual(await u.ok('GET_HASH', key), [pinHash([a])]);
            const lines = readOr(pinLog(srv.dataDir, key)).split('\n').filter(Boolean).map((l) => JSON.parse(l));
            assert.deepEqual(lines.map((l) => l[0]), ['RESET', 'UNPIN']);
            assert.deepEqual(lines[0][1], [a, `${d}#drive`, `${block}#block`], 'RESET is written as given');
            assert.deepEqual(await admin.admin('GET_PIN_LIST', key), [a]);
            assert.deepEqual(await admin.admin('GET_USER_STORAGE_STATS', key), [{ channels: 1, files: 0 }]);
        } finally { u.close(); }
    });

    it('every argument shape of PIN/UNPIN/RESET gets a reply (Q9); non-string entries are dropped', async () => {
        const u = await Session.open(srv.url, nacl.sign.keyPair());
        try {
            for (const cmd of ['PIN', 'UNPIN', 'RESET']) {
                for (const bad of [null, 0, 5, 'x', true, {}, { 0: 'a' }]) {
                    assert.equal(await u.err(cmd, bad), 'INVALID_PIN_LIST', `${cmd} ${JSON.stringify(bad)}`);
                }
            }
            const a = chan();
            await u.ok('PIN', [null, 5, {}, [], '', a, a]);
            const lines = readOr(pinLog(srv.dataDir, pub(u.kp))).split('\n').filter(Boolean).map((l) => JSON.parse(l));
            assert.equal(lines.length, 1);
            assert.deepEqual(lines[0][1], [a]);
            assert.ok(Math.abs(lines[0][2] - Date.now()) < 60000);
            await u.ok('RESET', []); // a no-op: the pins stay
            assert.deepEqual(await u.ok('GET_HASH', null), [pinHash([a])]);
            assert.equal(await u.err('TRIM_PINS', null), 'NOT_IMPLEMENTED');
            assert.equal((await u.anon('IS_CHANNEL_PINNED', null))[2], true);
            for (const bad of [null, 5, {}, ['x']]) {
                assert.equal((await u.anon('IS_PREMIUM', bad))[2], false);
            }
        } finally { u.close(); }
    });

    it('REMOVE_PINS archives the log and ends the session; the pins are gone for the next session', async () => {
        const kp = nacl.sign.keyPair();
        const u = await Session.open(srv.url, kp);
        try {
            const a = chan();
            await u.ok('PIN', [a]);
            const b = await u.call('REMOVE_PINS', null);
            assert.equal(b[2], 'OK');
            assert.match(b[1], /^\d+\|\d+\|$/, 'the reply cookie has no token: the session is gone');
            assert.equal(await u.err('GET_HASH', null), 'NO_COOKIE');
            assert.deepEqual(await admin.admin('GET_PIN_LOG_STATUS', pub(kp)), [{ live: false, archived: true }]);
            u.cookie = null;
            await u.call('COOKIE', '');
            assert.deepEqual(await u.ok('GET_HASH', null), [EMPTY_HASH]);
            assert.equal((await u.call('REMOVE_PINS', null))[2], 'OK', 'a second REMOVE_PINS has nothing to move: still OK');
        } finally { u.close(); }
    });
});

describe('pin logs on disk', { concurrency: false }, () => {
    it('a torn last line (a crash mid-append) costs only that line; the next PIN stays readable across restarts', async () => {
        const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-pins-'));
        const kp = nacl.sign.keyPair();
        const key = pub(kp);
        const a = chan(); const b = chan(); const c = chan();
        let srv = await startServer({ dataDir });
        let u = await Session.open(srv.url, kp);
        await u.ok('PIN', [a]);
        u.close();
        await srv.stop();
        fs.appendFileSync(pinLog(dataDir, key), `["PIN",["${b}"`); // torn: no end, no newline
        srv = await startServer({ dataDir });
        try {
            u = await Session.open(srv.url, kp);
            assert.deepEqual(await u.ok('GET_HASH', null), [pinHash([a])]);
            await u.ok('PIN', [c]);
            u.close();
        } finally { await srv.stop(); }
        srv = await startServer({ dataDir });
        try {
            u = await Session.open(srv.url, kp);
            assert.deepEqual(await u.ok('GET_HASH', null), [pinHash([a, c])]);
            const lines = readOr(pinLog(dataDir, key)).split('\n');
            assert.equal(lines[1], `["PIN",["${b}"`);
            assert.equal(JSON.parse(lines[2])[1][0], c);
            u.close();
        } finally { await srv.stop(); }
    });

    it('a data directory with the reference\'s default pins/ (no data/pins) keeps its pins', async () => {
        const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-pins-'));
        const kp = keyWith((k) => k.includes('/'));
        const key = pub(kp);
        const a = chan(); const d = chan();
        const p = path.join(dataDir, 'pins', safe(key).slice(0, 2), safe(key) + '.ndjson');
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, `["RESET",["${a}","${d}#drive"],1700000000000]\nnot json\n\n["UNPIN",["${a}"],1700000000001]\n["PIN",["${a}"],1700000000002]\n`);
        const srv = await startServer({ dataDir });
        try {
            const u = await Session.open(srv.url, kp);
            assert.deepEqual(await u.ok('GET_HASH', null), [pinHash([a, d])]);
            const b = chan();
            await u.ok('PIN', [b]);
            assert.ok(fs.readFileSync(p, 'utf8').includes(b), 'appended to the existing log');
            assert.ok(!fs.existsSync(path.join(dataDir, 'data', 'pins')), 'no second pin directory');
            u.close();
        } finally { await srv.stop(); }
    });
});
