// Integration: the channel-side RPC commands beyond the SERVER-API.md §8
// checklist (tests/conformance has that): TRIM_HISTORY against concurrent
// writes, DELETE_MAILBOX_MESSAGE with real curve proofs, GET_DELETED_PADS and
// GET_MULTIPLE_FILE_SIZE, the admin broadcast channel, blob ids in the
// metadata commands, expiry (task file, runner, refusal, late access),
// burn-after-reading, and restricted channels end to end.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const nacl = require('tweetnacl');
const { startServer, Client, sleep } = require('./lib.js');

const b64 = (u8) => Buffer.from(u8).toString('base64');
const chan32 = () => crypto.randomBytes(16).toString('hex');
const blob48 = () => crypto.randomBytes(24).toString('hex');
const HK_PROBE = '0'.repeat(34);
const ADMIN_CHAN = '0'.repeat(33);
let txn = 0;

// One connection, with its RPC helpers.
async function connect(srv) {
    const c = await Client.connect(srv.url);
    await c.join(HK_PROBE); // learn the history keeper's id
    return c;
}

async function rpc(c, req) {
    const txid = `t${++txn}`;
    const r = await c.request(['MSG', c.hk, JSON.stringify([txid, req])]);
    assert.equal(r[1], 'ACK');
    const m = await c.waitFor((f) => f[1] === c.hk && f[2] === 'MSG' && f[3] === c.id && replyTo(f[4], txid));
    return JSON.parse(m[4]);
}

function replyTo(s, txid) {
    try { const v = JSON.parse(s); return Array.isArray(v) && v[0] === txid; } catch (e) { return false; }
}

const anon = (c, cmd, arg) => rpc(c, [cmd, arg]);

// A signing key used over connection c (a COOKIE first authenticates the connection).
class Key {
    constructor(c, kp = nacl.sign.keyPair()) { this.c = c; this.kp = kp; this.pub = b64(kp.publicKey); this.cookie = null; }
    async call(cmd, arg) {
        const inner = JSON.stringify([this.cookie, cmd, arg]);
        const sig = b64(nacl.sign.detached(Buffer.from(inner, 'utf8'), this.kp.secretKey));
        const r = await rpc(this.c, [sig, this.pub, this.cookie, cmd, arg]);
        if (typeof r[1] === 'string' && r[1].includes('|')) this.cookie = r[1];
        return r;
    }
    async auth() { const r = await this.call('COOKIE', ''); assert.match(r[1], /\|/); return this; }
}

// A channel created by c (a member) with this metadata; messages sent by c.
async function create(c, chan, metadata) {
    await c.join(chan);
    await c.history(chan, { metadata });
}

async function send(c, chan, content) {
    const r = await c.request(['MSG', chan, content]);
    return r[1];
}

const contentN = (tag, i) => `${tag}-${String(i).padStart(4, '0')}-`.padEnd(70, 'x'); // hash = first 64
const hashOf = (content) => content.slice(0, 64);
const dataFile = (srv, ...p) => path.join(srv.dataDir, ...p);
const chanFile = (srv, id, suffix) => dataFile(srv, 'datastore', id.slice(0, 2), id + suffix);
const archFile = (srv, id, suffix) => dataFile(srv, 'data', 'archive', 'datastore', id.slice(0, 2), id + suffix);
const readLines = (f) => fs.readFileSync(f, 'utf8').split('\n').filter(Boolean);

function httpGet(port, p) {
    return new Promise((resolve) => {
        http.get({ host: '127.0.0.1', port, path: p }, (res) => {
            let body = '';
            res.on('data', (d) => { body += d; });
            res.on('end', () => resolve({ status: res.statusCode, body }));
        }).on('error', () => resolve({ status: 0, body: '' }));
    });
}

