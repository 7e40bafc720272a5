import { randomUUID } from 'node:crypto';
import { createWriteStream, readFile as readFileCb } from 'node:fs';
import { access, constants, mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inOrder } from '@triage/promises';
import { checkKey, checkPrefix, isErrorCode, ObjectNotFoundError, translate } from './errors';
import type { ListOptions, ObjectInfo, PutOptions, StoragePort } from './storage.port';

/** Stats a listing keeps under way at once. */
const LIST_AHEAD = 32;

/**
 * A whole small file. The callback readFile, not fs/promises': the promise version reads in chunks,
 * each a separate trip to the thread pool, and is about 2.5x slower on the many small JSON records a
 * reindex reads.
 */
function readWhole(path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => readFileCb(path, (err, data) => (err ? reject(err) : resolve(data))));
}

interface Sidecar {
  contentType?: string;
  metadata: Record<string, string>;
}

/**
 * Object storage in a local directory (the embedded default):
 *
 *   DIR/objects/<key>   the bytes
 *   DIR/meta/<key>      JSON sidecar with user metadata, only when there is some
 *   DIR/.tmp/           writes land here first; same filesystem, so the final rename is atomic
 */
export class FsStorage implements StoragePort {
  private readonly objects: string;
  private readonly meta: string;
  private readonly tmp: string;
  private ready?: Promise<void>;

  constructor(readonly root: string) {
    this.objects = join(root, 'objects');
    this.meta = join(root, 'meta');
    this.tmp = join(root, '.tmp');
  }

  private init(): Promise<void> {
    this.ready ??= Promise.all([this.objects, this.meta, this.tmp].map((d) => mkdir(d, { recursive: true }))).then(
      () => undefined,
      (err: unknown) => {
        // Not cached: a directory that could not be made (disk full, unmounted) may be fine on the next call.
        this.ready = undefined;
        throw err;
      },
    );
    return this.ready;
  }

  private dataPath(key: string): string {
    return join(this.objects, checkKey(key));
  }

  private metaPath(key: string): string {
    return join(this.meta, checkKey(key));
  }

  async put(key: string, body: Readable | Buffer | string, options: PutOptions = {}): Promise<ObjectInfo> {
    const target = this.dataPath(key);
    const sidecarTarget = this.metaPath(key);
    const tmpData = join(this.tmp, randomUUID());
    const tmpMeta = `${tmpData}.meta`;
    const origin: FailureOrigin = {};
    try {
      await this.init();
      await writeDurably(tmpData, body, origin);
      const sidecar: Sidecar = { contentType: options.contentType, metadata: lowerKeys(options.metadata ?? {}) };
      const hasSidecar = sidecar.contentType !== undefined || Object.keys(sidecar.metadata).length > 0;
      if (hasSidecar) await writeDurably(tmpMeta, JSON.stringify(sidecar));
      await mkdir(dirname(target), { recursive: true });
      // The sidecar goes first: a reader may briefly see new metadata with the old bytes, never a torn object.
      if (hasSidecar) {
        await mkdir(dirname(sidecarTarget), { recursive: true });
        await rename(tmpMeta, sidecarTarget);
      } else {
        await rm(sidecarTarget, { force: true });
      }
      await rename(tmpData, target);
      await syncDir(dirname(target));
      const st = await stat(target);
      return { key, size: st.size, lastModified: st.mtime, metadata: { ...sidecar.metadata } };
    } catch (err) {
      await Promise.all([rm(tmpData, { force: true }), rm(tmpMeta, { force: true })]).catch(() => undefined);
      // The body's own failure (its client went away, a limit upstream) is not an outage of this disk.
      if (origin.body) throw err;
      if (isErrorCode(err, 'ENOTDIR', 'EISDIR', 'EEXIST')) throw new Error(`object key ${JSON.stringify(key)} collides with another key used as a folder`, { cause: err });
      return translate(err, `put ${key}`);
    }
  }

