// Integration: SERVER-API.md §8 item 73 (Q9, Q10). Every RPC command name of
// §2.1, anonymous and signed (valid cookie, valid signature), and UPLOAD in
// its cookie-only form, with every argument shape below, must get exactly one
// reply (DESTROY: none), and the server must still serve afterwards. The
// admin commands of §2.10 (except SHUTDOWN) and the decrees go through ADMIN
// with an administrator's key.
//
// A request that kills the server or gets no reply is recorded (the server is
// restarted on the same data to go on), and the test fails at the end with
// the whole list, so that one run names every culprit.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const nacl = require('tweetnacl');
const { startServer, Client, health, sleep } = require('./lib.js');

const b64 = (u8) => Buffer.from(u8).toString('base64');
const HK_PROBE = '0'.repeat(34);
const REPLY_TIMEOUT = 10000;

const COMMANDS = [
    'GET_FILE_SIZE', 'GET_MULTIPLE_FILE_SIZE', 'GET_DELETED_PADS', 'IS_CHANNEL_PINNED', 'IS_NEW_CHANNEL',
    'WRITE_PRIVATE_MESSAGE', 'DELETE_MAILBOX_MESSAGE', 'GET_METADATA', 'IS_PREMIUM', 'ADD_FIRST_ADMIN',
    'COOKIE', 'PIN', 'UNPIN', 'RESET', 'GET_HASH', 'GET_TOTAL_SIZE', 'GET_LIMIT', 'UPDATE_LIMITS',
    'REMOVE_PINS', 'TRIM_PINS', 'EXPIRE_SESSION', 'DESTROY', 'CLEAR_OWNED_CHANNEL', 'REMOVE_OWNED_CHANNEL',
    'TRIM_HISTORY', 'SET_METADATA', 'UPLOAD_STATUS', 'UPLOAD', 'UPLOAD_CANCEL', 'UPLOAD_COMPLETE',
    'OWNED_UPLOAD_COMPLETE', 'ADMIN',
];

const ADMIN_COMMANDS = [
    'ACTIVE_SESSIONS', 'ACTIVE_PADS', 'REGISTERED_USERS', 'DISK_USAGE', 'FLUSH_CACHE',
    'GET_FILE_DESCRIPTOR_COUNT', 'GET_FILE_DESCRIPTOR_LIMIT', 'GET_CACHE_STATS', 'GET_PIN_ACTIVITY',
    'IS_USER_ONLINE', 'GET_USER_QUOTA', 'GET_USER_STORAGE_STATS', 'GET_PIN_LOG_STATUS', 'GET_METADATA_HISTORY',
    'GET_STORED_METADATA', 'GET_DOCUMENT_SIZE', 'GET_LAST_CHANNEL_TIME', 'GET_DOCUMENT_STATUS', 'DISABLE_MFA',
    'GET_PIN_LIST', 'GET_PIN_HISTORY', 'ARCHIVE_OWNED_DOCUMENTS', 'ARCHIVE_BLOCK', 'RESTORE_ARCHIVED_BLOCK',
    'ARCHIVE_DOCUMENT', 'ARCHIVE_DOCUMENTS', 'RESTORE_ARCHIVED_DOCUMENT', 'ARCHIVE_ACCOUNT', 'RESTORE_ACCOUNT',
    'GET_ACCOUNT_ARCHIVE_STATUS', 'CLEAR_CACHED_CHANNEL_INDEX', 'GET_CACHED_CHANNEL_INDEX',
    'CLEAR_CACHED_CHANNEL_METADATA', 'GET_CACHED_CHANNEL_METADATA', 'INSTANCE_STATUS', 'GET_LIMITS',
    'SET_LAST_EVICTION', 'GET_WORKER_PROFILES', 'GET_USER_TOTAL_SIZE', 'REMOVE_DOCUMENT', 'GET_ALL_INVITATIONS',
    'CREATE_INVITATION', 'DELETE_INVITATION', 'GET_ALL_USERS', 'ADD_KNOWN_USER', 'DELETE_KNOWN_USER',
    'UPDATE_KNOWN_USER', 'ARCHIVE_SUPPORT', 'GET_MODERATORS', 'ADD_MODERATOR', 'REMOVE_MODERATOR', 'UPLOAD_LOGO',
    'REMOVE_LOGO', 'CHANGE_COLOR', 'ADMIN_DECREE', 'NOPE',
];