test('TRIM_HISTORY: owner checks, and no write is lost when a trim lands among concurrent writes', async () => {
    const srv = await startServer();
    try {
        const a = await connect(srv);
        const owner = await new Key(a).auth();
        const other = await connect(srv);
        const stranger = await new Key(other).auth();
        const ch = chan32();
        await create(a, ch, { owners: [owner.pub] });
        for (let i = 0; i < 6; i++) assert.equal(await send(a, ch, contentN('m', i)), 'ACK');
        assert.deepEqual((await stranger.call('TRIM_HISTORY', { channel: ch, hash: hashOf(contentN('m', 3)) })).slice(1), ['ERROR', 'INSUFFICIENT_PERMISSIONS']);
        assert.deepEqual((await owner.call('TRIM_HISTORY', { channel: ch, hash: 'short' })).slice(1), ['ERROR', 'INVALID_ARGS']);
        assert.deepEqual((await owner.call('TRIM_HISTORY', { channel: ch, hash: 5 })).slice(1), ['ERROR', 'INVALID_ARGS']);
        assert.deepEqual((await owner.call('TRIM_HISTORY', null)).slice(1), ['ERROR', 'INVALID_ARGS']);
        assert.deepEqual((await owner.call('TRIM_HISTORY', { channel: chan32(), hash: 'h'.repeat(64) })).slice(1), ['ERROR', 'E_NO_OWNERS']);
        assert.deepEqual((await owner.call('TRIM_HISTORY', { channel: ch, hash: 'h'.repeat(64) })).slice(1), ['ERROR', 'HASH_NOT_FOUND']);

        // A writer keeps writing while the owner trims: every ACKed message must survive.
        const w = await Client.connect(srv.url);
        await w.join(ch);
        const sends = [];
        for (let i = 0; i < 40; i++) sends.push(w.request(['MSG', ch, contentN('w', i)]));
        const trim = owner.call('TRIM_HISTORY', { channel: ch, hash: hashOf(contentN('m', 3)) });
        for (let i = 40; i < 80; i++) sends.push(w.request(['MSG', ch, contentN('w', i)]));
        const acks = await Promise.all(sends);
        assert.ok(acks.every((r) => r[1] === 'ACK'));
        const tr = await trim;
        assert.deepEqual(tr.slice(2), ['OK']);
        const hist = (await a.history(ch)).map((m) => m[4]);
        const want = [3, 4, 5].map((i) => contentN('m', i)).concat([...Array(80).keys()].map((i) => contentN('w', i)));
        assert.deepEqual(hist, want);
        // The files: the metadata log is one line, the archive holds the whole old log.
        const meta = readLines(chanFile(srv, ch, '.metadata.ndjson'));
        assert.equal(meta.length, 1);
        assert.deepEqual(JSON.parse(meta[0]).owners, [owner.pub]);
        const arch = readLines(archFile(srv, ch, '.ndjson')).map((l) => JSON.parse(l)[4]);
        assert.deepEqual(arch.slice(0, 6), [0, 1, 2, 3, 4, 5].map((i) => contentN('m', i)));
        assert.ok(!fs.existsSync(chanFile(srv, ch, '.ndjson.temp')));
        // The trimmed channel goes on: a new message, then history from a lastKnownHash.
        assert.equal(await send(a, ch, contentN('after', 0)), 'ACK');
        const tail = (await a.history(ch, { lastKnownHash: hashOf(contentN('w', 78)) })).map((m) => m[4]);
        assert.deepEqual(tail, [contentN('w', 78), contentN('w', 79), contentN('after', 0)]); // from the named message on
        a.close(); other.close(); w.close();
    } finally { await srv.stop(); }
});