  async get(key: string): Promise<Readable | undefined> {
    const path = this.dataPath(key);
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (isErrorCode(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
      return translate(err, `get ${key}`);
    }
    // Opened before returning, so a later delete or replace cannot cut the reader off mid-object.
    return fh.createReadStream({ autoClose: true });
  }

  async getBuffer(key: string): Promise<Buffer | undefined> {
    try {
      return await readWhole(this.dataPath(key));
    } catch (err) {
      if (isErrorCode(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
      return translate(err, `get ${key}`);
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await stat(this.dataPath(key));
      if (!st.isFile()) return undefined;
      return { key, size: st.size, lastModified: st.mtime, metadata: (await this.readSidecar(key)).metadata };
    } catch (err) {
      if (isErrorCode(err, 'ENOENT', 'ENOTDIR')) return undefined;
      return translate(err, `stat ${key}`);
    }
  }

  private async readSidecar(key: string): Promise<Sidecar> {
    try {
      const parsed = JSON.parse((await readWhole(this.metaPath(key))).toString('utf8')) as Partial<Sidecar>;
      return { contentType: parsed.contentType, metadata: parsed.metadata ?? {} };
    } catch (err) {
      if (isErrorCode(err, 'ENOENT', 'ENOTDIR') || err instanceof SyntaxError) return { metadata: {} };
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await rm(this.dataPath(key), { force: true });
      await rm(this.metaPath(key), { force: true });
    } catch (err) {
      if (isErrorCode(err, 'ENOTDIR')) return;
      translate(err, `delete ${key}`);
    }
  }

  async move(fromKey: string, toKey: string): Promise<void> {
    const from = this.dataPath(fromKey);
    const to = this.dataPath(toKey);
    if (fromKey === toKey) {
      if (!(await this.stat(fromKey))) throw new ObjectNotFoundError(fromKey);
      return;
    }
    try {
      await mkdir(dirname(to), { recursive: true });
      await rename(from, to);
    } catch (err) {
      if (isErrorCode(err, 'ENOENT', 'ENOTDIR')) throw new ObjectNotFoundError(fromKey);
      translate(err, `move ${fromKey}`);
    }
    try {
      try {
        await mkdir(dirname(this.metaPath(toKey)), { recursive: true });
        await rename(this.metaPath(fromKey), this.metaPath(toKey));
      } catch (err) {
        if (!isErrorCode(err, 'ENOENT')) throw err;
        await rm(this.metaPath(toKey), { force: true });
      }
      await syncDir(dirname(to));
    } catch (err) {
      translate(err, `move ${fromKey}`);
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const base = slash < 0 ? '' : prefix.slice(0, slash);
    const info = options.metadata === false ? (key: string) => this.statBare(key) : (key: string) => this.stat(key);
    for await (const next of inOrder(this.keysUnder(base, prefix), LIST_AHEAD, info)) {
      // Deleted while we were listing: S3 would not list it either.
      if (next) yield next;
    }
  }

  private async *keysUnder(base: string, prefix: string): AsyncGenerator<string> {
    for await (const key of this.walk(base)) if (key.startsWith(prefix)) yield key;
  }

  /** An object's size and time without its sidecar. */
  private async statBare(key: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await stat(this.dataPath(key));
      return st.isFile() ? { key, size: st.size, lastModified: st.mtime, metadata: {} } : undefined;
    } catch (err) {
      if (isErrorCode(err, 'ENOENT', 'ENOTDIR')) return undefined;
      return translate(err, `stat ${key}`);
    }
  }

  /** Keys under a folder in S3's order (plain byte order of the whole key). */
  private async *walk(folder: string): AsyncIterable<string> {
    let entries;
    try {
      entries = await readdir(folder ? join(this.objects, folder) : this.objects, { withFileTypes: true });
    } catch (err) {
      if (isErrorCode(err, 'ENOENT', 'ENOTDIR')) return;
      return translate(err, `list ${folder}`);
    }
    // A folder sorts as "name/" so "a-b" comes before "a/x", as S3 orders keys.
    const sorted = entries
      .filter((e) => e.isFile() || e.isDirectory())
      .map((e) => ({ name: e.name, dir: e.isDirectory(), sortKey: e.isDirectory() ? `${e.name}/` : e.name }))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const e of sorted) {
      const key = folder ? `${folder}/${e.name}` : e.name;
      if (e.dir) yield* this.walk(key);
      else yield key;
    }
  }

  async sweepAbandoned(olderThan: Date): Promise<number> {
    await this.init();
    let removed = 0;
    for (const name of await readdir(this.tmp)) {
      const path = join(this.tmp, name);
      // A live write keeps its file's mtime fresh; only a writer that died leaves an old one.
      const st = await stat(path).catch(() => undefined);
      if (!st || st.mtime >= olderThan) continue;
      await rm(path, { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  async ping(): Promise<void> {
    try {
      await this.init();
      await access(this.objects, constants.W_OK);
    } catch (err) {
      translate(err, 'ping');
      return;
    }
  }
}

function lowerKeys(metadata: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Which side of a streamed write failed first: the pipeline then fails the other with the same error. */
interface FailureOrigin {
  body?: boolean;
}

async function writeDurably(path: string, body: Readable | Buffer | string, origin: FailureOrigin = {}): Promise<void> {
  if (body instanceof Readable) {
    // flush: fsync before close, so the rename never publishes bytes still only in the page cache.
    const sink = createWriteStream(path, { flush: true });
    let first: 'body' | 'sink' | undefined;
    body.once('error', () => (first ??= 'body'));
    sink.once('error', () => (first ??= 'sink'));
    try {
      await pipeline(body, sink);
    } catch (err) {
      origin.body = first === 'body';
      throw err;
    }
    return;
  }
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(body);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsync of the folder makes the rename itself durable across a crash. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (err) {
    // Some filesystems (overlay on old kernels, some FUSE) refuse fsync on a directory.
    if (!isErrorCode(err, 'EINVAL', 'EISDIR', 'EBADF')) throw err;
  } finally {
    await fh.close();
  }
}
