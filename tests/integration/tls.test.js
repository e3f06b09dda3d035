// Integration: the `blindpad` command over https:// (libblindpad's TLS,
// src/client/tls.c). blindpad-server speaks plain HTTP, so a TLS terminator
// written here with node's `tls` (a raw TCP-level proxy: every connection is
// decrypted and piped to the server, so plain requests and the WebSocket
// upgrade both pass) stands in front of it, with a self-signed certificate
// for localhost / 127.0.0.1 made at test time by `openssl req -x509`.
//
// With BLINDPAD_CA_FILE naming that certificate, upload, download, new code,
// cat, register and login work through https://localhost:PORT (and the proxy
// saw their connections); without it, every command is refused with
// "certificate for localhost is not trusted" and exit code 4 (CLI_NET); a
// name the certificate does not carry and a plain-HTTP port are refused too.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const tls = require('node:tls');
const { startServer, cliSandbox } = require('./lib.js');

const cli = cliSandbox('bp-tls-');
const { tmp, run } = cli;
const certFile = path.join(tmp, 'cert.pem');
const keyFile = path.join(tmp, 'key.pem');

let srv, proxy, proxyPort, origin, connections = 0;
const sockets = new Set();

test.before(async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
        '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    srv = await startServer({ args: ['--sandbox-port', '0'] });
    proxy = tls.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) }, (s) => {
        connections++;
        const up = net.connect(srv.port, '127.0.0.1');
        sockets.add(s);
        sockets.add(up);
        s.on('close', () => sockets.delete(s));
        up.on('close', () => sockets.delete(up));
        s.on('error', () => up.destroy());
        up.on('error', () => s.destroy());
        s.pipe(up);
        up.pipe(s);
    });
    proxy.on('tlsClientError', () => {}); // refused handshakes are part of the test
    await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
    proxyPort = proxy.address().port;
    origin = `https://localhost:${proxyPort}`;
    cli.server = origin;
});

test.after(async () => {
    for (const s of sockets) s.destroy();
    if (proxy) await new Promise((r) => proxy.close(r));
    if (srv) await srv.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
});

const trusted = { BLINDPAD_CA_FILE: certFile };

test('upload and download through https with BLINDPAD_CA_FILE', async () => {
    const src = path.join(tmp, 'random.bin');
    fs.writeFileSync(src, crypto.randomBytes(300 * 1024));
    const before = connections;
    const up = await run(['--json', 'upload', src], { env: trusted });
    assert.equal(up.code, 0, up.stderr);
    const j = JSON.parse(up.stdout);
    assert.match(j.link, new RegExp(`^https://localhost:${proxyPort}/file/#/2/file/`));
    const out = path.join(tmp, 'random.out');
    const dl = await run(['download', j.link, '-o', out], { env: trusted });
    assert.equal(dl.code, 0, dl.stderr);
    assert.ok(fs.readFileSync(out).equals(fs.readFileSync(src)));
    assert.ok(connections > before, 'the requests went through the TLS proxy');
});

test('new code and cat through https (WebSocket over TLS)', async () => {
    const before = connections;
    const nw = await run(['new', 'code', 'print("over tls")\n'], { env: trusted });
    assert.equal(nw.code, 0, nw.stderr);
    const link = nw.stdout.trim();
    assert.match(link, new RegExp(`^https://localhost:${proxyPort}/code/#/2/code/edit/`));
    const cat = await run(['cat', link], { env: trusted });
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'print("over tls")\n');
    assert.ok(connections >= before + 2);
});

test('register and login through https', async () => {
    const r = await run(['register', 'tlsuser'], { password: 'tls-password', env: trusted });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`registered tlsuser on https://localhost:${proxyPort}`));
    const l = await run(['--json', 'login', 'tlsuser'], { password: 'tls-password', env: trusted });
    assert.equal(l.code, 0, l.stderr);
    const w = await run(['--json', 'login', 'tlsuser'], { password: 'wrong-password', env: trusted });
    assert.equal(w.code, 3, w.stderr);
});

test('without BLINDPAD_CA_FILE the self-signed certificate is refused: exit 4, the reason', async () => {
    const src = path.join(tmp, 'small.txt');
    fs.writeFileSync(src, 'hello\n');
    const notTrusted = /cannot connect securely to https:\/\/localhost:\d+: .*certificate for localhost is not trusted: self-signed certificate/;
    let r = await run(['upload', src]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, notTrusted);
    assert.match(r.stderr, /BLINDPAD_CA_FILE/);
    r = await run(['new', 'code', 'x']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, notTrusted);
    r = await run(['register', 'mallory'], { password: 'mallory-password' });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /certificate for localhost is not trusted/);
    // links carry their own origin: download and cat are refused the same way
    const up = await run(['--json', 'upload', src], { env: trusted });
    assert.equal(up.code, 0, up.stderr);
    r = await run(['--json', 'download', JSON.parse(up.stdout).link, '-o', path.join(tmp, 'x.out')]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(JSON.parse(r.stdout).error, /certificate for localhost is not trusted/);
    assert.ok(!fs.existsSync(path.join(tmp, 'x.out')));
    const nw = await run(['new', 'code', 'y'], { env: trusted });
    assert.equal(nw.code, 0, nw.stderr);
    r = await run(['cat', nw.stdout.trim()]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /certificate for localhost is not trusted/);
    // another CA bundle does not help; an unreadable one is named
    const otherKey = path.join(tmp, 'k2.pem'), otherCert = path.join(tmp, 'c2.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
        '-nodes', '-keyout', otherKey, '-out', otherCert, '-days', '1', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
    r = await run(['upload', src], { env: { BLINDPAD_CA_FILE: otherCert } });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /certificate for localhost is not trusted/);
    r = await run(['upload', src], { env: { BLINDPAD_CA_FILE: path.join(tmp, 'nope.pem') } });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /cannot load the CA bundle .*nope\.pem/);
});

test('a name the certificate does not carry, and a plain HTTP port, are refused', async () => {
    const src = path.join(tmp, 'small2.txt');
    fs.writeFileSync(src, 'hello\n');
    // 127.0.0.2 is loopback too, but the certificate says localhost / 127.0.0.1
    const p2 = tls.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) }, (s) => s.destroy());
    p2.on('tlsClientError', () => {});
    const ok = await new Promise((r) => { p2.once('error', () => r(false)); p2.listen(0, '127.0.0.2', () => r(true)); });
    if (ok) {
        const r = await run(['--server', `https://127.0.0.2:${p2.address().port}`, 'upload', src], { env: trusted });
        assert.equal(r.code, 4, r.stderr);
        assert.match(r.stderr, /certificate for 127\.0\.0\.2 is not trusted: IP address mismatch/);
        await new Promise((res) => p2.close(res));
    }
    const r = await run(['--server', `https://localhost:${srv.port}`, 'upload', src], { env: trusted });
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /TLS handshake with localhost failed/);
});