test('DELETE_MAILBOX_MESSAGE: deleteLines, proof checks with the server curve key, the line removed', async (t) => {
    const srv = await startServer();
    try {
        const a = await connect(srv);
        const owner = await new Key(a).auth();
        const ch = chan32();
        await create(a, ch, { owners: [owner.pub] });
        // A mailbox message as the client writes it: base64(sig(64) | nonce(24) | senderCurvePublic(32) | box).
        const sender = nacl.box.keyPair();
        const mkMsg = (curvePub) => b64(Buffer.concat([crypto.randomBytes(64), crypto.randomBytes(24), Buffer.from(curvePub), crypto.randomBytes(40)]));
        const m1 = mkMsg(sender.publicKey), m2 = mkMsg(sender.publicKey), m3 = mkMsg(nacl.box.keyPair().publicKey);
        for (const m of [m1, m2, m3]) assert.deepEqual((await anon(a, 'WRITE_PRIVATE_MESSAGE', [ch, m])).slice(1, 2), [null]);
        const nonce = nacl.randomBytes(24);
        const fakeProof = `${b64(nonce)}|${b64(nacl.randomBytes(80))}`;
        const del = (hash, proof, channel = ch) => anon(a, 'DELETE_MAILBOX_MESSAGE', { channel, hash, proof });
        assert.deepEqual((await del(hashOf(m1), fakeProof)).slice(1), ['ERROR', 'EFORBIDDEN']);
        assert.deepEqual((await owner.call('SET_METADATA', { channel: ch, command: 'ALLOW_LINE_DELETION', value: [true] }))[2].deleteLines, true);
        assert.deepEqual((await del(hashOf(m1), 'no-bar')).slice(1), ['ERROR', 'EINVAL']);
        assert.deepEqual((await del(hashOf(m1), 'AAA*|AAAA')).slice(1), ['ERROR', 'EINVAL']);
        assert.deepEqual((await del(hashOf(m1), null)).slice(1), ['ERROR', 'EINVAL']);
        assert.deepEqual((await anon(a, 'DELETE_MAILBOX_MESSAGE', null)).slice(1), ['ERROR', 'EINVAL']);
        assert.deepEqual((await del(hashOf(m1), fakeProof, 'x')).slice(1), ['ERROR', 'EINVAL']);
        assert.deepEqual((await del('h'.repeat(64), fakeProof)).slice(1), ['ERROR', 'HASH_NOT_FOUND']);
        assert.deepEqual((await del(hashOf(m1), fakeProof)).slice(1), ['ERROR', 'HASH_NOT_FOUND']);
        const bc = await httpGet(srv.port, '/api/broadcast');
        const mt = bc.status === 200 && /"curvePublic":\s*"([A-Za-z0-9+/=]{44})"/.exec(bc.body);
        if (!mt) {
            t.diagnostic(`/api/broadcast not served yet (${bc.status}): the proofs that must open are not tested`);
            return;
        }
        const serverCurve = Buffer.from(mt[1], 'base64');
        const proof = (hash, secret) => {
            const n = nacl.randomBytes(24);
            return `${b64(n)}|${b64(nacl.box(Buffer.from(hash, 'utf8'), n, serverCurve, secret))}`;
        };
        // A proof of another hash, or from another sender, does not open to this hash.
        assert.deepEqual((await del(hashOf(m1), proof(hashOf(m2), sender.secretKey))).slice(1), ['ERROR', 'HASH_NOT_FOUND']);
        assert.deepEqual((await del(hashOf(m1), proof(hashOf(m1), nacl.box.keyPair().secretKey))).slice(1), ['ERROR', 'HASH_NOT_FOUND']);
        assert.deepEqual((await del(hashOf(m3), proof(hashOf(m3), sender.secretKey))).slice(1), ['ERROR', 'HASH_NOT_FOUND']);
        assert.deepEqual(await del(hashOf(m1), proof(hashOf(m1), sender.secretKey)), [`t${txn}`, null, null, null]);
        assert.deepEqual((await a.history(ch)).map((m) => m[4]), [m2, m3]);
        assert.equal(readLines(archFile(srv, ch, '.ndjson')).length, 3);
        assert.deepEqual((await del(hashOf(m1), proof(hashOf(m1), sender.secretKey))).slice(1), ['ERROR', 'HASH_NOT_FOUND']);
        a.close();
    } finally { await srv.stop(); }
});

