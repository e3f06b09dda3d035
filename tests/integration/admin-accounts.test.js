'use strict';
// ADMIN commands about accounts and people (SERVER-API.md §2.10, §4.7, §4.10): invitations used
// by a registration under --restrict-registration, known users, moderators in /api/config (kept
// across a restart), DISABLE_MFA, account archival and restoration (documents, pin log, block,
// MFA settings, the report), ARCHIVE_SUPPORT, the logo, GET_CACHED_CHANNEL_INDEX, and a reply to
// every argument shape. Signatures are made with tweetnacl (tests/conformance/lib/api.js).
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const {
    ADMIN_KP, ADMIN_KEY, startApiServer, decorate, Rpc, RawClient, createChannel, chan32, keyPair, pub, safeKey,
    request, getConfig, authCommand, writeBlock, blockPath, base32, totp, uploadBlob, findPath,
    pinLogCandidates, archivedPinCandidates, chanFile,
} = require('../conformance/lib/api');
const { assertServerHealthy } = require('../conformance/lib/client');

const shard = (root, dir, id, sfx = '') => path.join(root, dir, id.slice(0, 2), id + sfx);
// a key pair whose public key has a '/' (so both key forms are exercised)
const slashKeyPair = () => { for (;;) { const kp = keyPair(); if (pub(kp).includes('/')) { return kp; } } };

async function admin(srv) { return Rpc.open(srv, ADMIN_KP); }
// ADMIN [cmd, arg?] that must succeed: the values after [txid, cookie]
async function ok(a, cmd, arg) {
    const body = await a.signed('ADMIN', arg === undefined ? [cmd] : [cmd, arg], { timeout: 20000 });
    assert.ok(Array.isArray(body) && body[1] !== 'ERROR', `${cmd} ${JSON.stringify(arg)} -> ${JSON.stringify(body)}`);
    return body.slice(2);
}
async function err(a, cmd, arg) {
    const body = await a.signed('ADMIN', arg === undefined ? [cmd] : [cmd, arg], { timeout: 20000 });
    assert.equal(body[1], 'ERROR', `${cmd} ${JSON.stringify(arg)} -> ${JSON.stringify(body)}`);
    return body[2];
}

