'use strict';
// A hand-made WebSocket client over a raw TCP socket, for clients that misbehave at the
// transport level (never read, half-open, ...).
const crypto = require('node:crypto');
const net = require('node:net');

function encodeFrame(payload, opcode = 1) {
    const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload, 'utf8');
    const len = data.length;
    let header;
    if (len < 126) {
        header = Buffer.alloc(2);
        header[1] = 0x80 | len;
    } else if (len < 65536) {
        header = Buffer.alloc(4);
        header[1] = 0x80 | 126;
        header.writeUInt16BE(len, 2);
    } else {
        header = Buffer.alloc(10);
        header[1] = 0x80 | 127;
        header.writeBigUInt64BE(BigInt(len), 2);
    }
    header[0] = 0x80 | opcode;
    const mask = crypto.randomBytes(4);
    const masked = Buffer.alloc(len);
    for (let i = 0; i < len; i++) { masked[i] = data[i] ^ mask[i & 3]; }
    return Buffer.concat([header, mask, masked]);
}

// Parse complete unmasked server frames from buf; returns {frames:[{opcode,payload}], rest}
function decodeFrames(buf) {
    const frames = [];
    let off = 0;
    for (;;) {
        if (buf.length - off < 2) { break; }
        const b0 = buf[off]; const b1 = buf[off + 1];
        let len = b1 & 0x7f; let hl = 2;
        if (len === 126) { if (buf.length - off < 4) { break; } len = buf.readUInt16BE(off + 2); hl = 4; }
        else if (len === 127) { if (buf.length - off < 10) { break; } len = Number(buf.readBigUInt64BE(off + 2)); hl = 10; }
        if (buf.length - off < hl + len) { break; }
        frames.push({ opcode: b0 & 0x0f, payload: buf.subarray(off + hl, off + hl + len) });
        off += hl + len;
    }
    return { frames, rest: buf.subarray(off) };
}

/**
 * Connect, do the HTTP upgrade, read frames until IDENT, then return.
 * The caller can then socket.pause() to stop reading.
 */
function connectRaw(port, path = '/cryptpad_websocket', host = '127.0.0.1') {
    return new Promise((resolve, reject) => {
        const sock = net.connect({ host, port });
        const key = crypto.randomBytes(16).toString('base64');
        let buf = Buffer.alloc(0);
        let upgraded = false;
        const timer = setTimeout(() => { sock.destroy(); reject(new Error('raw connect timeout')); }, 5000);
        sock.on('error', (e) => { clearTimeout(timer); reject(e); });
        sock.on('connect', () => {
            sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
                `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
        });
        const onData = (chunk) => {
            buf = Buffer.concat([buf, chunk]);
            if (!upgraded) {
                const i = buf.indexOf('\r\n\r\n');
                if (i === -1) { return; }
                const head = buf.subarray(0, i).toString('latin1');
                if (!/^HTTP\/1\.1 101/.test(head)) { clearTimeout(timer); sock.destroy(); return reject(new Error('no 101: ' + head)); }
                upgraded = true;
                buf = buf.subarray(i + 4);
            }
            const { frames, rest } = decodeFrames(buf);
            buf = rest;
            for (const f of frames) {
                if (f.opcode !== 1) { continue; }
                const m = JSON.parse(f.payload.toString('utf8'));
                if (m[2] === 'IDENT') {
                    clearTimeout(timer);
                    sock.removeListener('data', onData);
                    return resolve({ sock, id: m[3], sendText: (s) => sock.write(encodeFrame(s, 1)) });
                }
            }
        };
        sock.on('data', onData);
    });
}

module.exports = { connectRaw, encodeFrame, decodeFrames };