test('GET_DELETED_PADS and GET_MULTIPLE_FILE_SIZE', async () => {
    const srv = await startServer();
    try {
        const a = await connect(srv);
        const ch = chan32(), unknown = chan32(), gone = chan32();
        await a.join(ch);
        assert.equal(await send(a, ch, 'hello'), 'ACK');
        const owner = await new Key(a).auth();
        await create(a, gone, { owners: [owner.pub] });
        assert.equal(await send(a, gone, 'bye'), 'ACK');
        assert.deepEqual((await owner.call('REMOVE_OWNED_CHANNEL', { channel: gone, reason: 'R' })).slice(2), ['OK']);
        const size = fs.statSync(chanFile(srv, ch, '.ndjson')).size;
        assert.deepEqual((await anon(a, 'GET_DELETED_PADS', [ch, unknown, gone, 'bad', 5, null, unknown])).slice(1),
            [null, [unknown, gone, unknown], null]);
        assert.deepEqual((await anon(a, 'GET_DELETED_PADS', 'x')).slice(1), ['ERROR', 'INVALID_LIST']);
        assert.deepEqual((await anon(a, 'GET_DELETED_PADS', [])).slice(1), [null, [], null]);
        const sizes = await anon(a, 'GET_MULTIPLE_FILE_SIZE', [ch, unknown, 'bad', 7, blob48()]);
        assert.equal(sizes[1], null);
        assert.equal(sizes[2][ch], size);
        assert.equal(sizes[2][unknown], 0);
        assert.equal(sizes[2].bad, 0);
        assert.equal(Object.keys(sizes[2]).length, 4);
        assert.deepEqual((await anon(a, 'GET_MULTIPLE_FILE_SIZE', { a: 1 })).slice(1), ['ERROR', 'INVALID_LIST']);
        a.close();
    } finally { await srv.stop(); }
});

test('the admin broadcast channel: made-up metadata; only an admin writes, through WRITE_PRIVATE_MESSAGE, to everyone', async () => {
    const adminKp = nacl.sign.keyPair();
    const srv = await startServer({ args: ['--admin-keys', b64(adminKp.publicKey)] });
    try {
        const a = await connect(srv);
        const listener = await Client.connect(srv.url); // joined nothing
        const md = await anon(a, 'GET_METADATA', ADMIN_CHAN);
        assert.deepEqual(Object.keys(md[2]), ['channel', 'creation', 'owners']);
        assert.equal(md[2].channel, ADMIN_CHAN);
        assert.ok(Math.abs(md[2].creation - Date.now()) < 10000);
        assert.deepEqual(md[2].owners, [b64(adminKp.publicKey)]);
        assert.deepEqual((await anon(a, 'WRITE_PRIVATE_MESSAGE', [ADMIN_CHAN, 'not admin'])).slice(1), ['ERROR', 'INSUFFICIENT_PERMISSIONS']);
        await new Key(a).auth(); // a non-admin key does not help
        assert.deepEqual((await anon(a, 'WRITE_PRIVATE_MESSAGE', [ADMIN_CHAN, 'not admin'])).slice(1), ['ERROR', 'INSUFFICIENT_PERMISSIONS']);
        // A direct MSG to the channel is refused.
        const j = await a.request(['JOIN', ADMIN_CHAN]);
        assert.equal(j[1], 'JACK');
        assert.deepEqual((await a.request(['MSG', ADMIN_CHAN, 'direct'])).slice(1), ['ERROR']);
        const admin = await new Key(a, adminKp).auth();
        const r = await anon(a, 'WRITE_PRIVATE_MESSAGE', [ADMIN_CHAN, 'broadcast-1']);
        assert.equal(r[1], null);
        assert.equal(typeof r[2], 'number');
        const got = await listener.waitFor((f) => f[2] === 'MSG' && f[3] === ADMIN_CHAN);
        assert.deepEqual(got, [0, null, 'MSG', ADMIN_CHAN, 'broadcast-1', r[2]]);
        // Stored, and read back from history; a DESTROY ends the admin's right.
        assert.deepEqual((await a.history(ADMIN_CHAN)).map((m) => m[4]), ['broadcast-1']);
        assert.equal(readLines(chanFile(srv, ADMIN_CHAN, '.ndjson')).length, 1);
        const inner = JSON.stringify([admin.cookie, 'DESTROY', null]);
        const sig = b64(nacl.sign.detached(Buffer.from(inner), adminKp.secretKey));
        await a.request(['MSG', a.hk, JSON.stringify(['destroy', [sig, admin.pub, admin.cookie, 'DESTROY', null]])]);
        await sleep(200);
        assert.deepEqual((await anon(a, 'WRITE_PRIVATE_MESSAGE', [ADMIN_CHAN, 'after destroy'])).slice(1), ['ERROR', 'INSUFFICIENT_PERMISSIONS']);
        // Its metadata cannot be set.
        assert.deepEqual((await admin.call('SET_METADATA', { channel: ADMIN_CHAN, command: 'ADD_OWNERS', value: [admin.pub] })).slice(1), ['ERROR', 'INVALID_CHAN']);
        a.close(); listener.close();
    } finally { await srv.stop(); }
});

