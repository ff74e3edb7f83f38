import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { ServiceError } from './errors.js';

/**
 * TLS and mTLS credentials for the gRPC listener, reloaded from disk when the files change.
 *
 * SVIDs rotate (hourly with SPIRE, daily with istiod), so the server cannot read its certificate once. grpc-js
 * servers watch their `ServerCredentials` for new secure-context options and apply them with
 * `Http2SecureServer.setSecureContext`: new handshakes use the new certificate, established connections are kept,
 * and the listener is never closed. We poll the files (content hash) rather than use fs.watch, because secret
 * volumes and SPIRE helpers replace files by renaming a symlinked directory, which fs.watch misses or reports
 * on the wrong inode.
 */

export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  /** CA bundle for client certificates; enables mTLS. */
  readonly clientCa?: string | undefined;
  /** Reject clients without a certificate signed by `clientCa`. */
  readonly requireClientCert: boolean;
}

export interface TlsReloadEvents {
  onReload?(fingerprint: string): void;
  /** A changed file set that does not form a valid context: the previous one keeps serving. */
  onReloadError?(error: ServiceError): void;
}

interface Material {
  readonly options: SecureContextOptions;
  readonly fingerprint: string;
}

/** Reads and validates the files; throws {@link ServiceError} `tls_invalid` naming the file that is wrong. */
export function readTlsMaterial(files: TlsFiles): Material {
  const read = (path: string, what: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ServiceError('tls_invalid', `cannot read the TLS ${what} ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  };
  const cert = read(files.cert, 'certificate');
  const key = read(files.key, 'private key');
  const ca = files.clientCa ? read(files.clientCa, 'client CA bundle') : undefined;
  const options: SecureContextOptions = { cert, key, ...(ca ? { ca } : {}) };
  try {
    // Validates PEM syntax and that key matches cert before anything is swapped in.
    createSecureContext(options);
  } catch (err) {
    throw new ServiceError(
      'tls_invalid',
      `the TLS files do not form a valid certificate/key pair (${files.cert}, ${files.key}${ca ? `, ${files.clientCa}` : ''}): ${(err as Error).message}`,
      { cause: err },
    );
  }
  const hash = createHash('sha256').update(cert).update(key);
  if (ca) hash.update(ca);
  return { options, fingerprint: hash.digest('hex').slice(0, 16) };
}

/**
 * grpc-js server credentials whose certificate, key and client CA can be replaced while the server runs.
 * Extends the library's `ServerCredentials` and uses its secure-context watcher, the same mechanism its own
 * certificate-provider credentials use.
 */
export class ReloadingServerCredentials extends grpc.ServerCredentials {
  private timer: NodeJS.Timeout | null = null;
  private fingerprint: string;

  constructor(
    private readonly files: TlsFiles,
    private readonly events: TlsReloadEvents = {},
  ) {
    const material = readTlsMaterial(files);
    const mtls = files.clientCa !== undefined;
    super(
      {
        // ALPN h2 only: gRPC is HTTP/2, and Envoy's cluster must offer h2 (alpn_protocols: ["h2"]).
        ALPNProtocols: ['h2'],
        minVersion: 'TLSv1.2',
        requestCert: mtls,
        // Without requireClientCert a client may present no certificate; one it does present must still verify.
        rejectUnauthorized: mtls && files.requireClientCert,
      },
      material.options,
    );
    this.fingerprint = material.fingerprint;
  }

  /** The SHA-256 prefix of the material in use (for logs). */
  get currentFingerprint(): string {
    return this.fingerprint;
  }

  /** Re-reads the files; swaps the context in when they changed and are valid. Returns whether it swapped. */
  reload(): boolean {
    let material: Material;
    try {
      material = readTlsMaterial(this.files);
    } catch (err) {
      // Mid-rotation (key written, cert not yet) is normal: keep serving with the last good pair.
      this.events.onReloadError?.(err as ServiceError);
      return false;
    }
    if (material.fingerprint === this.fingerprint) return false;
    this.fingerprint = material.fingerprint;
    this.updateSecureContextOptions(material.options);
    this.events.onReload?.(material.fingerprint);
    return true;
  }

  /** Polls the files every `intervalMs` (unref'd: it never keeps the process alive). */
  watch(intervalMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.reload(), intervalMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}
