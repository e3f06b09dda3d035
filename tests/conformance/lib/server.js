'use strict';
// Starts the server under test (blindpad) or points at an external one.
//
//   BLINDPAD_BIN          server binary (default: <repo>/build/blindpad-server)
//   CONFORMANCE_WS_URL    use this already-running server instead (e.g. the reference
//                         CryptPad server: ws://127.0.0.1:24003/). No restart/kill then.
//   CONFORMANCE_DATA_DIR  (external only) its data directory, for the on-disk checks
//   CONFORMANCE_TARGET    'reference' (default when CONFORMANCE_WS_URL is set) or 'blindpad'
//   CONFORMANCE_KEEP=1    keep temporary data dirs and server logs
//   CONFORMANCE_SERVER_LOG=1  echo the server's stderr to ours

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const DEFAULT_BIN = path.join(REPO_ROOT, 'build', 'blindpad-server');
const BIN = process.env.BLINDPAD_BIN || DEFAULT_BIN;
const EXTERNAL_URL = process.env.CONFORMANCE_WS_URL || '';
const EXTERNAL = EXTERNAL_URL !== '';
const TARGET = process.env.CONFORMANCE_TARGET || (EXTERNAL ? 'reference' : 'blindpad');
const IS_REFERENCE = TARGET === 'reference';
const SLOW = process.env.CONFORMANCE_SLOW === '1';
const KEEP = process.env.CONFORMANCE_KEEP === '1';

