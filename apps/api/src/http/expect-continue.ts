import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * curl and most clients ask before sending a large body (Expect: 100-continue). Answering 413 right
 * there, instead of Node's automatic "100 Continue", spares the client sending gigabytes for nothing.
 */
export function refuseOversizedBeforeContinue(server: Server, maxBytes: number): void {
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      res.writeHead(413, { 'Content-Type': 'application/json; charset=utf-8', Connection: 'close' });
      res.end(JSON.stringify({ error: 'too-large', reason: `the upload is ${declared} bytes; this server accepts at most ${maxBytes}` }));
      return;
    }
    res.writeContinue();
    server.emit('request', req, res);
  });
}