describe('invitations and known users', { concurrency: false }, () => {
    it('an invitation registers one account under restricted registration; the user becomes known; CRUD of known users', async () => {
        const srv = await startApiServer({ name: 'admin-invite', args: ['--restrict-registration', '1'] });
        const a = await admin(srv);
        try {
            const [id] = await ok(a, 'CREATE_INVITATION', { alias: 'alice', email: 'alice@example.org' });
            assert.match(id, /^[0-9a-f]{32}$/);
            const file = shard(srv.dataDir, 'data/invitations', id);
            const onDisk = JSON.parse(fs.readFileSync(file, 'utf8'));
            assert.deepEqual(Object.keys(onDisk), ['alias', 'email', 'createdBy', 'time']);
            assert.equal(onDisk.createdBy, ADMIN_KEY);
            let [all] = await ok(a, 'GET_ALL_INVITATIONS');
            assert.deepEqual(all, { [id]: onDisk });
            const [other] = await ok(a, 'CREATE_INVITATION', {});
            assert.notEqual(other, id);

            // no invitation: refused; with it: registered, once
            const B = keyPair();
            const U = slashKeyPair();
            let w = await writeBlock(srv.http, B, { userData: ['alice', pub(U)] });
            assert.equal(w.s2 ? w.s2.json.errorCode : w.s1.json.error, 'E_RESTRICTED');
            w = await writeBlock(srv.http, B, { inviteToken: id, userData: ['alice', pub(U)] });
            assert.equal(w.s2 && w.s2.status, 200, JSON.stringify(w.s2 ? w.s2.json : w.s1.json));
            assert.equal((await request(srv.http, 'GET', blockPath(B))).status, 200);
            assert.ok(!fs.existsSync(file), 'the invitation is consumed');
            w = await writeBlock(srv.http, keyPair(), { inviteToken: id, userData: ['mallory', pub(keyPair())] });
            assert.equal(w.s2.json.errorCode, 'E_RESTRICTED');
            [all] = await ok(a, 'GET_ALL_INVITATIONS');
            assert.deepEqual(Object.keys(all), [other]);

            let [users] = await ok(a, 'GET_ALL_USERS');
            const su = safeKey(pub(U));
            assert.deepEqual(Object.keys(users), [su]);
            assert.equal(users[su].alias, 'alice');
            assert.equal(users[su].email, 'alice@example.org');
            assert.equal(users[su].name, 'alice');
            assert.equal(users[su].edPublic, pub(U));
            assert.equal(users[su].block, pub(B));
            assert.equal(users[su].type, `invite:${id}`);
            assert.equal(users[su].createdBy, ADMIN_KEY);

            // DELETE_INVITATION: true, also for one that is gone; bad shapes → EINVAL
            assert.deepEqual(await ok(a, 'DELETE_INVITATION', other), [true]);
            assert.deepEqual(await ok(a, 'DELETE_INVITATION', other), [true]);
            assert.deepEqual((await ok(a, 'GET_ALL_INVITATIONS'))[0], {});
            for (const bad of [null, 5, '../x', 'a/b', {}, '']) {
                assert.equal(await err(a, 'DELETE_INVITATION', bad), 'EINVAL', JSON.stringify(bad));
            }
            assert.equal(await err(a, 'CREATE_INVITATION', 'x'), 'EINVAL');
            assert.equal(await err(a, 'CREATE_INVITATION', { alias: 'x'.repeat(20000) }), 'E_TOO_LONG');

            // known users by hand
            const V = slashKeyPair();
            const sv = safeKey(pub(V));
            assert.deepEqual(await ok(a, 'ADD_KNOWN_USER', { edPublic: sv, block: pub(B), alias: 'bob', email: 'b@x', name: 'Bob' }), []);
            [users] = await ok(a, 'GET_ALL_USERS');
            const bob = users[sv];
            assert.deepEqual(Object.keys(bob), ['edPublic', 'block', 'alias', 'email', 'name', 'type', 'createdBy', 'time']);
            assert.equal(bob.edPublic, pub(V), 'stored in the standard form');
            assert.equal(bob.type, 'manual');
            assert.deepEqual(await ok(a, 'UPDATE_KNOWN_USER', { edPublic: pub(V), changes: { alias: 'robert', email: false, note: 7 } }), []);
            [users] = await ok(a, 'GET_ALL_USERS');
            assert.equal(users[sv].alias, 'robert');
            assert.ok(!('email' in users[sv]));
            assert.equal(users[sv].note, 7);
            assert.equal(await err(a, 'UPDATE_KNOWN_USER', { edPublic: pub(V), changes: { alias: 'é'.repeat(301) } }), 'E_TOO_LONG');
            assert.equal((await ok(a, 'GET_ALL_USERS'))[0][sv].alias, 'robert', 'nothing written on E_TOO_LONG');
            assert.equal(await err(a, 'UPDATE_KNOWN_USER', { edPublic: pub(V), changes: 'x' }), 'EINVAL');
            const ghost = pub(keyPair());
            assert.deepEqual(await ok(a, 'UPDATE_KNOWN_USER', { edPublic: ghost, changes: { alias: 'g' } }), [], 'unknown user: nothing (reference)');
            assert.ok(!(safeKey(ghost) in (await ok(a, 'GET_ALL_USERS'))[0]));
            for (const bad of [null, 'x', { edPublic: 'short' }, { edPublic: 5 }, { edPublic: 'A'.repeat(44) + '=' }]) {
                assert.equal(await err(a, 'ADD_KNOWN_USER', bad), 'EINVAL', JSON.stringify(bad));
                assert.equal(await err(a, 'UPDATE_KNOWN_USER', bad), 'EINVAL', JSON.stringify(bad));
            }
            assert.deepEqual(await ok(a, 'DELETE_KNOWN_USER', sv), [true]);
            assert.deepEqual(await ok(a, 'DELETE_KNOWN_USER', sv), [true]);
            assert.equal(await err(a, 'DELETE_KNOWN_USER', '../../block'), 'EINVAL');
            [users] = await ok(a, 'GET_ALL_USERS');
            assert.deepEqual(Object.keys(users), [su]);
            // a record that does not parse is listed as an error, not a failure
            fs.writeFileSync(shard(srv.dataDir, 'data/users', su), '{not json');
            [users] = await ok(a, 'GET_ALL_USERS');
            assert.deepEqual(users[su], { error: 'EINVAL' });
        } finally { a.close(); await srv.stop(); }
    });
});

