// The HTTP side of blindpad-server (SERVER-API.md §3.1-3.3, §3.8-3.10, §8 items
// 65-72) against the real server, with a small client tree made in a temp dir:
// route and lookup order, redirects, MIME types, caching, the security headers
// and their CSP variants, the config-like JavaScript endpoints, path traversal
// and other bad input (nothing outside the tree may be served), huge headers,
// slowloris trickling, wrong methods, and a 300 MiB file streamed with bounded
// server memory. (Range requests on /blob are the files tests' job.)
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const zlib = require('node:zlib');
const { startServer, freePort, sleep } = require('./lib');

const SECRET = 'TOP-SECRET-OUTSIDE-THE-ROOT';
const ADMIN = 'A'.repeat(43) + '=';
const BIG = 300 * 1024 * 1024;
let srv, port, tmp, root, origin, sandbox;

function write(rel, content) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, content);
}

before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-http-'));
    root = path.join(tmp, 'cryptpad');
    fs.writeFileSync(path.join(tmp, 'secret.txt'), SECRET);
    write('customize.dist/index.html', '<html>home from customize.dist</html>');
    write('customize.dist/404.html', '<html>custom 404 page</html>');
    write('customize.dist/CryptPad_logo_hero.svg', '<svg>logo</svg>');
    write('customize.dist/favicon.ico', 'ico from customize.dist');
    write('customize/favicon.ico', 'ico from customize');
    write('customize.dist/both.txt', 'both from customize.dist');
    write('customize/both.txt', 'both from customize');
    write('customize.dist/only-dist.css', 'body{}');
    write('customize/www/override.txt', 'override from customize/www');
    write('www/override.txt', 'override from www');
    write('www/common/app.js', 'console.log("app");');
    write('www/common/gz.js', 'console.log("plain variant");');
    fs.writeFileSync(path.join(root, 'www/common/gz.js.gz'), zlib.gzipSync('console.log("gzip variant");'));
    write('src/common/fallback.js', 'console.log("from src/common");');
    write('www/common/onlyoffice/dist/v7/fonts/001', 'font');
    write('www/pad/inner.html', '<html>pad inner</html>');
    write('www/pad/index.html', '<html>pad index</html>');
    write('www/sheet/inner.html', '<html>sheet inner</html>');
    write('www/sub/dir/index.html', '<html>sub dir</html>');
    write('www/noindex/file.txt', 'x');
    write('www/app.wasm', Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    write('www/unknown.xyz', 'data');
    write('www/.hidden', SECRET);
    fs.symlinkSync('../secret.txt', path.join(root, 'www/evil'));
    fs.symlinkSync('../../../secret.txt', path.join(root, 'www/common/evil2.js'));
    fs.symlinkSync(path.join(tmp, 'secret.txt'), path.join(root, 'www/abs'));
    fs.symlinkSync('common/app.js', path.join(root, 'www/link.js'));
    // 300 MiB, sparse, with a few non-zero markers to check the bytes
    const big = path.join(root, 'www/big.bin');
    fs.closeSync(fs.openSync(big, 'w'));
    fs.truncateSync(big, BIG);
    const fd = fs.openSync(big, 'r+');
    for (const off of [0, 262143, 100 * 1024 * 1024 + 7, BIG - 5000]) fs.writeSync(fd, crypto.randomBytes(4096), 0, 4096, off);
    fs.closeSync(fd);

    port = await freePort();
    srv = await startServer({ port, args: ['--web-root', root, '--admin-keys', ADMIN] });
    origin = `http://localhost:${port}`;
    sandbox = `http://localhost:${port + 1}`;
    const id = 'ab' + '0'.repeat(30);
    fs.mkdirSync(path.join(srv.dataDir, 'datastore', 'ab'), { recursive: true });
    fs.writeFileSync(path.join(srv.dataDir, 'datastore', 'ab', id + '.ndjson'), 'x'.repeat(72));
});

after(async () => {
    if (srv) await srv.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
});

// One request with node's client; resolves {status, headers, body: Buffer}.
function req(method, p, headers = {}, toPort = port) {
    return new Promise((resolve, reject) => {
        const r = http.request({ host: '127.0.0.1', port: toPort, method, path: p, headers, agent: false }, (res) => {
            const chunks = [];
            res.on('data', (d) => chunks.push(d));
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        });
        r.on('error', reject);
        r.end();
    });
}
const get = (p, headers) => req('GET', p, headers);

