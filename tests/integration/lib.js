// Small helpers for the integration tests: start the server under test on a
// free loopback port, and a raw Netflux client over `ws`.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const WebSocket = require('ws');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = process.env.BLINDPAD_BIN || path.join(ROOT, 'build', 'blindpad-server');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
        s.on('error', reject);
    });
}

async function startServer(opts = {}) {
    const port = opts.port || await freePort();
    const dataDir = opts.dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'bp-data-'));
    const args = ['--listen', `127.0.0.1:${port}`, '--data', dataDir, ...(opts.args || [])];
    let stderr = '';
    const cmd = opts.wrap ? opts.wrap[0] : BIN;
    const argv = opts.wrap ? [...opts.wrap.slice(1), BIN, ...args] : args;
    const proc = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((r) => proc.on('exit', r));
    for (let i = 0; i < 100; i++) {
        const ok = await new Promise((r) => {
            const s = net.connect(port, '127.0.0.1', () => { s.end(); r(true); });
            s.on('error', () => r(false));
        });
        if (ok) break;
        if (proc.exitCode !== null) throw new Error('server exited: ' + stderr);
        await sleep(50);
    }
    return {
        port, dataDir, proc,
        url: `ws://127.0.0.1:${port}/cryptpad_websocket`,
        stderr: () => stderr,
        async stop() { if (proc.exitCode === null) { proc.kill('SIGTERM'); await exited; } },
    };
}

function health(port) {
    return new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/health' }, (res) => {
            let body = '';
            res.on('data', (d) => { body += d; });
            res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
        }).on('error', reject);
    });
}

class Client {
    static connect(url) {
        return new Promise((resolve, reject) => {
            const c = new Client(url);
            c.ws.on('error', reject);
            c.waitFor((m) => m[2] === 'IDENT').then((m) => { c.id = m[3]; resolve(c); }, reject);
        });
    }
    constructor(url) {
        this.ws = new WebSocket(url);
        this.seq = 1;
        this.frames = [];
        this.waiters = [];
        this.ws.on('message', (d) => {
            const m = JSON.parse(d.toString());
            this.frames.push(m);
            this.waiters = this.waiters.filter((w) => !(w.pred(m) && (w.resolve(m), true)));
        });
    }
    waitFor(pred, ms = 10000) {
        const found = this.frames.find(pred);
        if (found) { this.frames.splice(this.frames.indexOf(found), 1); return Promise.resolve(found); }
        return new Promise((resolve, reject) => {
            const w = { pred, resolve: (m) => { clearTimeout(t); this.frames.splice(this.frames.indexOf(m), 1); resolve(m); } };
            const t = setTimeout(() => { this.waiters = this.waiters.filter((x) => x !== w); reject(new Error('timeout waiting for a frame')); }, ms);
            this.waiters.push(w);
        });
    }
    send(arr) { this.ws.send(JSON.stringify(arr)); }
    request(arr) {
        const seq = this.seq++;
        this.send([seq, ...arr]);
        return this.waitFor((m) => m[0] === seq);
    }
    async join(chan) {
        const r = await this.request(['JOIN', chan]);
        if (r[1] !== 'JACK') throw new Error('join refused: ' + JSON.stringify(r));
        this.hk = (await this.waitFor((m) => m[2] === 'JOIN' && m[1].length === 16 && m[3] === chan))[1];
        await this.waitFor((m) => m[2] === 'JOIN' && m[1] === this.id && m[3] === chan);
        return r;
    }
    // GET_HISTORY from the start; resolves with the message arrays.
    async history(chan, cfg = {}) {
        const txid = 'tx' + Math.random().toString(36).slice(2);
        const msgs = [];
        const done = new Promise((resolve, reject) => {
            const onMsg = (d) => {
                const m = JSON.parse(d.toString());
                if (m[1] !== this.hk || m[2] !== 'MSG') return;
                const body = JSON.parse(m[4]);
                if (Array.isArray(body) && body[0] === txid) msgs.push(body);
                else if (body && body.state === 1 && body.txid === txid) { this.ws.off('message', onMsg); resolve(msgs); }
                else if (body && body.error && body.txid === txid) { this.ws.off('message', onMsg); reject(new Error(body.error)); }
            };
            this.ws.on('message', onMsg);
        });
        const r = await this.request(['MSG', this.hk, JSON.stringify(['GET_HISTORY', chan, { txid, ...cfg }])]);
        if (r[1] !== 'ACK') throw new Error('history refused: ' + JSON.stringify(r));
        return done;
    }
    close() { this.ws.close(); }
}


// A sandbox for the blindpad command: its own HOME and XDG_CONFIG_HOME (so its
// session file), and run(args, {password, env}) -> {code, stdout, stderr}
// against cli.server (set it once the server is up). session() parses the
// session file's key=value lines.
function cliSandbox(prefix) {
    const { spawn } = require('node:child_process');
    const bin = process.env.BLINDPAD_CLI || path.join(ROOT, 'build', 'blindpad');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    const cfg = path.join(tmp, 'config');
    const cli = { bin, tmp, cfg, sessionFile: path.join(cfg, 'blindpad', 'session'), server: null };
    cli.run = (args, { password, env = {} } = {}) => new Promise((resolve) => {
        const e = { PATH: process.env.PATH, HOME: tmp, XDG_CONFIG_HOME: cfg, ...env };
        if (password !== undefined) e.BLINDPAD_PASSWORD = password;
        const p = spawn(bin, ['--server', cli.server, ...args], { cwd: tmp, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '', stderr = '';
        p.stdout.on('data', (d) => { stdout += d; });
        p.stderr.on('data', (d) => { stderr += d; });
        p.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    cli.session = () => Object.fromEntries(fs.readFileSync(cli.sessionFile, 'utf8').split('\n')
        .filter((l) => l && !l.startsWith('#')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    return cli;
}

// An account's drive keys (userHash from the CLI's session file), with the
// drive channel in hex as the server names it.
function driveKeys(userHash) {
    const { Crypto } = require(path.join(ROOT, 'tests/conformance/lib/realstack.js'));
    const keys = Crypto.createEditCryptor2(userHash.split('/')[4]);
    keys.channel = Buffer.from(keys.chanId.replace(/-/g, '/'), 'base64').toString('hex');
    return keys;
}

// The drive as CryptPad's JS stack (chainpad-netflux + chainpad-crypto) reads it.
async function readDrive(url, userHash) {
    const { openPad } = require(path.join(ROOT, 'tests/conformance/lib/realstack.js'));
    const keys = driveKeys(userHash);
    const pad = await openPad(url, keys);
    try { return { doc: JSON.parse(pad.authDoc()), channel: keys.channel }; } finally { pad.stop(); }
}

// Registers each [cli, name] with the CLI (password `${name}-password`) on srv.
async function registerAccounts(srv, accounts) {
    const assert = require('node:assert/strict');
    for (const [cli, name] of accounts) {
        cli.server = `http://127.0.0.1:${srv.port}`;
        const r = await cli.run(['register', name], { password: `${name}-password` });
        assert.equal(r.code, 0, r.stderr);
    }
}

module.exports = { startServer, Client, health, sleep, freePort, cliSandbox, driveKeys, readDrive, registerAccounts, BIN, ROOT };