describe('moderators', { concurrency: false }, () => {
    it('ADD_MODERATOR / REMOVE_MODERATOR change /api/config moderatorKeys, kept across a restart', async () => {
        const srv = await startApiServer({ name: 'admin-moderators' });
        let a = await admin(srv);
        try {
            const M = slashKeyPair();
            const data = { name: 'Mod', edPublic: pub(M), curvePublic: pub(keyPair()), mailbox: 'mb', profile: 'pr' };
            assert.deepEqual(await ok(a, 'ADD_MODERATOR', data), []);
            assert.deepEqual(await ok(a, 'ADD_MODERATOR', { ...data, name: 'Mod2' }), [], 'again: replaced, listed once');
            assert.deepEqual((await getConfig(srv.http)).moderatorKeys, [pub(M)]);
            const [mods] = await ok(a, 'GET_MODERATORS', {});
            assert.deepEqual(Object.keys(mods), [pub(M)]);
            assert.equal(mods[pub(M)].name, 'Mod2');
            assert.equal(mods[pub(M)].createdBy, ADMIN_KEY);
            assert.ok(fs.existsSync(shard(srv.dataDir, 'data/support', safeKey(pub(M)))));
            a.close();
            await srv.restart();
            decorate(srv);
            a = await admin(srv);
            assert.deepEqual((await getConfig(srv.http)).moderatorKeys, [pub(M)], 'loaded from data/support at start');
            assert.equal(await err(a, 'ADD_MODERATOR', { name: 'x' }), 'EINVAL');
            assert.equal(await err(a, 'REMOVE_MODERATOR', 5), 'EINVAL');
            assert.deepEqual(await ok(a, 'REMOVE_MODERATOR', safeKey(pub(M))), [true]);
            assert.deepEqual(await ok(a, 'REMOVE_MODERATOR', pub(M)), [true]);
            assert.deepEqual((await getConfig(srv.http)).moderatorKeys, []);
            assert.deepEqual((await ok(a, 'GET_MODERATORS'))[0], {});
        } finally { a.close(); await srv.stop(); }
    });
});

// TOTP on a block: returns {secretBytes, bearer}
async function setupTotp(srv, B) {
    const secretBytes = crypto.randomBytes(20);
    const setup = await authCommand(srv.http, B, 'TOTP_SETUP', { secret: base32(secretBytes), code: totp(secretBytes), contact: 'x@example.org' });
    assert.equal(setup.s2 && setup.s2.status, 200, JSON.stringify(setup.s1.json));
    assert.equal((await request(srv.http, 'GET', blockPath(B))).status, 401);
    return { secretBytes, bearer: setup.s2.json.bearer };
}

