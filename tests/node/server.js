// A Node http2 server for h2wasm's client tests: prints its port, then
// serves /sessions (HTTP/2 sessions so far), /hello, /echo (body back with an x-sha256 trailer), /big,
// /pushy (pushes /pushed.txt before answering), /stream-state (the
// stream's priority as Node sees it, JSON) and /sensitive (the request
// fields that arrived never-indexed, JSON); CONNECT tunnels to the
// requested authority (Node's documented proxy example).
// usage: node server.js [tls CERT KEY]
'use strict';
const http2 = require('node:http2');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');

const [mode, cert, key] = process.argv.slice(2);
const server = mode === 'tls'
  ? http2.createSecureServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) })
  : http2.createServer();

let sessions = 0;
server.on('session', () => { sessions += 1; });

server.on('stream', (stream, headers) => {
  if (headers[':method'] === 'CONNECT') {
    const [host, port] = headers[':authority'].split(':');
    const socket = net.connect(Number(port), host, () => {
      stream.respond({ ':status': 200 });
      socket.pipe(stream);
      stream.pipe(socket);
    });
    socket.on('error', () => stream.close(http2.constants.NGHTTP2_CONNECT_ERROR));
    return;
  }
  const path = headers[':path'];
  if (path === '/sessions') {
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end(`${sessions}\n`);
  } else if (path === '/hello') {
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-peer': 'node' });
    stream.end('hello from node\n');
  } else if (path === '/echo') {
    const hash = crypto.createHash('sha256');
    stream.respond({ ':status': 200 }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-sha256': hash.digest('hex') }));
    stream.on('data', (c) => { hash.update(c); stream.write(c); });
    stream.on('end', () => stream.end());
  } else if (path === '/pushy') {
    stream.pushStream({ ':path': '/pushed.txt' }, (err, push) => {
      if (err) { stream.respond({ ':status': 500 }); stream.end(); return; }
      push.respond({ ':status': 200, 'content-type': 'text/plain' });
      push.end('pushed by node\n');
      stream.respond({ ':status': 200 });
      stream.end('page\n');
    });
  } else if (path === '/sensitive') {
    // Names the client sent never-indexed.
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.end(JSON.stringify(headers[http2.sensitiveHeaders] || []));
  } else if (path === '/stream-state') {
    const { weight, sumDependencyWeight } = stream.state;
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.end(JSON.stringify({ weight, sumDependencyWeight }));
  } else if (path === '/big') {
    stream.respond({ ':status': 200 });
    const chunk = Buffer.alloc(1 << 16, 7);
    let left = 16;
    const pump = () => {
      while (left > 0) {
        left -= 1;
        if (!stream.write(chunk)) { stream.once('drain', pump); return; }
      }
      stream.end();
    };
    pump();
  } else {
    stream.respond({ ':status': 404 });
    stream.end();
  }
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
