'use strict';
// SERVER-API.md §8 items 35-45: channel management (§2.5), metadata commands (§2.6), expiry (§4.8).
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const {
    startApiServer, Rpc, RawClient, createChannel, chan32, keyPair, pub, needsData, findPath,
    chanFile, readLines, taskFiles, sleep, IS_REFERENCE,
} = require('../lib/api');
const { content, hashOf } = require('../lib/client');
const { SLOW } = require('../lib/util');

let srv;
before(async () => { srv = await startApiServer({ name: 'api-channels' }); });
after(async () => { if (srv) { await srv.stop(); } });

const rpc = (kp) => Rpc.open(srv, kp);

// an owned channel (owner connection authenticated first) with optional messages
async function ownedChannel(owner, { metadata = {}, messages = [] } = {}) {
    const ch = chan32();
    await owner.getCookie();
    const md = await createChannel(owner.c, ch, { owners: [pub(owner.kp)], ...metadata });
    for (const m of messages) { assert.equal((await owner.c.msg(ch, m))[1], 'ACK'); }
    return { ch, md };
}
const setMd = (r, channel, command, value, opts) => r.signed('SET_METADATA', { channel, command, value }, opts);
const metaLines = (ch) => readLines(chanFile(srv.dataDir, ch, '.metadata.ndjson'));

