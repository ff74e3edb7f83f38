import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The last good state of a live source (the policy set, the workload registry), kept on local disk so a replica
 * that starts while the API server is unreachable enforces what was last known instead of denying the whole mesh.
 *
 * One file per kind: a header line (JSON: format, kind, origin, time, SHA-256 and length of the payload) and the
 * payload bytes. A snapshot is refused when it is corrupt (unparsable header, wrong length or checksum: a torn
 * write, a bit flip, an edit) or foreign (written for another cluster, namespace scope or selection: its `origin`
 * differs), so a stale emptyDir or a copied file never decides for this replica. Writes go to a temp file and are
 * renamed into place: a reader sees the old snapshot or the new one.
 */

export const SNAPSHOT_FORMAT = 'mesh-authz-snapshot/1';

export type SnapshotKind = 'policies' | 'workloads';

interface Header {
  readonly format: string;
  readonly kind: SnapshotKind;
  readonly origin: string;
  readonly writtenAt: string;
  readonly sha256: string;
  readonly bytes: number;
}

export type SnapshotRead =
  | { readonly ok: true; readonly payload: unknown; readonly writtenAt: string }
  | { readonly ok: false; readonly reason: 'missing' | 'corrupt' | 'foreign'; readonly message: string };

export class SnapshotStore {
  constructor(
    private readonly dir: string,
    /** What the snapshot is of (cluster, scope, selection): a snapshot with another origin is foreign. */
    private readonly origin: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  fileOf(kind: SnapshotKind): string {
    return join(this.dir, `${kind}.snapshot`);
  }

  async write(kind: SnapshotKind, payload: unknown): Promise<void> {
    const body = Buffer.from(JSON.stringify(payload), 'utf8');
    const header: Header = {
      format: SNAPSHOT_FORMAT,
      kind,
      origin: this.origin,
      writtenAt: this.now().toISOString(),
      sha256: sha256(body),
      bytes: body.length,
    };
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = this.fileOf(kind);
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`, 'utf8'), body]), { mode: 0o600 });
    await rename(tmp, file);
  }

  async read(kind: SnapshotKind): Promise<SnapshotRead> {
    const file = this.fileOf(kind);
    let raw: Buffer;
    try {
      raw = await readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { ok: false, reason: 'missing', message: `${file}: no snapshot` };
      return { ok: false, reason: 'corrupt', message: `${file}: cannot read: ${(err as Error).message}` };
    }
    const nl = raw.indexOf(0x0a);
    const corrupt = (why: string): SnapshotRead => ({ ok: false, reason: 'corrupt', message: `${file}: ${why}` });
    if (nl < 0) return corrupt('no header');
    let header: Partial<Header>;
    try {
      header = JSON.parse(raw.subarray(0, nl).toString('utf8')) as Partial<Header>;
    } catch {
      return corrupt('unreadable header');
    }
    if (header.format !== SNAPSHOT_FORMAT) return corrupt(`unknown format ${JSON.stringify(header.format)}`);
    if (header.kind !== kind) return corrupt(`holds ${String(header.kind)}, not ${kind}`);
    const body = raw.subarray(nl + 1);
    if (body.length !== header.bytes || sha256(body) !== header.sha256) return corrupt('checksum mismatch');
    if (header.origin !== this.origin) {
      return {
        ok: false,
        reason: 'foreign',
        message: `${file}: written for another source (${header.origin}), not ${this.origin}`,
      };
    }
    try {
      return { ok: true, payload: JSON.parse(body.toString('utf8')), writtenAt: String(header.writtenAt) };
    } catch {
      return corrupt('unreadable payload');
    }
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