test('blob ids in GET_METADATA, SET_METADATA (the blob\'s own log) and REMOVE_OWNED_CHANNEL', async (t) => {
    const srv = await startServer();
    try {
        const a = await connect(srv);
        const owner = await new Key(a).auth();
        const stranger = await new Key(a).auth();
        const unknown = blob48();
        assert.deepEqual((await anon(a, 'GET_METADATA', unknown)).slice(1), [null, {}, null]);
        assert.deepEqual((await anon(a, 'GET_METADATA', 'G'.repeat(48))).slice(1), ['ERROR', 'INVALID_ID']);
        assert.deepEqual((await anon(a, 'GET_METADATA', 'g'.repeat(47))).slice(1), ['ERROR', 'INVALID_CHAN']);
        assert.deepEqual((await owner.call('SET_METADATA', { channel: unknown, command: 'ADD_OWNERS', value: [stranger.pub] })).slice(1), ['ERROR', 'E_NO_OWNERS']);
        assert.deepEqual((await owner.call('SET_METADATA', { channel: 'G'.repeat(48), command: 'ADD_OWNERS', value: [stranger.pub] })).slice(1), ['ERROR', 'INVALID_ID']);
        assert.deepEqual((await owner.call('REMOVE_OWNED_CHANNEL', { channel: unknown })).slice(1), ['ERROR', 'INSUFFICIENT_PERMISSIONS']);
        // An owned blob, as OWNED_UPLOAD_COMPLETE leaves it.
        const id = blob48();
        const dir = dataFile(srv, 'blob', id.slice(0, 2));
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, id), Buffer.alloc(1000, 7));
        fs.writeFileSync(path.join(dir, id + '.metadata.ndjson'), JSON.stringify({ owners: [owner.pub] }) + '\n');
        const md = await anon(a, 'GET_METADATA', id);
        if (!md[2] || !md[2].owners) {
            t.diagnostic('files_blob_meta does not read blob metadata yet (files slice): the owned-blob part is not tested');
            return;
        }
        assert.deepEqual(md[2], { owners: [owner.pub] });
        assert.deepEqual((await stranger.call('SET_METADATA', { channel: id, command: 'ADD_OWNERS', value: [stranger.pub] })).slice(1), ['ERROR', 'INSUFFICIENT_PERMISSIONS']);
        assert.deepEqual((await owner.call('SET_METADATA', { channel: id, command: 'ADD_OWNERS', value: [stranger.pub] }))[2], { owners: [owner.pub, stranger.pub] });
        // Q17: written to the blob's metadata log, not the datastore.
        const lines = readLines(path.join(dir, id + '.metadata.ndjson'));
        assert.equal(lines.length, 2);
        assert.deepEqual(JSON.parse(lines[1]).slice(0, 2), ['ADD_OWNERS', [stranger.pub]]);
        assert.ok(!fs.existsSync(chanFile(srv, id, '.metadata.ndjson')));
        assert.deepEqual((await anon(a, 'GET_METADATA', id))[2], { owners: [owner.pub, stranger.pub] });
        // The new co-owner may remove it.
        assert.deepEqual((await stranger.call('REMOVE_OWNED_CHANNEL', { channel: id, reason: 'GONE' })).slice(2), ['OK']);
        assert.ok(!fs.existsSync(path.join(dir, id)));
        assert.deepEqual((await anon(a, 'GET_FILE_SIZE', id)).slice(1), ['ERROR', { code: 'ENOENT', reason: 'GONE' }]);
        a.close();
    } finally { await srv.stop(); }
});