describe('§8 channel management and metadata', { concurrency: true }, () => {
    it('§8.35 SET_METADATA on an unknown channel → E_NO_OWNERS; from a non-owner → INSUFFICIENT_PERMISSIONS', async () => {
        const owner = await rpc(keyPair());
        const other = await rpc(keyPair());
        try {
            assert.deepEqual(await setMd(other, chan32(), 'ADD_OWNERS', [pub(other.kp)], { txid: 't' }), ['t', 'ERROR', 'E_NO_OWNERS']);
            const { ch } = await ownedChannel(owner);
            assert.deepEqual(await setMd(other, ch, 'ADD_OWNERS', [pub(other.kp)], { txid: 't2' }), ['t2', 'ERROR', 'INSUFFICIENT_PERMISSIONS']);
            assert.deepEqual(await setMd(other, ch, 'RESTRICT_ACCESS', [true], { txid: 't3' }), ['t3', 'ERROR', 'INSUFFICIENT_PERMISSIONS']);
        } finally { owner.close(); other.close(); }
    });

    it('§8.36 SET_METADATA ADD_OWNERS [k2,"short"] adds only k2; the reply is the full metadata; the log gains ["ADD_OWNERS",[k2,"short"],ms]', async () => {
        const owner = await rpc(keyPair());
        try {
            const v = pub(keyPair());
            const { ch } = await ownedChannel(owner, { metadata: { validateKey: v } });
            const k2 = pub(keyPair());
            const t0 = Date.now();
            const body = await setMd(owner, ch, 'ADD_OWNERS', [k2, 'short'], { txid: 't' });
            assert.equal(body[0], 't');
            assert.ok(body[1].includes('|'), JSON.stringify(body));
            assert.equal(body.length, 3);
            const md = body[2];
            assert.deepEqual(md.owners, [pub(owner.kp), k2]);
            assert.equal(md.channel, ch);
            assert.equal(md.validateKey, v);
            assert.equal(typeof md.created, 'number');
            const got = (await owner.anon('GET_METADATA', ch))[2];
            assert.deepEqual(got.owners, [pub(owner.kp), k2]);
            if (srv.dataDir) {
                const lines = metaLines(ch);
                assert.equal(lines.length, 2, lines.join('\n'));
                const last = JSON.parse(lines[1]);
                assert.deepEqual(last.slice(0, 2), ['ADD_OWNERS', [k2, 'short']]);
                assert.equal(typeof last[2], 'number');
                assert.ok(last[2] >= t0 - 1000 && last[2] <= Date.now() + 1000);
            }
        } finally { owner.close(); }
    });

    it('§8.37 a SET_METADATA that changes nothing writes no line and replies with the current metadata', async () => {
        const owner = await rpc(keyPair());
        try {
            const { ch } = await ownedChannel(owner);
            const before1 = srv.dataDir ? metaLines(ch) : null;
            const body = await setMd(owner, ch, 'ADD_OWNERS', [pub(owner.kp)], { txid: 't' });
            assert.equal(body[0], 't');
            assert.notEqual(body[1], 'ERROR', JSON.stringify(body));
            assert.deepEqual(body[2].owners, [pub(owner.kp)]);
            assert.equal(body[2].channel, ch);
            if (srv.dataDir) { assert.deepEqual(metaLines(ch), before1, 'nothing written'); }
            // RESTRICT_ACCESS [true] twice: one line, then nothing
            assert.equal((await setMd(owner, ch, 'RESTRICT_ACCESS', [true]))[2].restricted, true);
            const before2 = srv.dataDir ? metaLines(ch) : null;
            if (srv.dataDir) { assert.equal(before2.length, before1.length + 1); }
            const body2 = await setMd(owner, ch, 'RESTRICT_ACCESS', [true], { txid: 't2' });
            assert.equal(body2[0], 't2');
            assert.notEqual(body2[1], 'ERROR', JSON.stringify(body2));
            assert.equal(body2[2].channel, ch);
            assert.equal(body2[2].restricted, true);
            assert.deepEqual(body2[2].allowed, []);
            if (srv.dataDir) { assert.deepEqual(metaLines(ch), before2, 'nothing written'); }
        } finally { owner.close(); }
    });

    it('§8.38 RESTRICT_ACCESS [true] sets restricted:true,allowed:[]; unauthorised members get {"error":"ERESTRICTED","channel":id} and are removed', async () => {
        const owner = await rpc(keyPair());
        const member = await RawClient.connect(srv.url);
        try {
            const { ch } = await ownedChannel(owner);
            member.hk = owner.hk;
            await member.join(ch);
            await owner.c.waitFor((f) => f[2] === 'JOIN' && f[1] === member.id && f[3] === ch);
            const body = await setMd(owner, ch, 'RESTRICT_ACCESS', [true]);
            assert.notEqual(body[1], 'ERROR', JSON.stringify(body));
            assert.equal(body[2].restricted, true);
            assert.deepEqual(body[2].allowed, []);
            const kicked = await member.waitHk((b) => b && b.error === 'ERESTRICTED');
            assert.deepEqual(kicked.body, { error: 'ERESTRICTED', channel: ch });
            const l = await owner.c.waitFor((f) => f[2] === 'LEAVE' && f[3] === ch && f[1] === member.id);
            assert.deepEqual(l.slice(0, 4), [0, member.id, 'LEAVE', ch]);
            // the owner (authenticated by the signed RPC) stays and gets the new metadata
            const md = await owner.c.waitHk((b) => b && b.channel === ch && b.restricted === true);
            assert.deepEqual(md.body.allowed, []);
            const w = await member.msg(ch, 'after restriction');
            assert.deepEqual(w, [w[0], 'ERROR'], 'the removed member is no longer in the channel');
        } finally { owner.close(); member.close(); }
    });

    it('§8.39 RESTRICT_ACCESS ["yes"] → "Error: INVALID_STATE"; UPDATE_EXPIRATION → "Error: E_NOT_IMPLEMENTED"; NOPE → UNSUPPORTED_COMMAND', async () => {
        const owner = await rpc(keyPair());
        try {
            const { ch } = await ownedChannel(owner);
            assert.deepEqual(await setMd(owner, ch, 'RESTRICT_ACCESS', ['yes'], { txid: 't' }), ['t', 'ERROR', 'Error: INVALID_STATE']);
            assert.deepEqual(await setMd(owner, ch, 'UPDATE_EXPIRATION', 1000, { txid: 't2' }), ['t2', 'ERROR', 'Error: E_NOT_IMPLEMENTED']);
            assert.deepEqual(await setMd(owner, ch, 'NOPE', [], { txid: 't3' }), ['t3', 'ERROR', 'UNSUPPORTED_COMMAND']);
            // nothing changed
            const md = (await owner.anon('GET_METADATA', ch))[2];
            assert.ok(!md.restricted);
        } finally { owner.close(); }
    });

    it('§8.40 a pending owner may ADD_OWNERS [self] and nothing else', async () => {
        const owner = await rpc(keyPair());
        const P = keyPair();
        const pending = await rpc(P);
        try {
            const { ch } = await ownedChannel(owner);
            const add = await setMd(owner, ch, 'ADD_PENDING_OWNERS', [pub(P)]);
            assert.deepEqual(add[2].pending_owners, [pub(P)], JSON.stringify(add));
            const x = pub(keyPair());
            for (const [cmd, value] of [['ADD_OWNERS', [x]], ['ADD_OWNERS', [pub(P), x]], ['RESTRICT_ACCESS', [true]],
                ['ADD_ALLOWED', [pub(P)]], ['RM_OWNERS', [pub(owner.kp)]], ['ADD_PENDING_OWNERS', [x]]]) {
                assert.deepEqual(await setMd(pending, ch, cmd, value, { txid: 'no' }), ['no', 'ERROR', 'INSUFFICIENT_PERMISSIONS'], `${cmd} ${JSON.stringify(value)}`);
            }
            const ok = await setMd(pending, ch, 'ADD_OWNERS', [pub(P)], { txid: 'yes' });
            assert.equal(ok[0], 'yes');
            assert.notEqual(ok[1], 'ERROR', JSON.stringify(ok));
            assert.deepEqual(ok[2].owners, [pub(owner.kp), pub(P)]);
            const md = (await owner.anon('GET_METADATA', ch))[2];
            assert.deepEqual(md.owners, [pub(owner.kp), pub(P)]);
        } finally { owner.close(); pending.close(); }
    });

    it('§8.41 TRIM_HISTORY {channel, hash of a stored msg} → "OK"; the log starts there, the metadata log is one line, a copy is in archive/datastore', async () => {
        const owner = await rpc(keyPair());
        try {
            const msgs = [1, 2, 3, 4, 5].map((i) => content(`trim${i}`));
            const { ch } = await ownedChannel(owner, { messages: msgs });
            await setMd(owner, ch, 'ADD_PENDING_OWNERS', [pub(keyPair())]); // a second metadata line
            const body = await owner.signed('TRIM_HISTORY', { channel: ch, hash: hashOf(msgs[2]) }, { txid: 't' });
            assert.equal(body[0], 't');
            assert.deepEqual(body.slice(2), ['OK'], JSON.stringify(body));
            const reader = await RawClient.connect(srv.url);
            try {
                reader.hk = owner.hk;
                await reader.join(ch);
                const h = await reader.getHistory(ch, { txid: 'after-trim' });
                assert.ok(h.end, 'history ends');
                assert.deepEqual(h.messages.map((m) => m[4]), msgs.slice(2));
                assert.deepEqual(h.metadata[0].owners, [pub(owner.kp)]);
                assert.equal(h.metadata[0].pending_owners.length, 1);
            } finally { reader.close(); }
            if (srv.dataDir) {
                const lines = metaLines(ch);
                assert.equal(lines.length, 1, lines.join('\n'));
                const obj = JSON.parse(lines[0]);
                assert.equal(obj.channel, ch);
                assert.equal(obj.pending_owners.length, 1);
                const log = readLines(chanFile(srv.dataDir, ch)).map((l) => JSON.parse(l));
                assert.deepEqual(log.map((m) => m[4]), msgs.slice(2));
                const arch = findPath(srv.dataDir, [`data/archive/datastore/${ch.slice(0, 2)}/${ch}.ndjson`, `archive/datastore/${ch.slice(0, 2)}/${ch}.ndjson`]);
                assert.ok(arch, 'an archive copy of the log');
                assert.deepEqual(readLines(arch).map((l) => JSON.parse(l)[4]), msgs);
                assert.ok(fs.existsSync(arch.replace(/\.ndjson$/, '.metadata.ndjson')), 'an archive copy of the metadata log');
            }
        } finally { owner.close(); }
    });

    it('§8.42 TRIM_HISTORY with an unknown hash → HASH_NOT_FOUND; with a non-64-char hash → INVALID_ARGS', async () => {
        const owner = await rpc(keyPair());
        try {
            const msgs = [content('a'), content('b')];
            const { ch } = await ownedChannel(owner, { messages: msgs });
            assert.deepEqual(await owner.signed('TRIM_HISTORY', { channel: ch, hash: 'x'.repeat(64) }, { txid: 't' }), ['t', 'ERROR', 'HASH_NOT_FOUND']);
            assert.deepEqual(await owner.signed('TRIM_HISTORY', { channel: ch, hash: hashOf(msgs[1]).slice(0, 63) }, { txid: 't2' }), ['t2', 'ERROR', 'INVALID_ARGS']);
            assert.deepEqual(await owner.signed('TRIM_HISTORY', { channel: ch, hash: 5 }, { txid: 't3' }), ['t3', 'ERROR', 'INVALID_ARGS']);
            const h = await owner.c.getHistory(ch, { txid: 'still' });
            assert.deepEqual(h.messages.map((m) => m[4]), msgs, 'nothing trimmed');
        } finally { owner.close(); }
    });

    it('§8.43 CLEAR_OWNED_CHANNEL → [t,cookie]; members get ECLEARED; GET_HISTORY then returns only metadata', async () => {
        const owner = await rpc(keyPair());
        const member = await RawClient.connect(srv.url);
        try {
            const { ch } = await ownedChannel(owner, { messages: [content('c1'), content('c2')] });
            member.hk = owner.hk;
            await member.join(ch);
            const body = await owner.signed('CLEAR_OWNED_CHANNEL', ch, { txid: 't' });
            assert.equal(body.length, 2, JSON.stringify(body));
            assert.equal(body[0], 't');
            assert.ok(body[1].includes('|'));
            const n = await member.waitHk((b) => b && b.error === 'ECLEARED');
            assert.deepEqual(n.body, { error: 'ECLEARED', channel: ch });
            await owner.c.waitHk((b) => b && b.error === 'ECLEARED');
            const h = await member.getHistory(ch, { txid: 'cleared' });
            assert.ok(h.end, 'history ends');
            assert.equal(h.messages.length, 0);
            assert.equal(h.metadata.length, 1);
            assert.deepEqual(h.metadata[0].owners, [pub(owner.kp)]);
            // a non-owner cannot clear
            const other = await rpc(keyPair());
            try {
                assert.deepEqual(await other.signed('CLEAR_OWNED_CHANNEL', ch, { txid: 'x' }), ['x', 'ERROR', 'INSUFFICIENT_PERMISSIONS']);
            } finally { other.close(); }
        } finally { owner.close(); member.close(); }
    });

    it('§8.44 REMOVE_OWNED_CHANNEL {channel, reason:"BYE"} → "OK"; EDELETED to members; IS_NEW_CHANNEL/GET_METADATA/GET_FILE_SIZE after; a second removal → ENOENT', async () => {
        const owner = await rpc(keyPair());
        const member = await RawClient.connect(srv.url);
        const other = await rpc(keyPair());
        try {
            const { ch } = await ownedChannel(owner, { messages: [content('r1')] });
            member.hk = owner.hk;
            await member.join(ch);
            assert.deepEqual(await other.signed('REMOVE_OWNED_CHANNEL', { channel: ch, reason: 'NO' }, { txid: 'x' }), ['x', 'ERROR', 'INSUFFICIENT_PERMISSIONS']);
            const body = await owner.signed('REMOVE_OWNED_CHANNEL', { channel: ch, reason: 'BYE' }, { txid: 't' });
            assert.deepEqual(body.slice(2), ['OK'], JSON.stringify(body));
            const n = await member.waitHk((b) => b && b.error === 'EDELETED');
            assert.deepEqual(n.body, { error: 'EDELETED', message: 'BYE', channel: ch });
            if (IS_REFERENCE) { await sleep(100); }
            assert.deepEqual(await other.anon('IS_NEW_CHANNEL', ch, { txid: 'n' }), ['n', null, { isNew: true, reason: 'BYE' }, null]);
            assert.deepEqual(await other.anon('GET_METADATA', ch, { txid: 'm' }), ['m', 'ERROR', 'BYE']);
            assert.deepEqual(await other.anon('GET_FILE_SIZE', ch, { txid: 's' }), ['s', null, 0, null]);
            assert.deepEqual(await owner.signed('REMOVE_OWNED_CHANNEL', { channel: ch, reason: 'BYE' }, { txid: 't2' }), ['t2', 'ERROR', 'ENOENT']);
            if (srv.dataDir) {
                assert.equal(fs.readFileSync(chanFile(srv.dataDir, ch, '.ndjson.placeholder'), 'utf8'), 'BYE');
            }
        } finally { owner.close(); member.close(); other.close(); }
    });

    it('§8.45 metadata.expire writes an EXPIRE task under tasks/<day>/; an expired channel answers EEXPIRED (archival by the runner: CONFORMANCE_SLOW=1)', { timeout: 8 * 60 * 1000 }, async (t) => {
        if (needsData(t, srv)) { return; }
        const owner = await rpc(keyPair());
        try {
            const t0 = Date.now();
            const { ch, md } = await ownedChannel(owner, { metadata: { expire: 3600 } });
            assert.ok(Math.abs(md.expire - (t0 + 3600 * 1000)) < 10000, `expire is absolute ms: ${md.expire}`);
            await sleep(200);
            const tasks = taskFiles(srv.dataDir).filter((x) => fs.readFileSync(x.file, 'utf8').includes(ch));
            assert.equal(tasks.length, 1, `one task file for ${ch}`);
            const text = fs.readFileSync(tasks[0].file, 'utf8');
            assert.deepEqual(JSON.parse(text), [md.expire, 'EXPIRE', ch]);
            assert.ok(text.endsWith('\n'));
            assert.equal(tasks[0].day, String(Math.floor(md.expire / 86400000) * 86400000), 'the day directory is the UTC day of the task');
            assert.match(path.basename(tasks[0].file), /^[A-Za-z0-9+=-]+\.ndjson$/);

            // due: access answers EEXPIRED
            const { ch: ch2 } = await ownedChannel(owner, { metadata: { expire: 1 }, messages: [content('exp')] });
            await sleep(1500);
            const reader = await RawClient.connect(srv.url);
            try {
                reader.hk = owner.hk;
                await reader.join(ch2);
                // the reference sends the notice on the JOIN already (and then does not answer
                // the GET_HISTORY at all); the notice after the GET_HISTORY is as good
                const h = await reader.getHistory(ch2, { txid: 'expired' }, { timeout: 2000 });
                assert.equal(h.messages.length, 0, 'no history of an expired channel');
                assert.equal(h.end, null, 'no end marker');
                // blindpad's runner archives a task as soon as it is due (the reference scans
                // every 5 min), so the access may already find it archived: EDELETED "EXPIRED".
                const notices = reader.all((m) => reader.isHkMsg(m) && ['EEXPIRED', 'EDELETED'].includes(JSON.parse(m[4]).error)).map((m) => JSON.parse(m[4]));
                if (notices[0] && notices[0].error === 'EDELETED' && !srv.external) {
                    assert.equal(notices[0].message, 'EXPIRED', `frames: ${reader.recent(8)}`);
                    assert.equal(notices[0].channel, ch2);
                } else {
                    assert.deepEqual(notices[0], { error: 'EEXPIRED', channel: ch2 }, `EEXPIRED notice; frames: ${reader.recent(8)}`);
                }
            } finally { reader.close(); }
            if (!SLOW) {
                t.diagnostic('the task runner\'s archival within ~5 min is checked only with CONFORMANCE_SLOW=1');
                return;
            }
            const deadline = Date.now() + 6 * 60 * 1000;
            let last;
            while (Date.now() < deadline) {
                last = await owner.anon('IS_NEW_CHANNEL', ch2);
                if (last[2] && last[2].reason) { break; }
                await sleep(5000);
            }
            assert.deepEqual(last[2], { isNew: true, reason: 'EXPIRED' });
            assert.equal(fs.readFileSync(chanFile(srv.dataDir, ch2, '.ndjson.placeholder'), 'utf8'), 'EXPIRED');
        } finally { owner.close(); }
    });
});