function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.unref();
        s.on('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

function canConnect(port) {
    return new Promise((resolve) => {
        const sock = net.connect({ host: '127.0.0.1', port });
        const done = (ok) => { sock.removeAllListeners(); sock.destroy(); resolve(ok); };
        sock.once('connect', () => done(true));
        sock.once('error', () => done(false));
        sock.setTimeout(500, () => done(false));
    });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// a WebSocket handshake succeeds and the first frame (IDENT) arrives
function wsReady(url) {
    const WebSocket = require('ws');
    return new Promise((resolve) => {
        const ws = new WebSocket(url);
        const done = (ok) => { clearTimeout(t); ws.removeAllListeners(); ws.on('error', () => {}); try { ws.terminate(); } catch (e) { /* */ } resolve(ok); };
        const t = setTimeout(() => done(false), 2000);
        ws.on('message', () => done(true));
        ws.on('error', () => done(false));
        ws.on('unexpected-response', () => done(false));
        ws.on('close', () => done(false));
    });
}

/**
 * Start a server.
 *   opts.args     extra command line arguments (array of strings), e.g. ['--max-message','1048576']
 *   opts.dataDir  use this data dir (not deleted at stop) instead of a fresh temp dir
 *   opts.name     label used for temp dir/log names
 * Returns {url, port, dataDir, external, logFile, stop(), kill9(), restart(), alive(), exitInfo()}
 */
async function startServer(opts = {}) {
    if (EXTERNAL) {
        const u = new URL(EXTERNAL_URL);
        return {
            url: EXTERNAL_URL,
            baseUrl: `${u.protocol}//${u.host}`,
            port: Number(u.port),
            dataDir: process.env.CONFORMANCE_DATA_DIR || null,
            external: true,
            logFile: null,
            async stop() {},
            async kill9() { throw new Error('kill9 is impossible on an external server'); },
            async restart() { throw new Error('restart is impossible on an external server'); },
            alive() { return true; },
            exitInfo() { return null; },
            logTail() { return ''; },
        };
    }
    if (!fs.existsSync(BIN)) {
        throw new Error(`server binary not found: ${BIN} (build it, or set BLINDPAD_BIN / CONFORMANCE_WS_URL)`);
    }
    const name = (opts.name || 'srv').replace(/[^A-Za-z0-9_-]/g, '_');
    const ownDir = !opts.dataDir;
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), `blindpad-conf-${name}-`));
    const dataDir = opts.dataDir || path.join(workDir, 'data');
    fs.mkdirSync(dataDir, { recursive: true });
    const logFile = path.join(workDir, 'server.log');
    const extra = opts.args || [];

    const srv = {
        url: null, baseUrl: null, port: null, dataDir, external: false, logFile,
        proc: null, _exit: null, _expectExit: false, _tail: [],
    };

    const launch = async (port) => {
        const args = ['--listen', `127.0.0.1:${port}`, '--data', dataDir, ...extra];
        let log = fs.openSync(logFile, 'a');
        const logWrite = (x) => { if (log !== null) { try { fs.writeSync(log, x); } catch (e) { /* ignore */ } } };
        logWrite(`\n==== ${new Date().toISOString()} ${BIN} ${args.join(' ')}\n`);
        const proc = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        srv.proc = proc;
        if (srv._exit) { srv.lastExit = srv._exit; }
        srv._exit = null;
        srv._expectExit = false;
        const onData = (chunk) => {
            logWrite(chunk);
            if (process.env.CONFORMANCE_SERVER_LOG === '1') { process.stderr.write(chunk); }
            const lines = chunk.toString('utf8').split('\n');
            srv._tail.push(...lines);
            if (srv._tail.length > 200) { srv._tail.splice(0, srv._tail.length - 200); }
        };
        proc.stdout.on('data', onData);
        proc.stderr.on('data', onData);
        const exited = new Promise((resolve) => {
            proc.once('exit', (code, signal) => {
                srv._exit = { code, signal, expected: srv._expectExit };
                logWrite(`==== exit code=${code} signal=${signal}\n`);
                // grandchildren may hold the pipes open; do not let them keep us alive
                setTimeout(() => { proc.stdout.destroy(); proc.stderr.destroy(); }, 300).unref();
                resolve(srv._exit);
            });
            proc.once('close', () => { const l = log; log = null; try { fs.closeSync(l); } catch (e) { /* ignore */ } });
        });
        srv._exited = exited;
        const deadline = Date.now() + 15000;
        while (Date.now() < deadline) {
            if (srv._exit) { break; }
            if (await canConnect(port) && await wsReady(`ws://127.0.0.1:${port}/cryptpad_websocket`)) {
                srv.port = port;
                srv.baseUrl = `ws://127.0.0.1:${port}`;
                srv.url = `${srv.baseUrl}/cryptpad_websocket`;
                return true;
            }
            await sleep(30);
        }
        if (!srv._exit) { proc.kill('SIGKILL'); await exited; }
        return false;
    };

    const start = async (preferredPort) => {
        for (let attempt = 0; attempt < 3; attempt++) {
            const port = (attempt === 0 && preferredPort) ? preferredPort : await freePort();
            if (await launch(port)) { return; }
        }
        throw new Error(`server did not start (${BIN}); last log lines:\n${srv._tail.slice(-30).join('\n')}`);
    };

    srv.alive = () => !!srv.proc && srv._exit === null;
    srv.exitInfo = () => srv._exit;
    srv.logTail = (n = 40) => srv._tail.slice(-n).join('\n');
    // Stops the server. Throws (after cleaning up) if it had died on its own before, or if it
    // did not exit cleanly on SIGTERM (exit code != 0, e.g. a sanitizer report, or a SIGKILL
    // was needed after 5 s).
    srv.stop = async ({ keepData = false } = {}) => {
        let problem = null;
        if (srv._exit && !srv._exit.expected) {
            problem = `server died unexpectedly (code=${srv._exit.code} signal=${srv._exit.signal})`;
        } else if (srv.alive()) {
            srv._expectExit = true;
            srv.proc.kill('SIGTERM');
            let forced = false;
            const t = setTimeout(() => { if (srv.alive()) { forced = true; srv.proc.kill('SIGKILL'); } }, 5000);
            const ex = await srv._exited;
            clearTimeout(t);
            if (forced) {
                problem = 'server did not exit within 5 s of SIGTERM';
            } else if (!(ex.code === 0 || (ex.code === null && ex.signal === 'SIGTERM'))) {
                problem = `server exited with code=${ex.code} signal=${ex.signal} on SIGTERM`;
            }
        }
        const tail = srv.logTail(60);
        if (problem) { keepData = true; }
        if (!keepData && !KEEP && ownDir) {
            fs.rmSync(workDir, { recursive: true, force: true });
        }
        if (problem) {
            throw new Error(`${problem}; log ${logFile}:\n${tail}`);
        }
    };
    srv.kill9 = async () => {
        if (!srv.alive()) { throw new Error('server not running'); }
        srv._expectExit = true;
        srv.proc.kill('SIGKILL');
        await srv._exited;
    };
    // Stop (SIGTERM, or SIGKILL with {kill:true}) and start again on the same data dir
    // (same port if it can be re-bound). srv.url may change.
    srv.restart = async ({ kill = false } = {}) => {
        const port = srv.port;
        if (srv.alive()) {
            if (kill) { await srv.kill9(); } else { await srv.stop({ keepData: true }); }
        }
        await start(port);
        return srv;
    };

    await start(null);
    return srv;
}

module.exports = { startServer, EXTERNAL, IS_REFERENCE, SLOW, REPO_ROOT, BIN, sleep, freePort };