test('expiry: the EXPIRE task file, refusal after the time, the runner archives it (EDELETED "EXPIRED"), others untouched', async () => {
    const srv = await startServer({ args: ['--keepalive-tick', '500'] });
    try {
        const a = await connect(srv);
        const ch = chan32(), keep = chan32();
        const t0 = Date.now();
        await create(a, ch, { expire: 2 });
        await create(a, keep, {});
        assert.equal(await send(a, keep, 'kept'), 'ACK');
        assert.equal(await send(a, ch, 'before'), 'ACK');
        const meta = JSON.parse(readLines(chanFile(srv, ch, '.metadata.ndjson'))[0]);
        assert.ok(meta.expire >= t0 + 2000 && meta.expire < Date.now() + 2000, `expire ${meta.expire}`);
        // The task file, named as the reference names it.
        const line = JSON.stringify([meta.expire, 'EXPIRE', ch]) + '\n';
        const day = String(meta.expire - meta.expire % 86400000);
        const name = b64(nacl.hash(Buffer.from(line))).replace(/\//g, '-') + '.ndjson';
        const taskFile = dataFile(srv, 'data', 'tasks', day, name);
        assert.equal(fs.readFileSync(taskFile, 'utf8'), line);
        // A channel created without expire (or expire: 0) writes no task.
        const none = chan32();
        await create(a, none, { expire: 0 });
        assert.equal(fs.readdirSync(dataFile(srv, 'data', 'tasks', day)).length, 1);
        // The runner (refusals before it runs: the next test): archived within
        // a tick or two of the time, the members told.
        const b = await Client.connect(srv.url);
        await b.join(ch);
        const del = await b.waitFor((f) => f[2] === 'MSG' && f[1] === b.hk && f[4].includes('EDELETED'), 15000);
        assert.deepEqual(JSON.parse(del[4]), { error: 'EDELETED', message: 'EXPIRED', channel: ch });
        assert.equal(fs.readFileSync(chanFile(srv, ch, '.ndjson.placeholder'), 'utf8'), 'EXPIRED');
        assert.deepEqual(readLines(archFile(srv, ch, '.ndjson')).map((l) => JSON.parse(l)[4]), ['before']);
        assert.ok(!fs.existsSync(taskFile));
        assert.ok(!fs.existsSync(dataFile(srv, 'data', 'tasks', day)), 'the empty day directory is removed');
        assert.deepEqual((await anon(a, 'IS_NEW_CHANNEL', ch)).slice(1), [null, { isNew: true, reason: 'EXPIRED' }, null]);
        const c = await Client.connect(srv.url);
        await c.join(ch);
        await assert.rejects(c.history(ch), /EDELETED/);
        assert.deepEqual((await a.history(keep)).map((m) => m[4]), ['kept']);
        a.close(); b.close(); c.close();
    } finally { await srv.stop(); }
});

test('expiry on access: an expired channel whose task never ran is archived once more than a day late', async () => {
    const srv = await startServer();
    try {
        const now = Date.now();
        const late = chan32(), recent = chan32();
        for (const [id, expire] of [[late, now - 25 * 3600 * 1000], [recent, now - 3600 * 1000]]) {
            fs.mkdirSync(path.dirname(chanFile(srv, id, '')), { recursive: true });
            fs.writeFileSync(chanFile(srv, id, '.metadata.ndjson'), JSON.stringify({ channel: id, created: now - 1e8, expire }) + '\n');
            fs.writeFileSync(chanFile(srv, id, '.ndjson'), JSON.stringify([0, 'u', 'MSG', id, 'old', now - 1e8]) + '\n');
        }
        const a = await Client.connect(srv.url);
        const notice = (id) => a.waitFor((f) => f[2] === 'MSG' && f[1] === a.hk && f[4].includes('EEXPIRED') && f[4].includes(id));
        for (const id of [late, recent]) {
            await a.join(id);
            // No ACK for a history request on an expired channel (observed): only the notice.
            a.send([a.seq++, 'MSG', a.hk, JSON.stringify(['GET_HISTORY', id, { txid: 'x' + id }])]);
            assert.deepEqual(JSON.parse((await notice(id))[4]), { error: 'EEXPIRED', channel: id });
        }
        assert.equal(fs.readFileSync(chanFile(srv, late, '.ndjson.placeholder'), 'utf8'), 'EXPIRED');
        assert.ok(fs.existsSync(archFile(srv, late, '.ndjson')));
        assert.ok(fs.existsSync(chanFile(srv, recent, '.ndjson')), 'less than a day late: left to the task runner');
        assert.ok(!fs.existsSync(chanFile(srv, recent, '.ndjson.placeholder')));
        // Writes to an expired channel are refused (unlike the reference), with the notice.
        assert.deepEqual((await a.request(['MSG', recent, 'too late'])).slice(1), ['ERROR']);
        assert.deepEqual(JSON.parse((await notice(recent))[4]), { error: 'EEXPIRED', channel: recent });
        await a.join(HK_PROBE);
        assert.deepEqual((await anon(a, 'WRITE_PRIVATE_MESSAGE', [recent, 'late wpm'])).slice(1), ['ERROR', 'EEXPIRED']);
        assert.deepEqual(readLines(chanFile(srv, recent, '.ndjson')).map((l) => JSON.parse(l)[4]), ['old']);
        a.close();
    } finally { await srv.stop(); }
});

test('burn after reading: the reader with the burn key reads, then removes the pad; a second reader gets EDELETED', async () => {
    const srv = await startServer();
    try {
        const creator = await connect(srv);
        const burnKp = nacl.sign.keyPair(); // carried in the link
        const pad = chan32(), other = chan32();
        await create(creator, pad, { owners: [b64(burnKp.publicKey)] });
        assert.equal(await send(creator, pad, 'secret'), 'ACK');
        await create(creator, other, {});
        assert.equal(await send(creator, other, 'unrelated'), 'ACK');
        creator.close();
        await sleep(100);
        // The first reader holds the burn key: reads the history, then deletes.
        const reader = await connect(srv);
        await reader.join(pad);
        assert.deepEqual((await reader.history(pad)).map((m) => m[4]), ['secret']);
        const burner = await new Key(reader, burnKp).auth();
        assert.deepEqual((await burner.call('REMOVE_OWNED_CHANNEL', { channel: pad, reason: 'BURNED' })).slice(2), ['OK']);
        const notice = await reader.waitFor((f) => f[2] === 'MSG' && f[1] === reader.hk && f[4].includes('EDELETED'));
        assert.deepEqual(JSON.parse(notice[4]), { error: 'EDELETED', message: 'BURNED', channel: pad });
        // A second reader: nothing to read.
        const second = await Client.connect(srv.url);
        await second.join(pad);
        await assert.rejects(second.history(pad), /EDELETED/);
        assert.deepEqual((await anon(reader, 'IS_NEW_CHANNEL', pad)).slice(1), [null, { isNew: true, reason: 'BURNED' }, null]);
        assert.deepEqual((await anon(reader, 'GET_FILE_SIZE', pad)).slice(1), [null, 0, null]);
        assert.deepEqual((await burner.call('REMOVE_OWNED_CHANNEL', { channel: pad })).slice(1), ['ERROR', 'ENOENT']);
        // Other channels are untouched.
        await second.join(other);
        assert.deepEqual((await second.history(other)).map((m) => m[4]), ['unrelated']);
        reader.close(); second.close();
    } finally { await srv.stop(); }
});

test('restricted channels: a stranger is refused everywhere and told so; the owner changes the list', async () => {
    const srv = await startServer();
    try {
        const a = await connect(srv);
        const owner = await new Key(a).auth();
        const ch = chan32();
        await create(a, ch, { owners: [owner.pub], restricted: true, allowed: [] });
        assert.equal(await send(a, ch, 'inside'), 'ACK');
        const s = await connect(srv);
        const sKey = new Key(s);
        await sKey.auth(); // authenticated, but with a key that is not allowed
        const hk = s.hk;
        // JOIN
        const j = await s.request(['JOIN', ch]);
        assert.deepEqual(j.slice(1), ['ERROR', 'ERESTRICTED', [hk, owner.pub]]);
        // the three history commands
        for (const req of [['GET_HISTORY', ch, { txid: 'h1' }], ['GET_HISTORY_RANGE', ch, { txid: 'h2', count: 5 }], ['GET_FULL_HISTORY', ch]]) {
            const r = await s.request(['MSG', hk, JSON.stringify(req)]);
            assert.deepEqual(r.slice(1), ['ERROR', 'ERESTRICTED', hk], req[0]);
        }
        // broadcast, string and non-string content
        assert.deepEqual((await s.request(['MSG', ch, 'sneak'])).slice(1), ['ERROR']);
        assert.deepEqual((await s.request(['MSG', ch, { obj: 1 }])).slice(1), ['ERROR']);
        // metadata: the rejected shape
        assert.deepEqual((await anon(s, 'GET_METADATA', ch))[2], { restricted: true, allowed: [owner.pub], rejected: true });
        // a private message
        assert.deepEqual((await anon(s, 'WRITE_PRIVATE_MESSAGE', [ch, 'sneak'])).slice(1), ['ERROR', 'INSUFFICIENT_PERMISSIONS']);
        // the owner's commands
        for (const [cmd, arg] of [['TRIM_HISTORY', { channel: ch, hash: 'h'.repeat(64) }], ['CLEAR_OWNED_CHANNEL', ch],
            ['REMOVE_OWNED_CHANNEL', { channel: ch }], ['SET_METADATA', { channel: ch, command: 'ADD_ALLOWED', value: [sKey.pub] }]]) {
            assert.deepEqual((await sKey.call(cmd, arg)).slice(1), ['ERROR', 'INSUFFICIENT_PERMISSIONS'], cmd);
        }
        assert.deepEqual((await a.history(ch)).map((m) => m[4]), ['inside']);
        // The owner allows the key: the same connection joins and reads.
        assert.deepEqual((await owner.call('SET_METADATA', { channel: ch, command: 'ADD_ALLOWED', value: [sKey.pub] }))[2].allowed, [sKey.pub]);
        await s.join(ch);
        assert.deepEqual((await s.history(ch)).map((m) => m[4]), ['inside']);
        assert.equal((await anon(s, 'GET_METADATA', ch))[2].rejected, undefined);
        assert.equal(await send(s, ch, 'allowed now'), 'ACK');
        assert.deepEqual((await anon(s, 'WRITE_PRIVATE_MESSAGE', [ch, 'wpm now'])).slice(1, 2), [null]);
        // Another connection with the same key but no COOKIE is still refused.
        const s2 = await connect(srv);
        assert.deepEqual((await s2.request(['JOIN', ch])).slice(1, 3), ['ERROR', 'ERESTRICTED']);
        // The owner removes it: kicked with ERESTRICTED, refused again.
        await owner.call('SET_METADATA', { channel: ch, command: 'RM_ALLOWED', value: [sKey.pub] });
        const kick = await s.waitFor((f) => f[2] === 'MSG' && f[1] === hk && f[4].includes('ERESTRICTED'));
        assert.deepEqual(JSON.parse(kick[4]), { error: 'ERESTRICTED', channel: ch });
        assert.deepEqual((await s.request(['MSG', ch, 'after kick'])).slice(1), ['ERROR']);
        assert.deepEqual((await s.request(['JOIN', ch])).slice(1, 3), ['ERROR', 'ERESTRICTED']);
        // Lifting the restriction opens it to everybody.
        await owner.call('SET_METADATA', { channel: ch, command: 'RESTRICT_ACCESS', value: [false] });
        await s2.join(ch);
        assert.deepEqual((await s2.history(ch)).map((m) => m[4]), ['inside', 'allowed now', 'wpm now']);
        a.close(); s.close(); s2.close();
    } finally { await srv.stop(); }
});