describe('DISABLE_MFA', { concurrency: false }, () => {
    it('removes the TOTP settings and sessions: the block is served without a bearer', async () => {
        const srv = await startApiServer({ name: 'admin-mfa' });
        const a = await admin(srv);
        try {
            const B = slashKeyPair();
            assert.equal((await writeBlock(srv.http, B)).s2.status, 200);
            const { bearer } = await setupTotp(srv, B);
            const sk = safeKey(pub(B));
            assert.ok(fs.existsSync(shard(srv.dataDir, 'data/sessions', sk)));
            assert.equal(await err(a, 'DISABLE_MFA', 'short'), 'EINVAL');
            assert.equal(await err(a, 'DISABLE_MFA', { key: pub(B) }), 'EINVAL');
            assert.deepEqual(await ok(a, 'DISABLE_MFA', sk), [{ success: true }]);
            assert.ok(!fs.existsSync(shard(srv.dataDir, 'data/mfa', sk, '.json')));
            assert.ok(!fs.existsSync(shard(srv.dataDir, 'data/sessions', sk)), 'sessions deleted');
            const g = await request(srv.http, 'GET', blockPath(B));
            assert.equal(g.status, 200);
            assert.equal((await request(srv.http, 'GET', blockPath(B), { headers: { Authorization: `Bearer ${bearer}` } })).status, 200);
            assert.equal(await err(a, 'DISABLE_MFA', pub(B)), 'MFA_ERROR', 'nothing to disable (reference)');
            const st = (await ok(a, 'GET_DOCUMENT_STATUS', pub(B)))[0];
            assert.equal(st.totp, 'DISABLED');
        } finally { a.close(); await srv.stop(); }
    });
});