// Raw bytes on a fresh connection (Connection: close is up to the caller);
// resolves with everything the server sent before closing.
function raw(text, ms = 5000) {
    return new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        const chunks = [];
        const t = setTimeout(() => { s.destroy(); reject(new Error('raw: no close within ' + ms + ' ms')); }, ms);
        s.on('data', (d) => chunks.push(d));
        s.on('error', () => {});
        s.on('close', () => { clearTimeout(t); resolve(Buffer.concat(chunks).toString('latin1')); });
        s.write(text);
    });
}
const rawStatus = (text) => raw(text).then((r) => ({ status: Number(r.slice(9, 12)), text: r }));

test('lookup order: customize/www, www, src/common, customize, customize.dist', async () => {
    let r = await get('/');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), '<html>home from customize.dist</html>');
    assert.match(r.headers['content-type'], /^text\/html/);
    assert.equal((await get('/index.html')).body.toString(), '<html>home from customize.dist</html>');
    assert.equal((await get('/override.txt')).body.toString(), 'override from customize/www');
    assert.equal((await get('/common/app.js')).body.toString(), 'console.log("app");');
    assert.equal((await get('/common/fallback.js')).body.toString(), 'console.log("from src/common");');
    assert.equal((await get('/favicon.ico')).body.toString(), 'ico from customize');
    assert.equal((await get('/customize/both.txt')).body.toString(), 'both from customize');
    assert.equal((await get('/customize/only-dist.css')).body.toString(), 'body{}');
    assert.equal((await get('/customize.dist/both.txt')).body.toString(), 'both from customize.dist');
    assert.equal((await get('/pad/inner.html')).body.toString(), '<html>pad inner</html>');
    assert.equal((await get('/link.js')).body.toString(), 'console.log("app");'); // a symlink inside the tree
    r = await get('/no/such/file');
    assert.equal(r.status, 404);
    assert.equal(r.body.toString(), '<html>custom 404 page</html>');
    assert.match(r.headers['content-type'], /^text\/html/);
});

test('directories: 301 to the slash form, then index.html', async () => {
    let r = await get('/pad');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, '/pad/');
    r = await get('/pad?x=1');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, '/pad/?x=1');
    r = await get('/pad/');
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), '<html>pad index</html>');
    assert.equal((await get('/sub/dir')).headers.location, '/sub/dir/');
    assert.equal((await get('/sub/dir/')).body.toString(), '<html>sub dir</html>');
    assert.equal((await get('/customize')).headers.location, '/customize/');
    assert.equal((await get('/noindex/')).status, 404); // a directory without index.html
});

test('MIME types, ETag, 304, HEAD and gzip variants', async () => {
    const types = {
        '/common/app.js': /^application\/javascript/, '/app.wasm': /^application\/wasm$/,
        '/pad/inner.html': /^text\/html/, '/customize/only-dist.css': /^text\/css/,
        '/api/logo': /^image\/svg\+xml$/, '/unknown.xyz': /^application\/octet-stream$/,
    };
    for (const [p, re] of Object.entries(types)) {
        const r = await get(p);
        assert.equal(r.status, 200, p);
        assert.match(r.headers['content-type'], re, p);
    }
    assert.equal((await get('/api/logo')).headers['content-disposition'], 'inline');
    let r = await get('/common/app.js');
    assert.match(r.headers.etag, /^W\/"[0-9a-f]+-[0-9a-f]+"$/);
    assert.ok(r.headers['last-modified']);
    const r304 = await get('/common/app.js', { 'If-None-Match': r.headers.etag });
    assert.equal(r304.status, 304);
    assert.equal(r304.body.length, 0);
    assert.equal((await get('/common/app.js', { 'If-Modified-Since': r.headers['last-modified'] })).status, 304);
    assert.equal((await get('/common/app.js', { 'If-None-Match': '"other"' })).status, 200);
    const h = await req('HEAD', '/big.bin');
    assert.equal(h.status, 200);
    assert.equal(Number(h.headers['content-length']), BIG);
    assert.equal(h.body.length, 0);
    r = await get('/common/gz.js', { 'Accept-Encoding': 'gzip' });
    assert.equal(r.headers['content-encoding'], 'gzip');
    assert.match(r.headers['content-type'], /^application\/javascript/);
    assert.equal(zlib.gunzipSync(r.body).toString(), 'console.log("gzip variant");');
    r = await get('/common/gz.js', { 'Accept-Encoding': 'gzip;q=0, br' });
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(r.body.toString(), 'console.log("plain variant");');
});

