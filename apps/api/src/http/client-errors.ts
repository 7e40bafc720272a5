import { maxHeaderSize, STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** Node's own answers to requests it cannot parse (see its default clientError handler), as statuses. */
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

const REASON_BY_STATUS: Readonly<Record<number, string>> = {
  431: `the request headers are larger than the ${maxHeaderSize} bytes this server accepts`,
  413: 'the chunk extensions are larger than this server accepts',
  408: 'the request headers did not arrive in time',
  400: 'the request is not valid HTTP',
};

/**
 * A request Node cannot parse (headers too large, malformed) never reaches Nest: Node answers it on the
 * socket itself, with a bare status line. Every answer of this API is `{error, reason}` JSON, so these
 * are too; the connection closes after, as Node's own answer does.
 */
export function answerClientErrorsWithJson(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = STATUS_BY_CODE[err.code ?? ''] ?? 400;
    const body = JSON.stringify({ error: status === 431 || status === 413 ? 'too-large' : 'bad-request', reason: REASON_BY_STATUS[status] });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