describe('account archival', { concurrency: false }, () => {
    it('ARCHIVE_ACCOUNT archives what the account alone owns, its pin log, block and MFA; RESTORE_ACCOUNT undoes it', async (t) => {
        const srv = await startApiServer({ name: 'admin-account' });
        const a = await admin(srv);
        const U = slashKeyPair();
        const u = await Rpc.open(srv, U);
        const watcher = await RawClient.connect(srv.url);
        try {
            await u.getCookie();
            const mine = chan32(), shared = chan32(), unowned = chan32();
            await createChannel(u.c, mine, { owners: [pub(U)] });
            await createChannel(u.c, shared, { owners: [pub(U), pub(keyPair())] });
            await createChannel(u.c, unowned, {});
            for (const ch of [mine, shared, unowned]) { assert.equal((await u.c.msg(ch, 'hello'))[1], 'ACK'); }
            const blob = await uploadBlob(u, srv.http, crypto.randomBytes(5000), { owned: true });
            const B = keyPair();
            assert.equal((await writeBlock(srv.http, B)).s2.status, 200);
            await setupTotp(srv, B);
            // plus ids of documents that do not exist: several slices of work
            const ghosts = Array.from({ length: 1000 }, () => chan32());
            await u.ok('PIN', [mine, shared, unowned, blob.id, `${pub(B)}#block`, ...ghosts]);
            await watcher.join(mine);

            assert.equal(await err(a, 'GET_ACCOUNT_ARCHIVE_STATUS', { key: pub(U) }), 'ENOENT');
            // two admins at once: one archival per account at a time (EBUSY), or one after the other
            const A2 = keyPair();
            await ok(a, 'ADMIN_DECREE', ['ADD_ADMIN_KEY', [pub(A2)]]);
            const a2 = await Rpc.open(srv, A2); // another key: RPCs of one key are answered in turn
            await a2.getCookie();
            const both = await Promise.all([a, a2].map((x) => x.signed('ADMIN', ['ARCHIVE_ACCOUNT', { key: safeKey(pub(U)), reason: 'spam' }], { timeout: 20000 })));
            a2.close();
            const outcomes = both.map((b) => (b[1] === 'ERROR' ? b[2] : b[2] && b[2].state));
            assert.ok(outcomes.includes(true) && outcomes.every((o) => o === true || o === 'EBUSY'), JSON.stringify(both));
            t.diagnostic(`concurrent ARCHIVE_ACCOUNT: ${JSON.stringify(outcomes)}`);
            const [report] = await ok(a, 'GET_ACCOUNT_ARCHIVE_STATUS', { key: pub(U) });
            assert.deepEqual(report, { key: safeKey(pub(U)), channels: [mine], blobs: [blob.id], blockId: pub(B), reason: 'spam' });
            assert.ok(fs.existsSync(path.join(srv.dataDir, 'data/archive/accounts', safeKey(pub(U)))));
            // the documents
            assert.ok(!fs.existsSync(chanFile(srv.dataDir, mine)));
            assert.equal(fs.readFileSync(chanFile(srv.dataDir, mine, '.ndjson.placeholder'), 'utf8'), 'MODERATION_ACCOUNT:spam');
            assert.ok(fs.existsSync(chanFile(srv.dataDir, shared)), 'co-owned: kept');
            assert.ok(fs.existsSync(chanFile(srv.dataDir, unowned)), 'not owned: kept');
            assert.ok(!fs.existsSync(shard(srv.dataDir, 'blob', blob.id)));
            assert.ok(fs.existsSync(shard(srv.dataDir, 'data/archive/blob', blob.id)));
            const note = await watcher.waitHk((b) => b && b.error === 'EDELETED' && b.channel === mine, 5000, 'EDELETED');
            assert.equal(note.body.message, 'MODERATION_ACCOUNT:spam');
            // the pin log, block and MFA settings
            assert.equal(findPath(srv.dataDir, pinLogCandidates(pub(U))), null);
            assert.ok(findPath(srv.dataDir, archivedPinCandidates(pub(U))));
            const g = await request(srv.http, 'GET', blockPath(B));
            assert.equal(g.status, 404);
            assert.ok(!fs.existsSync(shard(srv.dataDir, 'data/mfa', safeKey(pub(B)), '.json')));
            assert.deepEqual((await ok(a, 'GET_PIN_LOG_STATUS', pub(U)))[0], { live: false, archived: true });

            // a second archival (nothing pinned any more) keeps the report's lists
            assert.deepEqual(await ok(a, 'ARCHIVE_ACCOUNT', { key: pub(U) }), [{ state: true }]);
            assert.deepEqual((await ok(a, 'GET_ACCOUNT_ARCHIVE_STATUS', { key: pub(U) }))[0], report);

            assert.deepEqual(await ok(a, 'RESTORE_ACCOUNT', { key: pub(U) }), [{ state: true, errors: [] }]);
            assert.equal(await err(a, 'GET_ACCOUNT_ARCHIVE_STATUS', { key: pub(U) }), 'ENOENT');
            assert.equal(await err(a, 'RESTORE_ACCOUNT', { key: pub(U) }), 'ENOENT');
            assert.ok(fs.existsSync(chanFile(srv.dataDir, mine)));
            assert.ok(!fs.existsSync(chanFile(srv.dataDir, mine, '.ndjson.placeholder')));
            assert.ok(fs.existsSync(shard(srv.dataDir, 'blob', blob.id)));
            assert.deepEqual((await ok(a, 'GET_PIN_LOG_STATUS', pub(U)))[0], { live: true, archived: false });
            const pins = (await ok(a, 'GET_PIN_LIST', pub(U))).sort();
            assert.deepEqual(pins, [mine, shared, unowned, blob.id, ...ghosts].sort());
            const r = await request(srv.http, 'GET', blockPath(B));
            assert.equal(r.status, 401, 'the block is back with its second factor');
            assert.equal(r.json.method, 'TOTP');

            // shapes
            for (const cmd of ['ARCHIVE_ACCOUNT', 'RESTORE_ACCOUNT', 'GET_ACCOUNT_ARCHIVE_STATUS']) {
                for (const bad of [null, 'x', pub(U), { key: 'short' }, { key: 5 }]) {
                    assert.equal(await err(a, cmd, bad), 'EINVAL', `${cmd} ${JSON.stringify(bad)}`);
                }
            }
            assert.equal(await err(a, 'ARCHIVE_ACCOUNT', { key: pub(U), block: 'not a key' }), 'EINVAL');
            // an account with nothing: archived (empty report), restored
            const E = keyPair();
            assert.deepEqual(await ok(a, 'ARCHIVE_ACCOUNT', { key: pub(E), reason: { code: 1 } }), [{ state: true }]);
            assert.deepEqual((await ok(a, 'GET_ACCOUNT_ARCHIVE_STATUS', { key: pub(E) }))[0],
                { key: safeKey(pub(E)), channels: [], blobs: [], reason: { code: 1 } });
            assert.deepEqual(await ok(a, 'RESTORE_ACCOUNT', { key: pub(E) }), [{ state: true, errors: [] }]);
        } finally { watcher.close(); u.close(); a.close(); await srv.stop(); }
    });

    it('ARCHIVE_SUPPORT archives what the support key pins', async () => {
        const srv = await startApiServer({ name: 'admin-support' });
        const a = await admin(srv);
        const S = keyPair();
        const s = await Rpc.open(srv, S);
        try {
            assert.equal(await err(a, 'ARCHIVE_SUPPORT'), 'EINVAL', 'no support key');
            const ch = chan32();
            await s.getCookie();
            await createChannel(s.c, ch, { owners: [pub(S)] });
            assert.equal((await s.c.msg(ch, 'ticket'))[1], 'ACK');
            await s.ok('PIN', [ch]);
            await ok(a, 'ADMIN_DECREE', ['SET_SUPPORT_KEYS', [pub(keyPair()), pub(S)]]);
            assert.deepEqual(await ok(a, 'ARCHIVE_SUPPORT'), []);
            assert.ok(!fs.existsSync(chanFile(srv.dataDir, ch)));
            assert.equal(fs.readFileSync(chanFile(srv.dataDir, ch, '.ndjson.placeholder'), 'utf8'), 'MODERATION_PAD:DISABLE_SUPPORT');
        } finally { s.close(); a.close(); await srv.stop(); }
    });
});

