// Node's HTTP/1.1 side of h2wasm's allowHTTP1 tests.
//   node http1.js client URL [BODYFILE]
//     One request with Node's `http` or `https` client (by the URL's
//     scheme; certificates are not checked): a POST of BODYFILE if given,
//     else a GET. Prints one JSON line: status, httpVersion, the response
//     body's length and SHA-256, its trailers, and the 1xx it saw.
//   node http1.js server CERT KEY
//     An HTTPS server that offers only HTTP/1.1 (no h2 in ALPN); prints
//     its port, then answers every request with "hello over http/1.1".
'use strict';
const http = require('node:http');
const https = require('node:https');
const crypto = require('node:crypto');
const fs = require('node:fs');

const [mode, ...rest] = process.argv.slice(2);

if (mode === 'client') {
  const [url, bodyFile] = rest;
  const lib = url.startsWith('https:') ? https : http;
  const req = lib.request(url, {
    method: bodyFile ? 'POST' : 'GET',
    rejectUnauthorized: false,
    headers: { te: 'trailers' },
  });
  const informational = [];
  req.on('information', (info) => informational.push({ status: info.statusCode, headers: info.headers }));
  req.on('response', (res) => {
    const hash = crypto.createHash('sha256');
    let length = 0;
    res.on('data', (c) => { hash.update(c); length += c.length; });
    res.on('end', () => {
      console.log(JSON.stringify({
        status: res.statusCode,
        httpVersion: res.httpVersion,
        length,
        sha256: hash.digest('hex'),
        trailers: res.trailers,
        informational,
      }));
    });
  });
  req.on('error', (e) => { console.error(e.message); process.exit(1); });
  if (bodyFile) {
    fs.createReadStream(bodyFile).pipe(req);
  } else {
    req.end();
  }
} else if (mode === 'server') {
  const [cert, key] = rest;
  const server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
    res.setHeader('content-type', 'text/plain');
    res.end('hello over http/1.1\n');
  });
  server.listen(0, '127.0.0.1', () => console.log(server.address().port));
} else {
  console.error('usage: node http1.js client URL [BODYFILE] | server CERT KEY');
  process.exit(2);
}
