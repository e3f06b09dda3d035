'use strict';
// Admin: the first-admin install flow from the printed token, FORBIDDEN for others, every
// argument shape answered, decrees persisted across a restart, the admin commands' replies,
// archive/restore/remove, and eviction of inactive data (our EVICT_INACTIVE extension and the
// daily schedule) with archive retention. Signatures are made with tweetnacl.
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, sleep } = require('./lib');
const { RawClient, nacl, naclUtil, assertServerHealthy } = require('../conformance/lib/client');

const chan = () => crypto.randomBytes(16).toString('hex');
const blobId = () => crypto.randomBytes(24).toString('hex');
const pub = (kp) => naclUtil.encodeBase64(kp.publicKey);
const safe = (k) => k.replace(/\//g, '-');
const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'bp-admin-'));
const shard = (root, dir, id, sfx = '') => path.join(root, dir, id.slice(0, 2), id + sfx);
const decreeFile = (root) => path.join(root, 'data', 'decrees', 'decree.ndjson');
const decreeLines = (root) => fs.readFileSync(decreeFile(root), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const DAY = 86400;

class Session {
    static async open(url, kp) {
        const s = new Session();
        s.kp = kp;
        s.c = await RawClient.connect(url);
        await s.c.getHk();
        s.cookie = null;
        await s.call('COOKIE', '');
        return s;
    }
    async call(cmd, arg, timeout = 10000) {
        const { body } = await this.c.signedRpc(this.kp, this.cookie, cmd, arg, { timeout });
        if (Array.isArray(body) && typeof body[1] === 'string' && body[1].includes('|')) { this.cookie = body[1]; }
        return body;
    }
    // ADMIN [cmd, ...args]: the values after [txid, cookie], or throws
    async admin(...args) {
        const b = await this.call('ADMIN', args, 30000);
        assert.ok(Array.isArray(b) && b[1] !== 'ERROR', `ADMIN ${JSON.stringify(args)} -> ${JSON.stringify(b)}`);
        return b.slice(2);
    }
    async adminErr(...args) {
        const b = await this.call('ADMIN', args, 30000);
        assert.equal(b[1], 'ERROR', `ADMIN ${JSON.stringify(args)} -> ${JSON.stringify(b)}`);
        return b[2];
    }
    async anon(cmd, arg) { return (await this.c.rpc([cmd, arg], { timeout: 10000 })).body; }
    close() { this.c.close(); }
}

async function writeChannel(s, id, text = 'hello') {
    const b = await s.anon('WRITE_PRIVATE_MESSAGE', [id, text]);
    assert.ok(Array.isArray(b) && b[1] === null, JSON.stringify(b));
}

describe('first admin', { concurrency: false }, () => {
    it('the printed install token makes the first admin; checks in order; survives a restart', async () => {
        const dataDir = tmpDir();
        let srv = await startServer({ dataDir });
        const first = nacl.sign.keyPair();
        const other = nacl.sign.keyPair();
        try {
            const m = srv.stderr().match(/\/install\/#([0-9a-f]{64})\b/);
            assert.ok(m, `install URL in the log: ${srv.stderr()}`);
            assert.ok(srv.stderr().includes(`http://localhost:${srv.port}/install/#${m[1]}`));
            const token = m[1];
            const s = await Session.open(srv.url, first);
            assert.equal(await s.adminErr('INSTANCE_STATUS'), 'FORBIDDEN');
            const add = async (arg) => (await s.anon('ADD_FIRST_ADMIN', arg));
            assert.deepEqual((await add(null)).slice(1), ['ERROR', 'MISSING_ARGS']);
            assert.deepEqual((await add({ token })).slice(1), ['ERROR', 'MISSING_ARGS']);
            assert.deepEqual((await add({ token: 'x', edPublic: pub(first) })).slice(1), ['ERROR', 'INVALID_ARGS']);
            assert.deepEqual((await add({ token, edPublic: 'short' })).slice(1), ['ERROR', 'INVALID_ARGS']);
            assert.deepEqual((await add({ token: 5, edPublic: pub(first) })).slice(1), ['ERROR', 'INVALID_ARGS']);
            assert.deepEqual((await add({ token: '0'.repeat(64), edPublic: pub(first) })).slice(1), ['ERROR', 'FORBIDDEN']);
            const ok = await add({ token, edPublic: pub(first) });
            assert.deepEqual(ok.slice(1), [null, null, null]);
            const st = (await s.admin('INSTANCE_STATUS'))[0];
            assert.deepEqual(st.admins, [{ edPublic: pub(first), first: true, hardcoded: false }]);
            assert.deepEqual((await add({ token, edPublic: pub(other) })).slice(1), ['ERROR', 'EEXISTS']);
            const o = await Session.open(srv.url, other);
            assert.equal(await o.adminErr('INSTANCE_STATUS'), 'FORBIDDEN');
            o.close();
            s.close();
        } finally { await srv.stop(); }
        const lines = decreeLines(dataDir);
        assert.deepEqual(lines.map((l) => [l[0], l[2]]), [['ADD_INSTALL_TOKEN', ''], ['ADD_ADMIN_KEY', '']]);
        assert.deepEqual(lines[1][1], [pub(first)]);

        srv = await startServer({ dataDir });
        try {
            assert.ok(!/\/install\/#/.test(srv.stderr()), 'no install URL once there is an admin');
            const s = await Session.open(srv.url, first);
            const st = (await s.admin('INSTANCE_STATUS'))[0];
            assert.equal(st.admins.length, 1);
            s.close();
        } finally { await srv.stop(); }
        assert.equal(decreeLines(dataDir).length, 2, 'no new token on a restart');
    });

    it('ADD_FIRST_ADMIN without a token (admins configured) → EINVAL', async () => {
        const srv = await startServer({ args: ['--admin-keys', pub(nacl.sign.keyPair())] });
        try {
            assert.ok(!/\/install\/#/.test(srv.stderr()));
            const s = await Session.open(srv.url, nacl.sign.keyPair());
            const b = await s.anon('ADD_FIRST_ADMIN', { token: 'a'.repeat(64), edPublic: pub(s.kp) });
            assert.deepEqual(b.slice(1), ['ERROR', 'EINVAL']);
            s.close();
        } finally { await srv.stop(); }
    });
});

const ADMIN_COMMANDS = [
    'ACTIVE_SESSIONS', 'ACTIVE_PADS', 'REGISTERED_USERS', 'DISK_USAGE', 'FLUSH_CACHE', 'SHUTDOWN',
    'GET_FILE_DESCRIPTOR_COUNT', 'GET_FILE_DESCRIPTOR_LIMIT', 'GET_CACHE_STATS', 'GET_PIN_ACTIVITY',
    'IS_USER_ONLINE', 'GET_USER_QUOTA', 'GET_USER_STORAGE_STATS', 'GET_PIN_LOG_STATUS', 'GET_METADATA_HISTORY',
    'GET_STORED_METADATA', 'GET_DOCUMENT_SIZE', 'GET_LAST_CHANNEL_TIME', 'GET_DOCUMENT_STATUS', 'GET_PIN_LIST',
    'GET_PIN_HISTORY', 'ARCHIVE_OWNED_DOCUMENTS', 'ARCHIVE_BLOCK', 'RESTORE_ARCHIVED_BLOCK', 'ARCHIVE_DOCUMENT',
    'ARCHIVE_DOCUMENTS', 'RESTORE_ARCHIVED_DOCUMENT', 'CLEAR_CACHED_CHANNEL_INDEX', 'CLEAR_CACHED_CHANNEL_METADATA',
    'GET_CACHED_CHANNEL_METADATA', 'ADMIN_DECREE', 'INSTANCE_STATUS', 'GET_LIMITS', 'SET_LAST_EVICTION',
    'GET_WORKER_PROFILES', 'GET_USER_TOTAL_SIZE', 'REMOVE_DOCUMENT', 'CHANGE_COLOR', 'EVICT_INACTIVE',
    'DISABLE_MFA', 'GET_ALL_USERS', 'NO_SUCH_COMMAND',
];

describe('ADMIN access and argument shapes', { concurrency: false }, () => {
    it('a non-admin gets FORBIDDEN for every command; every shape gets a reply; the server survives', async () => {
        const adminKp = nacl.sign.keyPair();
        const srv = await startServer({ args: ['--admin-keys', pub(adminKp)] });
        try {
            const user = await Session.open(srv.url, nacl.sign.keyPair());
            for (const cmd of ADMIN_COMMANDS) {
                assert.equal(await user.adminErr(cmd), 'FORBIDDEN', cmd);
            }
            assert.equal(await user.adminErr(), 'FORBIDDEN');
            user.close();

            const a = await Session.open(srv.url, adminKp);
            for (const top of [null, 5, 'ACTIVE_PADS', {}, [], [null], [5]]) {
                const b = await a.call('ADMIN', top);
                assert.deepEqual(b.slice(1), ['ERROR', 'UNHANDLED_ADMIN_COMMAND'], JSON.stringify(top));
            }
            const shapes = [undefined, null, 0, 7, '', 'x', 'a'.repeat(44), true, {}, [], ['x'], { id: 5, key: null }, { list: 'x' }];
            for (const cmd of ADMIN_COMMANDS) {
                if (cmd === 'EVICT_INACTIVE' || cmd === 'SET_LAST_EVICTION') { continue; } // below, with care
                for (const arg of shapes) {
                    const req = arg === undefined ? [cmd] : [cmd, arg];
                    const b = await a.call('ADMIN', req);
                    assert.ok(Array.isArray(b) && b.length >= 2, `${JSON.stringify(req)} -> ${JSON.stringify(b)}`);
                }
            }
            assert.equal(await a.adminErr('NO_SUCH_COMMAND'), 'UNHANDLED_ADMIN_COMMAND');
            assert.equal(await a.adminErr('SET_LAST_EVICTION', 'x'), 'INVALID_ARGS');
            assert.equal(await a.adminErr('ADMIN_DECREE', 'x'), 'INVALID_DECREE');
            assert.equal(await a.adminErr('ADMIN_DECREE', [null]), 'DECREE_UNSUPPORTED_COMMAND');
            assert.equal(await a.adminErr('ARCHIVE_DOCUMENT', 'short'), 'EINVAL');
            assert.equal(await a.adminErr('ARCHIVE_DOCUMENT', 'a'.repeat(40)), 'INVALID_ID_LENGTH');
            assert.equal(await a.adminErr('ARCHIVE_DOCUMENT', chan()), 'ENOENT');
            assert.equal(await a.adminErr('GET_PIN_HISTORY', pub(adminKp)), 'NOT_IMPLEMENTED');
            assert.equal(await a.adminErr('SHUTDOWN'), 'E_NOT_IMPLEMENTED');
            // the eviction extension: NO_INACTIVE_TIME guard is a decree away; a run on an empty store
            const rep = (await a.admin('EVICT_INACTIVE', { dryRun: true }))[0];
            assert.equal(rep.dryRun, true);
            assert.equal(rep.channelsArchived, 0);
            a.close();
            await assertServerHealthy(srv.url, assert);
        } finally { await srv.stop(); }
    });
});

describe('decrees', { concurrency: false }, () => {
    it('ADMIN_DECREE applies, persists as [name,args,admin,time] only when something changed, and replays after a restart', async () => {
        const dataDir = tmpDir();
        const adminKp = nacl.sign.keyPair();
        const second = nacl.sign.keyPair();
        const user = nacl.sign.keyPair();
        const args = ['--admin-keys', pub(adminKp)];
        let srv = await startServer({ dataDir, args });
        try {
            const a = await Session.open(srv.url, adminKp);
            const d = (name, v) => a.admin('ADMIN_DECREE', [name, v]);
            await d('SET_QUOTA', [`[carol@localhost/${safe(pub(user))}]`, { limit: 777, plan: 'gold', note: 'n' }]);
            await d('UPDATE_DEFAULT_STORAGE', [1234567]);
            await d('RESTRICT_REGISTRATION', [true]);
            await d('RESTRICT_REGISTRATION', [true]); // unchanged: not written again
            await d('SET_INSTANCE_NAME', [{ default: 'Pads', fr: 'Blocs' }]);
            await d('SET_ADMIN_EMAIL', ['ops@example.org']);
            await d('SET_INACTIVE_TIME', [45]);
            await d('ADD_ADMIN_KEY', [`[second@localhost/${safe(pub(second))}]`]);
            await d('CONSENT_TO_CONTACT', [true]);
            assert.equal(await a.adminErr('ADMIN_DECREE', ['UPDATE_DEFAULT_STORAGE', ['lots']]), 'INVALID_ARGS');
            assert.equal(await a.adminErr('ADMIN_DECREE', ['NOT_A_DECREE', [1]]), 'DECREE_UNSUPPORTED_COMMAND');
            assert.equal(await a.adminErr('ADMIN_DECREE', ['RM_QUOTA', [pub(second)]]), 'ENOENT');
            assert.equal(await a.adminErr('ADMIN_DECREE', ['RM_ADMIN_KEY', [pub(adminKp)]]), 'CANT_REMOVE_CONFIG');
            a.close();
        } finally { await srv.stop(); }
        const lines = decreeLines(dataDir);
        assert.deepEqual(lines.map((l) => l[0]), ['SET_QUOTA', 'UPDATE_DEFAULT_STORAGE', 'RESTRICT_REGISTRATION',
            'SET_INSTANCE_NAME', 'SET_ADMIN_EMAIL', 'SET_INACTIVE_TIME', 'ADD_ADMIN_KEY', 'CONSENT_TO_CONTACT']);
        for (const l of lines) {
            assert.equal(l.length, 4);
            assert.equal(l[2], pub(adminKp));
            assert.ok(Math.abs(l[3] - Date.now()) < 120000);
        }

        srv = await startServer({ dataDir, args });
        try {
            assert.match(srv.stderr(), /8 decree\(s\) replayed/);
            const s2 = await Session.open(srv.url, second);
            const st = (await s2.admin('INSTANCE_STATUS'))[0];
            assert.equal(st.restrictRegistration, true);
            assert.equal(st.defaultStorageLimit, 1234567);
            assert.equal(st.inactiveTime, 45);
            assert.equal(st.consentToContact, true);
            assert.deepEqual(st.instanceName, { default: 'Pads', fr: 'Blocs' });
            assert.deepEqual(st.admins.map((x) => [x.edPublic, !!x.hardcoded, x.name]),
                [[pub(adminKp), true, undefined], [pub(second), false, 'second']]);
            const limits = (await s2.admin('GET_LIMITS'))[0];
            assert.deepEqual(limits[pub(user)], { limit: 777, plan: 'gold', note: 'n', origin: 'decree' });
            s2.close();
            const u = await Session.open(srv.url, user);
            const b = await u.call('GET_LIMIT', null);
            assert.deepEqual(b.slice(2), [777, 'gold', 'n']);
            const other = await Session.open(srv.url, nacl.sign.keyPair());
            assert.deepEqual((await other.call('GET_LIMIT', null)).slice(2), [1234567, '', '']);
            u.close();
            other.close();
        } finally { await srv.stop(); }
    });
});

describe('admin commands', { concurrency: false }, () => {
    it('report what the admin UI reads; archive, restore and remove documents', async () => {
        const adminKp = nacl.sign.keyPair();
        const srv = await startServer({ args: ['--admin-keys', pub(adminKp)] });
        try {
            const a = await Session.open(srv.url, adminKp);
            const userKp = nacl.sign.keyPair();
            const u = await Session.open(srv.url, userKp);
            const ch = chan();
            await writeChannel(u, ch, 'first');
            await writeChannel(u, ch, 'second');
            await u.call('PIN', [ch]);

            const [total, unique] = await a.admin('ACTIVE_SESSIONS');
            assert.ok(total >= 2 && unique >= 1 && unique <= total, `${total} ${unique}`);
            assert.equal(typeof (await a.admin('ACTIVE_PADS'))[0], 'number');
            assert.deepEqual(await a.admin('REGISTERED_USERS'), [{ users: 1 }]);
            const du = (await a.admin('DISK_USAGE'))[0];
            assert.deepEqual(Object.keys(du).sort(), ['blob', 'blobstage', 'block', 'datastore', 'pin', 'total']);
            assert.ok(du.datastore > 0 && du.pin > 0 && du.total >= du.datastore + du.pin, JSON.stringify(du));
            assert.ok((await a.admin('GET_FILE_DESCRIPTOR_COUNT'))[0] > 3);
            const lim = (await a.admin('GET_FILE_DESCRIPTOR_LIMIT'))[0];
            assert.ok(lim === -1 || lim > 0);
            assert.equal(typeof (await a.admin('GET_CACHE_STATS'))[0].memoryUsage.rss, 'number');
            assert.deepEqual(await a.admin('IS_USER_ONLINE', pub(userKp)), [true]);
            assert.deepEqual(await a.admin('IS_USER_ONLINE', safe(pub(nacl.sign.keyPair()))), [false]);
            assert.deepEqual(await a.admin('GET_USER_QUOTA', pub(userKp)), [52428800, '', '']);
            const size = (await u.anon('GET_FILE_SIZE', ch))[2];
            assert.deepEqual(await a.admin('GET_USER_TOTAL_SIZE', pub(userKp)), [size]);
            assert.deepEqual(await a.admin('GET_DOCUMENT_SIZE', ch), [size]);
            const act = (await a.admin('GET_PIN_ACTIVITY', pub(userKp)))[0];
            assert.ok(act.first > 0 && act.latest >= act.first);
            assert.deepEqual(await a.admin('GET_PIN_LIST', pub(userKp)), [ch]);
            assert.deepEqual(await a.admin('GET_PIN_LOG_STATUS', pub(userKp)), [{ live: true, archived: false }]);
            const last = (await a.admin('GET_LAST_CHANNEL_TIME', ch))[0];
            assert.ok(Math.abs(last - Date.now()) < 60000, String(last));
            assert.equal(await a.adminErr('GET_LAST_CHANNEL_TIME', chan()), 'ENOENT');
            assert.deepEqual(await a.admin('GET_METADATA_HISTORY', ch), []);
            assert.deepEqual(await a.admin('GET_STORED_METADATA', ch), [{}]);
            assert.deepEqual(await a.admin('GET_DOCUMENT_STATUS', ch), [{ live: true, archived: false }]);
            assert.deepEqual(await a.admin('FLUSH_CACHE'), [true]);
            assert.deepEqual(await a.admin('SET_LAST_EVICTION', 1234), []);
            assert.equal((await a.admin('INSTANCE_STATUS'))[0].lastEviction, 1234);

            // a channel with metadata and a member: ARCHIVE_DOCUMENT tells the member why
            const member = await RawClient.connect(srv.url);
            const mc = chan();
            await member.join(mc);
            const h = await member.getHistory(mc, { txid: 'h1', metadata: { owners: [pub(userKp)] } });
            assert.ok(h.end, JSON.stringify(h));
            assert.equal((await member.msg(mc, 'a message'))[1], 'ACK');
            const meta = (await a.admin('GET_STORED_METADATA', mc))[0];
            assert.deepEqual(meta.owners, [pub(userKp)]);
            assert.equal((await a.admin('GET_METADATA_HISTORY', mc))[0].channel, mc);
            assert.deepEqual(await a.admin('ARCHIVE_DOCUMENT', { id: mc, reason: 'spam' }), []);
            const notice = await member.waitHk((b) => b && b.error === 'EDELETED' && b.channel === mc);
            assert.equal(notice.body.message, 'MODERATION_PAD:spam');
            assert.deepEqual(await a.admin('GET_DOCUMENT_STATUS', mc),
                [{ live: false, archived: true, placeholder: 'MODERATION_PAD:spam' }]);
            assert.deepEqual((await u.anon('IS_NEW_CHANNEL', mc))[2], { isNew: true, reason: 'MODERATION_PAD:spam' });
            assert.deepEqual(await a.admin('RESTORE_ARCHIVED_DOCUMENT', mc), []);
            assert.deepEqual(await a.admin('GET_DOCUMENT_STATUS', mc), [{ live: true, archived: false }]);
            assert.equal((await u.anon('IS_NEW_CHANNEL', mc))[2].isNew, false);
            assert.equal(await a.adminErr('RESTORE_ARCHIVED_DOCUMENT', mc), 'EEXIST');
            assert.deepEqual((await a.admin('ARCHIVE_DOCUMENTS', { list: [mc, chan(), 'bad'], reason: 'x' }))[0],
                { state: true, failed: ['bad'] });
            assert.deepEqual(await a.admin('RESTORE_ARCHIVED_DOCUMENT', { id: mc }), []);
            // REMOVE_DOCUMENT leaves no archived copy
            assert.deepEqual(await a.admin('REMOVE_DOCUMENT', { id: mc, reason: 'gone' }), []);
            assert.deepEqual(await a.admin('GET_DOCUMENT_STATUS', mc),
                [{ live: false, archived: false, placeholder: 'MODERATION_DESTROY:gone' }]);
            assert.equal(await a.adminErr('RESTORE_ARCHIVED_DOCUMENT', mc), 'ENOENT');
            // blobs: status of an unknown one
            assert.deepEqual(await a.admin('GET_DOCUMENT_STATUS', blobId()), [{ live: false, archived: false }]);
            // blocks: status of an unknown one
            assert.deepEqual(await a.admin('GET_DOCUMENT_STATUS', pub(nacl.sign.keyPair())),
                [{ live: false, archived: false, totp: 'DISABLED' }]);
            member.close();
            u.close();
            a.close();
        } finally { await srv.stop(); }
    });
});

describe('eviction', { concurrency: false }, () => {
    it('archives inactive unpinned data, keeps pinned, active and joined data, purges old archives, restores, runs daily', async () => {
        const dataDir = tmpDir();
        const adminKp = nacl.sign.keyPair();
        const activeKp = nacl.sign.keyPair();
        const oldKp = nacl.sign.keyPair();
        const now = Math.floor(Date.now() / 1000);
        const old = now - 200 * DAY;
        const ids = {
            unpinned: chan(), pinnedByActive: chan(), pinnedByOld: chan(), recent: chan(), joined: chan(),
            blobOld: blobId(), blobPinned: blobId(),
        };
        // the old account's pin log, written long ago (the times inside the lines count)
        const oldLog = shard(dataDir, 'data/pins', safe(pub(oldKp)), '.ndjson');
        fs.mkdirSync(path.dirname(oldLog), { recursive: true });
        fs.writeFileSync(oldLog, JSON.stringify(['RESET', [ids.pinnedByOld, `${ids.pinnedByOld}#drive`], old * 1000]) + '\n');
        fs.utimesSync(oldLog, old, old);
        for (const b of [ids.blobOld, ids.blobPinned]) {
            const p = shard(dataDir, 'blob', b);
            fs.mkdirSync(path.dirname(p), { recursive: true });
            fs.writeFileSync(p, crypto.randomBytes(100));
            fs.utimesSync(p, old, old);
        }
        const srv = await startServer({ dataDir, args: ['--admin-keys', pub(adminKp)] });
        try {
            const a = await Session.open(srv.url, adminKp);
            const active = await Session.open(srv.url, activeKp);
            for (const k of ['unpinned', 'pinnedByActive', 'pinnedByOld', 'recent', 'joined']) {
                await writeChannel(active, ids[k], k);
            }
            await active.call('PIN', [ids.pinnedByActive, ids.blobPinned]);
            for (const k of ['unpinned', 'pinnedByActive', 'pinnedByOld', 'joined']) {
                const p = shard(dataDir, 'datastore', ids[k], '.ndjson');
                fs.utimesSync(p, old, old);
            }
            const member = await RawClient.connect(srv.url);
            await member.join(ids.joined);
            const live = (id) => fs.existsSync(shard(dataDir, 'datastore', id, '.ndjson'));
            const archived = (id) => fs.existsSync(shard(dataDir, 'data/archive/datastore', id, '.ndjson'));

            // a dry run with the default account retention (0: keep every account)
            let rep = (await a.admin('EVICT_INACTIVE', { dryRun: true }))[0];
            assert.equal(rep.dryRun, true);
            assert.equal(rep.totalChannels, 5);
            assert.equal(rep.activeChannels, 1);
            assert.equal(rep.totalAccounts, 2);
            assert.equal(rep.channelsArchived, 1, JSON.stringify(rep)); // unpinned; the joined one is skipped
            assert.equal(rep.blobsArchived, 1);
            assert.equal(rep.accountsArchived, 0);
            assert.ok(rep.skippedRecentlyUsed >= 1);
            assert.ok(rep.documentIndexBytes >= 32 * 7);
            for (const k of ['unpinned', 'pinnedByActive', 'pinnedByOld', 'recent', 'joined']) { assert.ok(live(ids[k]), k); }

            // inactive accounts are archived after 30 days: the old account goes, and its pins with it
            await a.admin('ADMIN_DECREE', ['SET_ACCOUNT_RETENTION_TIME', [30]]);
            rep = (await a.admin('EVICT_INACTIVE'))[0];
            assert.equal(rep.accountsArchived, 1, JSON.stringify(rep));
            assert.equal(rep.activeAccounts, 1);
            assert.equal(rep.channelsArchived, 2);
            assert.equal(rep.blobsArchived, 1);
            assert.deepEqual([live(ids.unpinned), archived(ids.unpinned)], [false, true]);
            assert.deepEqual([live(ids.pinnedByOld), archived(ids.pinnedByOld)], [false, true]);
            assert.equal(fs.readFileSync(shard(dataDir, 'datastore', ids.unpinned, '.ndjson.placeholder'), 'utf8'), 'INACTIVE');
            assert.ok(live(ids.pinnedByActive) && live(ids.recent) && live(ids.joined));
            assert.ok(!fs.existsSync(oldLog) && fs.existsSync(shard(dataDir, 'data/archive/pins', safe(pub(oldKp)), '.ndjson')));
            assert.ok(fs.existsSync(shard(dataDir, 'data/pins', safe(pub(activeKp)), '.ndjson')));
            assert.ok(!fs.existsSync(shard(dataDir, 'blob', ids.blobOld)));
            assert.ok(fs.existsSync(shard(dataDir, 'data/archive/blob', ids.blobOld)));
            assert.ok(fs.existsSync(shard(dataDir, 'blob', ids.blobPinned)));
            assert.deepEqual((await a.admin('INSTANCE_STATUS'))[0].evictionReport, rep);
            // the member of the joined channel was not disturbed
            assert.equal((await member.msg(ids.joined, 'still here'))[1], 'ACK');

            // restore works (and keeps the old times: the next run archives it again)
            assert.deepEqual(await a.admin('RESTORE_ARCHIVED_DOCUMENT', ids.unpinned), []);
            assert.ok(live(ids.unpinned) && !archived(ids.unpinned));
            assert.equal((await active.anon('IS_NEW_CHANNEL', ids.unpinned))[2].isNew, false);
            // that read may have moved its atime (reads count as activity): make it old again
            fs.utimesSync(shard(dataDir, 'datastore', ids.unpinned, '.ndjson'), old, old);

            // archive retention 0 days: the next run purges what is in the archive first
            await a.admin('ADMIN_DECREE', ['SET_ARCHIVE_RETENTION_TIME', [0]]);
            rep = (await a.admin('EVICT_INACTIVE'))[0];
            assert.equal(rep.archivedChannelsRemoved, 1, JSON.stringify(rep)); // pinnedByOld
            assert.equal(rep.archivedAccountsRemoved, 1);
            assert.equal(rep.archivedBlobsRemoved, 1);
            assert.equal(rep.channelsArchived, 1); // the restored one, still inactive
            assert.ok(!archived(ids.pinnedByOld) && !live(ids.pinnedByOld));
            assert.ok(!fs.existsSync(shard(dataDir, 'data/archive/pins', safe(pub(oldKp)), '.ndjson')));
            assert.ok(!fs.existsSync(shard(dataDir, 'data/archive/blob', ids.blobOld)));
            assert.ok(archived(ids.unpinned));

            // NO_INACTIVE_TIME guard
            await a.admin('ADMIN_DECREE', ['SET_INACTIVE_TIME', [0]]);
            assert.equal(await a.adminErr('EVICT_INACTIVE'), 'NO_INACTIVE_TIME');
            await a.admin('ADMIN_DECREE', ['SET_INACTIVE_TIME', [90]]);

            // the daily schedule: on by decree, due because the last run is set long ago
            await a.admin('ADMIN_DECREE', ['DISABLE_INTEGRATED_EVICTION', [false]]);
            await a.admin('SET_LAST_EVICTION', 0);
            let st;
            for (let i = 0; i < 40; i++) {
                st = (await a.admin('INSTANCE_STATUS'))[0];
                if (st.lastEviction > 0 && st.evictionReport.launchTime >= st.lastEviction) { break; }
                await sleep(250);
            }
            assert.ok(st.lastEviction > Date.now() - 60000, `scheduled run started: ${st.lastEviction}`);
            assert.ok(st.evictionReport.launchTime >= st.lastEviction, JSON.stringify(st.evictionReport));
            assert.equal(st.disableIntegratedEviction, false);
            member.close();
            active.close();
            a.close();
        } finally { await srv.stop(); }
    });
});
