// Node http2 file server for the benchmarks:
//   node node-files.js DIR PORT [CERT KEY]
// Files are read once at start and served from memory; with CERT and KEY
// it serves h2 over TLS. POST /echo streams the request body back (the
// upload row).
'use strict';
const http2 = require('node:http2');
const fs = require('node:fs');
const path = require('node:path');
const [dir, port, cert, key] = process.argv.slice(2);
const files = new Map(fs.readdirSync(dir).map((f) => ['/' + f, fs.readFileSync(path.join(dir, f))]));
const server = cert
  ? http2.createSecureServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) })
  : http2.createServer();
server.on('stream', (stream, headers) => {
  if (headers[':path'] === '/echo') {
    stream.respond({ ':status': 200 });
    stream.pipe(stream);
    return;
  }
  const body = files.get(headers[':path']);
  if (!body) { stream.respond({ ':status': 404 }); stream.end(); return; }
  stream.respond({ ':status': 200, 'content-length': body.length });
  stream.end(body);
});
server.on('sessionError', () => {});
server.listen(Number(port), '127.0.0.1', () => console.log('ready'));
