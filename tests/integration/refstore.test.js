// Integration: a data directory written by the real CryptPad server
// (tests/data/refstore, made by tests/reference/make-refdata.sh) is served
// unchanged, and every history-keeper answer the reference gave on it
// (transcripts.json) is given byte for byte by blindpad, except where
// docs/PROTOCOL.md lists a deliberate difference; those cases are checked
// against what blindpad promises instead.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const WebSocket = require('ws');
const { startServer, sleep, ROOT } = require('./lib.js');

const REF = path.join(ROOT, 'tests', 'data', 'refstore');
const transcripts = JSON.parse(fs.readFileSync(path.join(REF, 'transcripts.json'), 'utf8'));

function copyStore() {
    const dst = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-refstore-'));
    fs.cpSync(path.join(REF, 'datastore'), path.join(dst, 'datastore'), { recursive: true });
    if (fs.existsSync(path.join(REF, 'data'))) fs.cpSync(path.join(REF, 'data'), path.join(dst, 'data'), { recursive: true });
    return dst;
}

// One socket; frames kept in arrival order.
function open(url) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(url);
        const s = { ws, frames: [], id: null, waiters: [] };
        ws.on('message', (d) => {
            const m = JSON.parse(d.toString());
            if (m[2] === 'IDENT') { s.id = m[3]; resolve(s); return; }
            s.frames.push(m);
            s.waiters.forEach((w) => w());
        });
        ws.on('error', reject);
    });
}

async function collect(s, n, quietMs) {
    const deadline = Date.now() + 5000;
    while (s.frames.length < n && Date.now() < deadline) await sleep(10);
    await sleep(quietMs); // anything extra would show up here
    return s.frames.splice(0);
}

function normalise(frame, me, hk) {
    let t = JSON.stringify(frame).split(hk).join('$HK').split(me).join('$ME');
    // other users' netflux ids in membership frames
    let f = JSON.parse(t);
    if ((f[2] === 'JOIN' || f[2] === 'LEAVE') && typeof f[1] === 'string' && /^[0-9a-f]{32}$/.test(f[1])) f[1] = '$USER';
    // RPC cookies: "<time>|<pid>|<token>"
    if (f[2] === 'MSG' && f[1] === '$HK' && typeof f[4] === 'string') {
        try {
            const body = JSON.parse(f[4]);
            if (Array.isArray(body) && typeof body[1] === 'string' && /^\d+\|\d+\|[0-9a-f]+$/.test(body[1])) {
                body[1] = '$COOKIE';
                f[4] = JSON.stringify(body);
            }
        } catch (e) { /* not JSON: leave it */ }
    }
    return f;
}

// Deliberate differences (docs/PROTOCOL.md). Each returns true if blindpad's
// answer is the one we promise.
const body = (f) => { try { return JSON.parse(f[4]); } catch (e) { return undefined; } };
const DEVIATIONS = [
    {
        // §3.4 recommendation: any hash at or after the oldest retained checkpoint is
        // accepted (the reference's rebuilt index knows only the last checkpoint on).
        why: 'lastKnownHash accepted from the oldest retained checkpoint on',
        applies: (t, exp) => exp.some((f) => (body(f) || {}).error === 'EUNKNOWN'),
        ok: (t, got) => {
            const lkh = JSON.parse(t.send[t.send.length - 1][3])[2].lastKnownHash;
            const msgs = got.map(body).filter(Array.isArray);
            return msgs.length > 0 && typeof msgs[0][4] === 'string' && msgs[0][4].slice(0, 64) === lkh &&
                got.some((f) => (body(f) || {}).state === 1);
        },
    },
    {
        why: 'no server path in error texts (GET_FULL_HISTORY / HISTORY_RANGE_ERROR on a missing log)',
        applies: (t, exp) => JSON.stringify(exp).includes('$ROOT'),
        ok: (t, got, exp) => got.length === exp.length && got.every((f, i) => {
            const e = exp[i];
            if (!JSON.stringify(e).includes('$ROOT')) return JSON.stringify(f) === JSON.stringify(e);
            const b = body(f);
            return Array.isArray(b) && (b[0] === 'ERROR' || b[0] === 'HISTORY_RANGE_ERROR') && !JSON.stringify(b).includes('/');
        }),
    },
    {
        why: 'a non-member asking for the history of an expired channel gets the EEXPIRED notice (the reference sends nothing)',
        applies: (t, exp) => t.channel === channels.expired && !exp.some((f) => (body(f) || {}).error === 'EEXPIRED'),
        ok: (t, got, exp) => {
            const extra = got.filter((f) => !exp.some((e) => JSON.stringify(e) === JSON.stringify(f)));
            return extra.length >= 1 && extra.every((f) => (body(f) || {}).error === 'EEXPIRED');
        },
    },
];
const channels = (() => {
    try { const c = JSON.parse(fs.readFileSync(path.join(REF, 'channels.json'), 'utf8')); return c.channels || c; } catch (e) { return {}; }
})();

test('a CryptPad data directory is served as the reference served it', async (t) => {
    const dataDir = copyStore();
    const srv = await startServer({ dataDir });
    try {
        const probe = await open(srv.url);
        probe.ws.send(JSON.stringify([1, 'JOIN', '0'.repeat(34)]));
        const hkFrame = (await collect(probe, 3, 50)).find((f) => f[2] === 'JOIN' && f[1].length === 16);
        const hk = hkFrame[1];
        probe.ws.close();
        let exact = 0, deviations = 0;
        const failures = [];
        for (const tr of transcripts) {
            const s = await open(srv.url);
            const got = [];
            for (let i = 0; i < tr.send.length; i++) {
                const frame = JSON.parse(JSON.stringify(tr.send[i]).split('$HK').join(hk).split('$ME').join(s.id));
                s.ws.send(JSON.stringify(frame));
                got.push(...await collect(s, tr.counts[i], tr.counts[i] ? 60 : 250));
            }
            s.ws.close();
            const norm = got.map((f) => normalise(f, s.id, hk));
            if (JSON.stringify(norm) === JSON.stringify(tr.expect)) { exact++; continue; }
            const dev = DEVIATIONS.find((d) => d.applies(tr, tr.expect));
            if (dev && dev.ok(tr, norm, tr.expect)) { deviations++; continue; }
            failures.push(`${tr.name} (${tr.why})${dev ? ' [' + dev.why + ']' : ''}\n   expected ${JSON.stringify(tr.expect).slice(0, 1500)}\n   got      ${JSON.stringify(norm).slice(0, 1500)}`);
        }
        t.diagnostic(`${exact} transcripts identical, ${deviations} documented deviations, ${failures.length} failures`);
        assert.equal(failures.length, 0, failures.join('\n'));
        assert.ok(exact > transcripts.length * 0.8, 'most answers must be byte-identical');
        // The reference's files are untouched by reading them.
        for (const rel of ['datastore']) {
            const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]);
            for (const f of walk(path.join(REF, rel))) {
                const mine = path.join(dataDir, path.relative(REF, f));
                assert.ok(fs.readFileSync(mine).equals(fs.readFileSync(f)), 'changed by reading: ' + f);
            }
        }
    } finally {
        await srv.stop();
        fs.rmSync(dataDir, { recursive: true, force: true });
    }
});