test('security headers, CSP variants and cache rules (§3.10, §8 67-69)', async () => {
    const csp = `default-src 'none'; style-src 'unsafe-inline' 'self' ${origin}; font-src 'self' data: ${origin}; ` +
        `child-src ${origin}; frame-src 'self' blob: ${sandbox}; connect-src 'self' blob: ${origin} ${sandbox} ` +
        `ws://localhost:${port}; img-src 'self' data: blob: ${origin}; media-src blob:; frame-ancestors 'self' ` +
        `${origin}; worker-src 'self'; script-src 'self' resource: ${origin}`;
    for (const p of ['/pad/inner.html', '/common/app.js', '/', '/api/instance', '/no/such']) {
        const r = await get(p);
        assert.equal(r.headers['access-control-allow-origin'], sandbox, p);
        assert.equal(r.headers['cross-origin-resource-policy'], 'cross-origin', p);
        assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp', p);
        assert.equal(r.headers['x-content-type-options'], 'nosniff', p);
        assert.equal(r.headers['x-xss-protection'], '1; mode=block', p);
        assert.equal(r.headers['referrer-policy'], 'same-origin', p);
        assert.equal(r.headers['permissions-policy'], 'interest-cohort=()', p);
        assert.equal(r.headers['content-security-policy'], csp, p);
        assert.equal(r.headers['cache-control'], 'no-cache', p);
    }
    const sheet = await get('/sheet/inner.html');
    assert.match(sheet.headers['content-security-policy'], /script-src 'self' 'unsafe-eval' 'unsafe-inline' resource: /);
    assert.doesNotMatch((await get('/pad/inner.html')).headers['content-security-policy'], /unsafe-eval/);
    for (const p of ['/api/config', '/api/config?cb=123', '/api/broadcast']) {
        const r = await get(p);
        assert.equal(r.headers['content-security-policy'], undefined, p);
        assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp', p);
    }
    assert.equal((await get('/common/app.js?ver=2026.2.2-123')).headers['cache-control'], 'max-age=31536000');
    assert.equal((await get('/common/app.js?a=1&ver=x')).headers['cache-control'], 'max-age=31536000');
    assert.equal((await get('/common/app.js?ver=')).headers['cache-control'], 'no-cache');
    // OnlyOffice fonts: the main origin may load them
    const f = await get('/common/onlyoffice/dist/v7/fonts/001', { Origin: origin });
    assert.equal(f.headers['access-control-allow-origin'], origin);
    // the sandbox listener (port+1) serves the same tree when it could bind
    const s = await req('GET', '/sheet/inner.html', {}, port + 1).catch(() => null);
    if (s) {
        assert.equal(s.status, 200);
        assert.match(s.headers['content-security-policy'], /unsafe-eval/);
    }
});