describe('logo and channel index', { concurrency: false }, () => {
    it('UPLOAD_LOGO stores under the data root, /api/logo serves it with its type; REMOVE_LOGO', async () => {
        const srv = await startApiServer({ name: 'admin-logo' });
        const a = await admin(srv);
        try {
            assert.equal((await request(srv.http, 'GET', '/api/logo')).status, 404, 'no web root, no logo');
            const png = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), crypto.randomBytes(3000)]);
            const url = (mime, bytes) => `data:${mime};base64,${bytes.toString('base64')}`;
            const cfg0 = await getConfig(srv.http);
            assert.deepEqual(await ok(a, 'UPLOAD_LOGO', { dataURL: url('image/png', png) }), [true]);
            assert.ok(fs.readFileSync(path.join(srv.dataDir, 'data', 'logo')).equals(png));
            const g = await request(srv.http, 'GET', '/api/logo');
            assert.equal(g.status, 200);
            assert.equal(g.headers['content-type'], 'image/png');
            assert.equal(g.headers['content-disposition'], 'inline');
            assert.ok(g.body.equals(png));
            assert.notEqual((await getConfig(srv.http)).requireConf.urlArgs, cfg0.requireConf.urlArgs, 'cache key changed');
            const decrees = fs.readFileSync(path.join(srv.dataDir, 'data/decrees/decree.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
            assert.deepEqual(decrees.at(-1).slice(0, 3), ['SET_LOGO_MIME', ['image/png'], ADMIN_KEY]);

            assert.equal(await err(a, 'UPLOAD_LOGO', { dataURL: url('text/html', Buffer.from('<script>')) }), 'EINVAL');
            assert.equal(await err(a, 'UPLOAD_LOGO', { dataURL: 'data:image/png;base64,@@@' }), 'EINVAL');
            assert.equal(await err(a, 'UPLOAD_LOGO', { dataURL: 'no comma' }), 'EINVAL');
            assert.equal(await err(a, 'UPLOAD_LOGO', { dataURL: url('image/png', crypto.randomBytes(210 * 1024)) }), 'E_TOO_LARGE');
            assert.equal(await err(a, 'UPLOAD_LOGO', {}), 'E_TOO_LARGE');
            assert.equal(await err(a, 'UPLOAD_LOGO', { dataURL: 5 }), 'EINVAL');
            assert.equal(await err(a, 'UPLOAD_LOGO', 'x'), 'EINVAL');
            // a decree cannot put a header into the response
            await ok(a, 'ADMIN_DECREE', ['SET_LOGO_MIME', ['text/html\r\nX-Evil: 1']]);
            const h = await request(srv.http, 'GET', '/api/logo');
            assert.equal(h.headers['content-type'], 'application/octet-stream');
            assert.equal(h.headers['x-evil'], undefined);
            // an SVG
            const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>');
            assert.deepEqual(await ok(a, 'UPLOAD_LOGO', { dataURL: url('image/svg+xml', svg) }), [true]);
            assert.equal((await request(srv.http, 'GET', '/api/logo')).headers['content-type'], 'image/svg+xml');

            assert.deepEqual(await ok(a, 'REMOVE_LOGO', {}), []);
            assert.equal((await request(srv.http, 'GET', '/api/logo')).status, 404);
            assert.equal(await err(a, 'REMOVE_LOGO'), 'ENOENT');
        } finally { a.close(); await srv.stop(); }
    });

    it('GET_CACHED_CHANNEL_INDEX: {size, line} for a channel in use, ENOENT otherwise', async () => {
        const srv = await startApiServer({ name: 'admin-index' });
        const a = await admin(srv);
        const c = await RawClient.connect(srv.url);
        try {
            const ch = chan32();
            await createChannel(c, ch, {});
            for (const m of ['one', 'two', 'three']) { assert.equal((await c.msg(ch, m))[1], 'ACK'); }
            const [idx] = await ok(a, 'GET_CACHED_CHANNEL_INDEX', ch);
            assert.equal(idx.line, 3);
            assert.equal(idx.size, fs.statSync(chanFile(srv.dataDir, ch)).size);
            assert.equal(await err(a, 'GET_CACHED_CHANNEL_INDEX', chan32()), 'ENOENT');
            assert.equal(await err(a, 'GET_CACHED_CHANNEL_INDEX', 'short'), 'EINVAL');
        } finally { c.close(); a.close(); await srv.stop(); }
    });
});