// Decrees that would take the administrator's rights away are sent last.
const DECREES = [
    'RESTRICT_REGISTRATION', 'RESTRICT_SSO_REGISTRATION', 'UPDATE_DEFAULT_STORAGE', 'SET_QUOTA', 'RM_QUOTA',
    'SET_INACTIVE_TIME', 'SET_ARCHIVE_RETENTION_TIME', 'SET_ACCOUNT_RETENTION_TIME', 'SET_MAX_UPLOAD_SIZE',
    'SET_PREMIUM_UPLOAD_SIZE', 'DISABLE_INTEGRATED_TASKS', 'DISABLE_INTEGRATED_EVICTION', 'ENABLE_PROFILING',
    'SET_PROFILING_WINDOW', 'SET_LAST_BROADCAST_HASH', 'SET_SURVEY_URL', 'SET_MAINTENANCE', 'SET_ADMIN_EMAIL',
    'SET_SUPPORT_MAILBOX', 'SET_SUPPORT_KEYS', 'CONSENT_TO_CONTACT', 'LIST_MY_INSTANCE',
    'PROVIDE_AGGREGATE_STATISTICS', 'REMOVE_DONATE_BUTTON', 'BLOCK_DAILY_CHECK', 'SET_INSTANCE_JURISDICTION',
    'SET_INSTANCE_NAME', 'SET_INSTANCE_DESCRIPTION', 'SET_INSTANCE_NOTICE', 'SET_INSTANCE_PURPOSE',
    'ENABLE_EMBEDDING', 'ENFORCE_MFA', 'DISABLE_STORE_INVITED_USERS', 'DISABLE_STORE_SSO_USERS', 'SET_LOGO_MIME',
    'SET_ACCENT_COLOR', 'DISABLE_APPS', 'ADD_INSTALL_TOKEN', 'PROOFS_MIGRATED', 'SET_BEARER_SECRET', 'NOPE',
    'ADD_ADMIN_KEY', 'RM_ADMIN_KEY',
];

function deep(n) {
    let v = [];
    for (let i = 0; i < n; i++) v = [v];
    return v;
}

const BIG = 'x'.repeat(1 << 20);
const SHAPES = [
    ['null', null], ['0', 0], ['-1', -1], ['1e300', 1e300], ['""', ''], ['"x"', 'x'], ['[]', []], ['[null]', [null]],
    ['{}', {}], ['{channel:null}', { channel: null }], ['deep1000', deep(1000)], ['1MB', BIG],
    ['wrong types', { channel: 5, hash: [], proof: {}, id: null, size: 'x', command: {}, value: null, reason: [] }],
    ['arrays of junk', [5, {}, [null], '', 'x'.repeat(100)]],
    ['plausible ids', ['0123456789abcdef0123456789abcdef', '0'.repeat(33), 'a'.repeat(48), 'A'.repeat(44)]],
];
const ADMIN_SHAPES = SHAPES.filter(([n]) => n !== '1MB');

// A connection that counts the replies per txid.
class Conn {
    static async open(srv) {
        const c = await Client.connect(srv.url);
        await c.join(HK_PROBE);
        const conn = new Conn(c);
        c.ws.on('message', (d) => {
            let m;
            try { m = JSON.parse(d.toString()); } catch (e) { return; }
            if (m[1] !== c.hk || m[2] !== 'MSG' || m[3] !== c.id) return;
            let r;
            try { r = JSON.parse(m[4]); } catch (e) { return; }
            if (!Array.isArray(r) || typeof r[0] !== 'string') return;
            conn.replies.set(r[0], (conn.replies.get(r[0]) || 0) + 1);
            const w = conn.waiting.get(r[0]);
            if (w) { conn.waiting.delete(r[0]); w(r); }
        });
        conn.closed = new Promise((r) => c.ws.on('close', () => r('closed')));
        return conn;
    }
    constructor(c) { this.c = c; this.replies = new Map(); this.waiting = new Map(); this.n = 0; }
    // Sends [txid, req]; resolves with the reply, 'timeout' or 'closed'.
    send(req, expectReply = true) {
        const txid = `r${++this.n}`;
        const got = new Promise((resolve) => {
            this.waiting.set(txid, resolve);
            setTimeout(() => { if (this.waiting.delete(txid)) resolve('timeout'); }, expectReply ? REPLY_TIMEOUT : 300);
        });
        this.c.send([this.c.seq++, 'MSG', this.c.hk, JSON.stringify([txid, req])]);
        return { txid, reply: Promise.race([got, this.closed]) };
    }
    close() { this.c.close(); }
}

class Signer {
    constructor(kp = nacl.sign.keyPair()) { this.kp = kp; this.pub = b64(kp.publicKey); }
    sign(cookie, cmd, arg) {
        const inner = JSON.stringify([cookie, cmd, arg]);
        return [b64(nacl.sign.detached(Buffer.from(inner, 'utf8'), this.kp.secretKey)), this.pub, cookie, cmd, arg];
    }
    async cookie(conn) {
        const { reply } = conn.send(this.sign(null, 'COOKIE', ''));
        const r = await reply;
        return Array.isArray(r) && typeof r[1] === 'string' && r[1].includes('|') ? r[1] : null;
    }
}

