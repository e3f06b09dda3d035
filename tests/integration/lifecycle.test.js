// Integration: command line, configuration file, clean shutdown on SIGTERM.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { startServer, Client, health, BIN, freePort } = require('./lib.js');

test('--help explains every option and exits 0', () => {
    const r = spawnSync(BIN, ['--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    for (const opt of ['--listen', '--data', '--fsync', '--max-message', '--max-output', '--log-level', '--config',
        '--ping-interval', '--idle-timeout'])
        assert.ok(r.stdout.includes(opt), opt);
});

test('bad options and a busy port fail with a clear message', async () => {
    let r = spawnSync(BIN, ['--fsync', 'sometimes'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bad value 'sometimes' for option 'fsync'/);
    r = spawnSync(BIN, ['--no-such-flag', '1'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown option/);
    const srv = await startServer();
    try {
        const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-busy-'));
        r = spawnSync(BIN, ['--listen', `127.0.0.1:${srv.port}`, '--data', d], { encoding: 'utf8', timeout: 5000 });
        assert.equal(r.status, 1);
        assert.match(r.stderr, /cannot listen|address already in use/i);
    } finally { await srv.stop(); }
});

test('a config file sets options; flags win over it', async () => {
    const port = await freePort();
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-ini-'));
    const ini = path.join(d, 'blindpad.ini');
    fs.writeFileSync(ini, `[server]\nlisten = 127.0.0.1:1\ndata = ${d}/fromfile\nmax-message = 2048\n`);
    const srv = await startServer({ port, dataDir: path.join(d, 'fromflag'), args: ['--config', ini] });
    try {
        const c = await Client.connect(srv.url);
        const ch = 'd'.repeat(32);
        await c.join(ch);
        assert.equal((await c.request(['MSG', ch, 'small']))[1], 'ACK');
        assert.ok(fs.existsSync(path.join(d, 'fromflag', 'datastore', 'dd')), 'the --data flag wins');
        // max-message from the file: a 4 KiB message closes the connection with 1009
        const closed = new Promise((r) => c.ws.on('close', (code) => r(code)));
        c.send([99, 'MSG', ch, 'x'.repeat(4096)]);
        assert.equal(await closed, 1009);
    } finally { await srv.stop(); }
});

test('SIGTERM: clients get a close frame, writes are kept, the process exits 0', async () => {
    const srv = await startServer({ args: ['--fsync', 'group'] });
    const a = await Client.connect(srv.url);
    const b = await Client.connect(srv.url);
    const ch = 'e'.repeat(32);
    await a.join(ch);
    await b.join(ch);
    const sent = [];
    for (let i = 0; i < 50; i++) {
        const m = 'before-shutdown-' + i;
        assert.equal((await a.request(['MSG', ch, m]))[1], 'ACK');
        sent.push(m);
    }
    const codes = Promise.all([a, b].map((c) => new Promise((r) => c.ws.on('close', (code) => r(code)))));
    const exited = new Promise((r) => srv.proc.on('exit', (code, sig) => r({ code, sig })));
    srv.proc.kill('SIGTERM');
    assert.deepEqual(await codes, [1001, 1001]);
    assert.deepEqual(await exited, { code: 0, sig: null });
    assert.match(srv.stderr(), /shutting down/);
    assert.match(srv.stderr(), /stopped/);
    const again = await startServer({ dataDir: srv.dataDir });
    try {
        const c = await Client.connect(again.url);
        await c.join(ch);
        assert.deepEqual((await c.history(ch)).map((m) => m[4]), sent);
        assert.equal((await health(again.port)).body.status, 'ok');
        c.close();
    } finally { await again.stop(); }
});
