// Integration: the disk fails under a running server (issue 2, point 6).
// A small tmpfs that fills up, then a remount read-only. Each time: the
// writer gets [seq,"ERROR"], nothing acknowledged is lost, reads and other
// clients go on, GET /health says the store is not writable, the log says so
// loudly, and the server recovers by itself when the disk does.
// Needs root (mount); skipped otherwise.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { startServer, Client, health, sleep } = require('./lib.js');

function canMount() {
    try {
        const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-mnt-'));
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', d], { stdio: 'ignore' });
        execFileSync('umount', [d], { stdio: 'ignore' });
        fs.rmdirSync(d);
        return true;
    } catch (e) { return false; }
}
const MOUNT = canMount();

function mountTmpfs(size) {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', d]);
    return d;
}

async function writeUntilError(c, chan, prefix, max) {
    const acked = [];
    for (let i = 0; i < max; i++) {
        const msg = `${prefix}-${i}-` + 'x'.repeat(900);
        const r = await c.request(['MSG', chan, msg]);
        if (r[1] === 'ERROR') return { acked, error: r };
        assert.equal(r[1], 'ACK');
        acked.push(msg);
    }
    return { acked, error: null };
}

test('disk full: writes refused with an error, reads and other clients go on, recovery', { skip: !MOUNT && 'cannot mount tmpfs here' }, async () => {
    const mnt = mountTmpfs('1m');
    const srv = await startServer({ dataDir: path.join(mnt, 'data') });
    try {
        const a = await Client.connect(srv.url);
        const chan = 'a'.repeat(32);
        await a.join(chan);
        await a.history(chan);
        const { acked, error } = await writeUntilError(a, chan, 'm', 5000);
        assert.ok(error, 'the disk never filled up');
        assert.deepEqual(error.slice(1), ['ERROR']);
        assert.ok(acked.length > 10);
        let h = await health(srv.port);
        assert.equal(h.status, 503);
        assert.equal(h.body.store.writable, false);
        assert.match(h.body.store.error, /space/);
        // Everyone else is still served: another client reads the whole history.
        const b = await Client.connect(srv.url);
        assert.deepEqual((await b.request(['PING']))[1], 'ACK');
        await b.join(chan);
        const hist = await b.history(chan);
        assert.deepEqual(hist.map(m => m[4]), acked);
        // The disk gets bigger (an operator adds space):
        execFileSync('mount', ['-o', 'remount,size=4m', mnt]);
        // The server probes every 5 s; a write also clears the state at once.
        const r = await a.request(['MSG', chan, 'after-recovery']);
        assert.equal(r[1], 'ACK');
        h = await health(srv.port);
        assert.equal(h.status, 200);
        assert.equal(h.body.store.writable, true);
        const all = await b.history(chan);
        assert.deepEqual(all.map(m => m[4]), [...acked, 'after-recovery']);
        assert.match(srv.stderr(), /STORE NOT WRITABLE/);
        a.close(); b.close();
    } finally {
        await srv.stop();
        execFileSync('umount', ['-l', mnt]);
    }
});

// A directory made read-only. Root ignores permissions, so the server runs as
// `nobody` (setpriv) on a data directory that `nobody` owns.
function canDropPrivileges() {
    try { execFileSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'true'], { stdio: 'ignore' }); return process.getuid() === 0; } catch (e) { return false; }
}
const DROP = canDropPrivileges();

test('read-only directory: new channels refused, reads go on, recovery when it is writable again', { skip: !DROP && 'needs root and setpriv' }, async () => {
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-ro-'));
    fs.chmodSync(data, 0o755);
    execFileSync('chown', ['-R', 'nobody:nogroup', data]);
    const srv = await startServer({ dataDir: data, wrap: ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'] });
    const datastore = path.join(data, 'datastore');
    try {
        const a = await Client.connect(srv.url);
        const chan = 'b'.repeat(32);
        const other = 'c'.repeat(32);
        await a.join(chan);
        const before = [];
        for (let i = 0; i < 5; i++) {
            const m = 'before-' + i;
            assert.equal((await a.request(['MSG', chan, m]))[1], 'ACK');
            before.push(m);
        }
        fs.chmodSync(datastore, 0o555);
        await a.join(other);
        const r = await a.request(['MSG', other, 'while-ro']);
        assert.deepEqual(r.slice(1), ['ERROR']);
        const h = await health(srv.port);
        assert.equal(h.status, 503);
        assert.equal(h.body.store.writable, false);
        assert.match(h.body.store.error, /read-only/);
        const b = await Client.connect(srv.url);
        assert.equal((await b.request(['PING']))[1], 'ACK');
        await b.join(chan);
        assert.deepEqual((await b.history(chan)).map(m => m[4]), before);
        assert.match(srv.stderr(), /STORE NOT WRITABLE/);
        fs.chmodSync(datastore, 0o755);
        await sleep(6000); // the housekeeping probe notices within 5 s
        const h2 = await health(srv.port);
        assert.equal(h2.status, 200, JSON.stringify(h2.body));
        assert.equal((await a.request(['MSG', other, 'after']))[1], 'ACK');
        await b.join(other);
        assert.deepEqual((await b.history(other)).map(m => m[4]), ['after']);
        a.close(); b.close();
    } finally {
        await srv.stop();
        fs.rmSync(data, { recursive: true, force: true });
    }
});