test('/api/config and /api/broadcast: exact wrappers, [27:-5] parses (§8 65-66)', async () => {
    const r = await get('/api/config?cb=1');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/javascript/);
    const body = r.body.toString();
    assert.ok(body.startsWith('define(function(){;\nreturn {\n\t"requireConf": {'), body.slice(0, 60));
    assert.ok(body.endsWith('\n};\n});'));
    const cfg = JSON.parse(body.slice(27, -5));
    assert.equal(body.slice(27, -5), JSON.stringify(cfg, null, '\t')); // tabs, JSON.stringify's layout
    assert.equal(cfg.httpUnsafeOrigin, origin);
    assert.equal(cfg.httpSafeOrigin, sandbox);
    assert.match(cfg.requireConf.urlArgs, /^ver=2026\.2\.2-\d+$/);
    assert.equal(cfg.requireConf.waitSeconds, 600);
    assert.deepEqual(cfg.adminKeys, [ADMIN]);
    assert.deepEqual(cfg.moderatorKeys, []);
    assert.equal(cfg.defaultStorageLimit, 52428800);
    assert.equal(cfg.maxUploadSize, 20971520);
    assert.equal(cfg.premiumUploadSize, false);
    assert.equal(cfg.restrictRegistration, false);
    assert.equal(cfg.enableEmbedding, false);
    assert.equal(cfg.sso, false);
    assert.deepEqual(Object.keys(cfg).slice(0, 4), ['requireConf', 'removeDonateButton', 'httpUnsafeOrigin', 'adminKeys']);
    const b = (await get('/api/broadcast')).body.toString();
    assert.ok(b.startsWith('define(function(){;\nreturn {'));
    const bc = JSON.parse(b.slice(27, -5));
    assert.equal(bc.curvePublic.length, 44);
    assert.equal(Buffer.from(bc.curvePublic, 'base64').length, 32);
    assert.equal(bc.lastBroadcastHash, '');
    // the same key every time (it signs DELETE_MAILBOX_MESSAGE proofs)
    assert.equal(JSON.parse((await get('/api/broadcast')).body.toString().slice(27, -5)).curvePublic, bc.curvePublic);
    assert.equal((await req('HEAD', '/api/config')).status, 200);
});

