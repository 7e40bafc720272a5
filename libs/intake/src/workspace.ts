import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A private folder for what intake writes, made on first use inside the caller's workDir (or the OS temp
 * dir). Intake writes nowhere else, so removing this folder removes exactly what intake made.
 */
export class Workspace {
  private made?: Promise<string>;

  constructor(private readonly parent: string = tmpdir()) {}

  dir(): Promise<string> {
    this.made ??= mkdir(this.parent, { recursive: true }).then(() => mkdtemp(join(this.parent, 'triage-')));
    return this.made;
  }

  async path(name: string): Promise<string> {
    return join(await this.dir(), name);
  }

  async remove(): Promise<void> {
    const made = this.made;
    if (!made) return;
    const dir = await made.catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}