const NEW_COMMANDS = [
    'GET_ALL_INVITATIONS', 'CREATE_INVITATION', 'DELETE_INVITATION', 'GET_ALL_USERS', 'ADD_KNOWN_USER',
    'DELETE_KNOWN_USER', 'UPDATE_KNOWN_USER', 'GET_MODERATORS', 'ADD_MODERATOR', 'REMOVE_MODERATOR', 'ARCHIVE_SUPPORT',
    'DISABLE_MFA', 'ARCHIVE_ACCOUNT', 'RESTORE_ACCOUNT', 'GET_ACCOUNT_ARCHIVE_STATUS', 'UPLOAD_LOGO', 'REMOVE_LOGO',
    'GET_CACHED_CHANNEL_INDEX',
];

describe('access and argument shapes', { concurrency: false }, () => {
    it('FORBIDDEN for a non-admin; every shape of every new command gets a reply; the server survives', async () => {
        const srv = await startApiServer({ name: 'admin-shapes' });
        const a = await admin(srv);
        const user = await Rpc.open(srv, keyPair());
        try {
            for (const cmd of NEW_COMMANDS) {
                const b = await user.signed('ADMIN', [cmd, {}]);
                assert.deepEqual(b.slice(1), ['ERROR', 'FORBIDDEN'], cmd);
            }
            const k = pub(keyPair());
            const shapes = [undefined, null, 0, 7, -1, 1e300, '', 'x', 'a'.repeat(44), k, true, false, {}, [], ['x'],
                { key: null }, { key: k }, { key: 5, block: 5 }, { edPublic: k, changes: null }, { edPublic: 7 },
                { dataURL: null }, { dataURL: 'data:;base64,' }, { dataURL: 'data:image/png;base64,' }, { id: 5 }, [[[]]]];
            for (const cmd of NEW_COMMANDS) {
                for (const arg of shapes) {
                    const req = arg === undefined ? [cmd] : [cmd, arg];
                    const b = await a.signed('ADMIN', req, { timeout: 20000 });
                    assert.ok(Array.isArray(b) && b.length >= 2, `${JSON.stringify(req)} -> ${JSON.stringify(b)}`);
                }
            }
            await assertServerHealthy(srv.url, assert);
        } finally { user.close(); a.close(); await srv.stop(); }
    });
});