test('/extensions.js, /api/instance, /api/updatequota, /api/profiling (§8 70-71)', async () => {
    let r = await get('/extensions.js');
    assert.equal(r.status, 200); // directly, not the reference's 301
    assert.match(r.headers['content-type'], /^text\/javascript/);
    assert.match(r.body.toString(), /^let extensions = \[\];\nlet styles = \[\];/);
    assert.match(r.body.toString(), /define\(paths, function \(\) \{/);
    r = await get('/api/instance');
    assert.equal(r.status, 200);
    const body = r.body.toString();
    assert.ok(body.startsWith('define(function (){\n    return {'));
    const inst = JSON.parse(body.slice('define(function (){\n    return '.length, -';\n});'.length));
    assert.deepEqual(inst, { name: {}, description: {}, location: {}, notice: {} });
    r = await get('/api/updatequota');
    assert.equal(r.status, 404);
    assert.equal(r.body.toString(), '<html>custom 404 page</html>');
    assert.equal((await get('/api/profiling')).status, 404); // Q14: not 200
});

test('/datastore: HEAD gives the size, other methods 403 (§8 72)', async () => {
    const p = '/datastore/ab/ab' + '0'.repeat(30) + '.ndjson';
    const h = await req('HEAD', p);
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-length'], '72');
    assert.equal((await get(p)).status, 403);
    assert.equal((await req('POST', p)).status, 403);
    assert.equal((await req('HEAD', '/datastore/ab/nope.ndjson')).status, 404);
});

test('path traversal and other bad paths are refused; nothing outside the root is served', async () => {
    const targets = [
        '/../secret.txt', '/../../secret.txt', '/common/../../secret.txt', '/..%2fsecret.txt', '/%2e%2e/secret.txt',
        '/%2E%2E/%2e%2e/secret.txt', '/common/%2e%2e/%2e%2e/secret.txt', '/common%2f..%2f..%2fsecret.txt',
        '/..%5csecret.txt', '/common\\..\\..\\secret.txt', '/common/app.js%00.html', '/%00', '/a%zz',
        '//../secret.txt', '/./secret.txt', '/evil', '/abs', '/common/evil2.js', '/.hidden', '/www/.hidden',
        '/customize/../../secret.txt', '/customize/%2e%2e/%2e%2e/secret.txt', '/datastore/../../secret.txt',
        '/' + 'a'.repeat(3000), '/' + 'a/'.repeat(1500) + 'b',
        'http://127.0.0.1/../secret.txt', 'http://127.0.0.1/common/app.js', '*',
    ];
    for (const t of targets) {
        for (const method of ['GET', 'HEAD']) {
            const { status, text } = await rawStatus(`${method} ${t} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
            assert.ok(status === 400 || status === 404, `${method} ${t}: ${status}`);
            assert.ok(!text.includes(SECRET), `${method} ${t} leaked the secret`);
        }
    }
    // still serving normally afterwards
    assert.equal((await get('/common/app.js')).status, 200);
});

test('huge headers get 431; wrong methods get 404/403', async () => {
    const big = 'X-Big: ' + 'x'.repeat(70 * 1024) + '\r\n';
    const { status } = await rawStatus(`GET / HTTP/1.1\r\nHost: x\r\n${big}\r\n`);
    assert.equal(status, 431);
    let many = '';
    for (let i = 0; i < 5000; i++) many += `X-H${i}: yyyyyyyyyy\r\n`;
    assert.equal((await rawStatus(`GET / HTTP/1.1\r\n${many}\r\n`)).status, 431);
    for (const [m, p, want] of [['POST', '/pad/inner.html', 404], ['PUT', '/api/config', 404], ['DELETE', '/', 404],
        ['POST', '/', 404], ['PATCH', '/common/app.js', 404], ['OPTIONS', '/pad/inner.html', 404],
        ['PUT', '/datastore/ab/x.ndjson', 403]]) {
        const r = await req(m, p);
        assert.equal(r.status, want, `${m} ${p}`);
        assert.ok(!r.body.toString().includes('pad inner'));
    }
});

test('a 300 MiB file streams whole, with the right bytes, in bounded server memory', async () => {
    const want = crypto.createHash('sha256');
    for await (const chunk of fs.createReadStream(path.join(root, 'www/big.bin'), { highWaterMark: 1 << 20 })) want.update(chunk);
    const got = crypto.createHash('sha256');
    let n = 0;
    const t0 = Date.now();
    let healthMs = -1;
    await new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/big.bin', agent: false }, (res) => {
            assert.equal(res.statusCode, 200);
            assert.equal(Number(res.headers['content-length']), BIG);
            let asked = false;
            res.on('data', (d) => {
                got.update(d);
                n += d.length;
                if (!asked && n > BIG / 3) { // another client is served while the body streams
                    asked = true;
                    const h0 = Date.now();
                    get('/health').then((h) => { assert.equal(h.status, 200); healthMs = Date.now() - h0; }, reject);
                }
            });
            res.on('end', resolve);
            res.on('error', reject);
        }).on('error', reject);
    });
    assert.equal(n, BIG);
    assert.equal(got.digest('hex'), want.digest('hex'));
    await sleep(100);
    assert.ok(healthMs >= 0 && healthMs < 2000, `health took ${healthMs} ms`);
    const status = fs.readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8');
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) * 1024;
    const maps = fs.readFileSync(`/proc/${srv.proc.pid}/maps`, 'utf8');
    console.log(`# streamed ${BIG} bytes in ${Date.now() - t0} ms; server VmHWM ${(hwm / 1048576).toFixed(1)} MiB`);
    if (/libasan|libtsan/.test(maps)) {
        console.log('# sanitizer build: its allocator quarantine holds freed chunks, memory bound not checked');
    } else {
        assert.ok(hwm < 64 * 1024 * 1024, `server VmHWM ${hwm} bytes`);
    }
});

test('slowloris: a head trickled one byte per second is cut at 30 s; others are served meanwhile', async () => {
    const s = net.connect(port, '127.0.0.1');
    await new Promise((r) => s.on('connect', r));
    const text = 'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(100) + '\r\n\r\n';
    let closedAt = 0;
    const t0 = Date.now();
    s.on('error', () => {});
    const closed = new Promise((r) => s.on('close', () => { closedAt = Date.now(); r(); }));
    let got = '';
    s.on('data', (d) => { got += d; });
    let i = 0;
    const timer = setInterval(() => { if (!closedAt && i < text.length) s.write(text[i++]); }, 1000);
    await sleep(3500);
    const h0 = Date.now();
    assert.equal((await get('/health')).status, 200);
    assert.ok(Date.now() - h0 < 1000);
    await Promise.race([closed, sleep(45000)]);
    clearInterval(timer);
    s.destroy();
    const took = (closedAt || Date.now()) - t0;
    assert.ok(closedAt, 'the connection was not closed');
    assert.ok(took >= 28000 && took < 36000, `closed after ${took} ms`);
    assert.ok(!got.includes('200 OK'), 'the trickled request was answered');
    assert.ok(i < text.length);
});