test('every RPC command with every argument shape gets exactly one reply; the server survives', { timeout: 30 * 60 * 1000 }, async (t) => {
    const adminKp = nacl.sign.keyPair();
    const startArgs = ['--admin-keys', b64(adminKp.publicKey)];
    let srv = await startServer({ args: startArgs });
    const dataDir = srv.dataDir;
    const failures = [];   // "FORM CMD shape: what"
    const expected = [];   // [conn, txid, replies expected (0 or 1), label]
    let conn = await Conn.open(srv);
    const restart = async (label) => {
        failures.push(`${label}: the server died (${srv.stderr().split('\n').filter(Boolean).slice(-3).join(' | ')})`);
        await srv.stop();
        srv = await startServer({ args: startArgs, dataDir });
        conn = await Conn.open(srv);
    };
    const run = async (label, req, expectReply = true) => {
        const { txid, reply } = conn.send(req, expectReply);
        const r = await reply;
        expected.push([conn, txid, expectReply ? 1 : 0, label]);
        if (r === 'closed') { await restart(label); return null; }
        if (r === 'timeout' && expectReply) failures.push(`${label}: no reply within ${REPLY_TIMEOUT} ms`);
        return r;
    };

    const user = new Signer();
    for (const cmd of COMMANDS) {
        for (const [sname, shape] of SHAPES) {
            await run(`anon ${cmd} ${sname}`, [cmd, shape]);
            // Signed: a fresh cookie each time (EXPIRE_SESSION and REMOVE_PINS end the session).
            const cookie = await user.cookie(conn);
            if (!cookie) { failures.push(`COOKIE before signed ${cmd} ${sname}: no cookie`); continue; }
            await run(`signed ${cmd} ${sname}`, user.sign(cookie, cmd, shape), cmd !== 'DESTROY');
            if (cmd === 'UPLOAD') await run(`cookie-only UPLOAD ${sname}`, [null, user.pub, cookie, 'UPLOAD', shape]);
        }
    }
    // ADMIN with an administrator's key: every command, then every decree.
    const admin = new Signer(adminKp);
    const adminCalls = [];
    for (const sub of ADMIN_COMMANDS) for (const [sname, shape] of ADMIN_SHAPES) adminCalls.push([`${sub} ${sname}`, [sub, shape]]);
    for (const [sname, shape] of ADMIN_SHAPES) adminCalls.push([`ADMIN ${sname}`, shape]);
    for (const d of DECREES) for (const [sname, shape] of ADMIN_SHAPES) {
        adminCalls.push([`ADMIN_DECREE ${d} ${sname}`, ['ADMIN_DECREE', [d, shape]]]);
        adminCalls.push([`ADMIN_DECREE ${d} (flat) ${sname}`, ['ADMIN_DECREE', d, shape]]);
    }
    for (const [label, arg] of adminCalls) {
        const cookie = await admin.cookie(conn);
        if (!cookie) { failures.push(`COOKIE before admin ${label}: no cookie`); continue; }
        await run(`admin ${label}`, admin.sign(cookie, 'ADMIN', arg));
    }

    // Exactly one reply each (none for DESTROY): late or duplicate replies show up now.
    await sleep(1000);
    for (const [c, txid, want, label] of expected) {
        const got = c.replies.get(txid) || 0;
        if (got !== want && !(got === 0 && failures.some((f) => f.startsWith(label)))) failures.push(`${label}: ${got} replies`);
    }
    t.diagnostic(`${expected.length} requests`);

    // Still alive and serving: /health, an RPC, a channel write and its history.
    assert.equal((await health(srv.port)).status, 200);
    const c = await Client.connect(srv.url);
    await c.join(HK_PROBE);
    const ch = crypto.randomBytes(16).toString('hex');
    await c.join(ch);
    assert.equal((await c.request(['MSG', ch, 'still here']))[1], 'ACK');
    assert.deepEqual((await c.history(ch)).map((m) => m[4]), ['still here']);
    const conn2 = await Conn.open(srv);
    assert.deepEqual(await conn2.send(['GET_FILE_SIZE', ch]).reply, ['r1', null, fs_size(dataDir, ch), null]);
    c.close(); conn2.close(); conn.close();
    await srv.stop();
    assert.deepEqual(failures, [], `${failures.length} failures:\n${failures.join('\n')}`);
});

function fs_size(dataDir, ch) {
    const fs = require('node:fs');
    const path = require('node:path');
    const f = (s) => { try { return fs.statSync(path.join(dataDir, 'datastore', ch.slice(0, 2), ch + s)).size; } catch (e) { return 0; } };
    return f('.ndjson') + f('.metadata.ndjson');
}
