'use strict';
// resp_conn.js - a raw RESP2 connection for the e2e tests that need to
// control reads and writes themselves (slow readers, exact byte counts):
// one command at a time, replies parsed just enough (simple, error,
// integer, bulk, arrays). Shared by robust.test.js and io.test.js.
const net = require('node:net');

function bulk(s) {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(String(s), 'latin1');
  return Buffer.concat([Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')]);
}
function commandv(args) {
  return Buffer.concat([Buffer.from(`*${args.length}\r\n`)].concat(args.map(bulk)));
}
function command(...args) {
  return commandv(args);
}

// One command at a time; replies parsed just enough (simple, error,
// integer, bulk as Buffer, arrays).
class Conn {
  constructor(sock, { strings = false } = {}) {
    this.sock = sock;
    this.strings = strings; // bulk replies as latin1 strings, else Buffers
    this.chunks = [];
    this.len = 0;
    this.want = 0;
    this.waiters = [];
    this.closed = false;
    sock.on('data', (d) => { this.chunks.push(d); this.len += d.length; this.pump(); });
    sock.on('close', () => { this.closed = true; this.pump(); });
    sock.on('error', () => {});
  }
  static open(port, opts) {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new Conn(s, opts)));
      s.on('error', reject);
    });
  }
  buf() {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] || Buffer.alloc(0);
  }
  parse(b, off) {
    const nl = b.indexOf('\r\n', off);
    if (nl < 0) return null;
    const t = String.fromCharCode(b[off]);
    const line = b.toString('latin1', off + 1, nl);
    if (t === '+' || t === '-' || t === ':') {
      return { v: t === ':' ? Number(line) : (t === '-' ? new Error(line) : line), end: nl + 2 };
    }
    if (t === '$') {
      const n = Number(line);
      if (n < 0) return { v: null, end: nl + 2 };
      if (b.length < nl + 2 + n + 2) {
        this.want = nl + 4 + n; // do not re-join the chunks before that
        return null;
      }
      const v = this.strings ? b.toString('latin1', nl + 2, nl + 2 + n)
                             : b.subarray(nl + 2, nl + 2 + n);
      return { v, end: nl + 4 + n };
    }
    if (t === '*') {
      const n = Number(line);
      const arr = [];
      let p = nl + 2;
      for (let i = 0; i < n; i++) {
        const r = this.parse(b, p);
        if (!r) return null;
        arr.push(r.v);
        p = r.end;
      }
      return { v: arr, end: p };
    }
    throw new Error('bad reply type ' + t);
  }
  pump() {
    while (this.waiters.length) {
      if (!this.closed && this.len < this.want) return;
      this.want = 0;
      const b = this.buf();
      const r = b.length ? this.parse(b, 0) : null;
      if (!r) {
        if (!this.closed) return;
        this.waiters.shift().reject(new Error('connection closed'));
        continue;
      }
      this.chunks = [b.subarray(r.end)];
      this.len = b.length - r.end;
      const w = this.waiters.shift();
      if (r.v instanceof Error) w.reject(r.v);
      else w.resolve(r.v);
    }
  }
  send(buf) {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.sock.write(buf);
      this.pump();
    });
  }
  cmd(...args) { return this.send(command(...args)); }
  async str(...args) {
    const v = await this.cmd(...args);
    return Buffer.isBuffer(v) ? v.toString('latin1') : v;
  }
  close() { this.sock.destroy(); }
}

module.exports = { Conn, bulk, command, commandv };
