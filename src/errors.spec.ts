import { describe, expect, it } from 'vitest';
import { UsageError } from './cli/args.js';
import { ConfigError } from './config/errors.js';
import { EXIT, exitCodeOf, MeshAuthzError } from './errors.js';
import { IdentityError } from './identity/types.js';
import { ServiceError } from './server/errors.js';
import { KubeError } from './sources/kube/errors.js';

describe('one error base: a stable code and the exit code a command ends with', () => {
  it('bad input (config, usage, a credential) exits 2; a runtime failure exits 1', () => {
    expect(exitCodeOf(new ConfigError('config_syntax', 'c.yaml:1: bad', 'c.yaml', 1))).toBe(EXIT.badInput);
    expect(exitCodeOf(new UsageError('--request is required'))).toBe(EXIT.badInput);
    expect(exitCodeOf(new ServiceError('tls_invalid', 'no usable CA'))).toBe(EXIT.badInput);
    expect(exitCodeOf(new ServiceError('port_in_use', '127.0.0.1:9191 is in use'))).toBe(EXIT.failure);
    expect(exitCodeOf(new KubeError('kube_api', 'GET /api/v1/pods: 503'))).toBe(EXIT.failure);
    expect(exitCodeOf(new KubeError('kube_config', 'no cluster'))).toBe(EXIT.badInput);
    // Anything that is not one of ours is a runtime failure, never "bad input".
    expect(exitCodeOf(new Error('boom'))).toBe(EXIT.failure);
    expect(exitCodeOf('a string')).toBe(EXIT.failure);
  });

  it('keeps code, safe message and cause apart', () => {
    const cause = new Error('jose: signature verification failed for token eyJ...');
    const err = new IdentityError('jwt_bad_signature', 'the token signature is not valid', { cause });
    expect(err).toBeInstanceOf(MeshAuthzError);
    expect(err.code).toBe('jwt_bad_signature');
    expect(err.message).toBe('the token signature is not valid');
    expect(err.message).not.toContain('eyJ');
    expect(err.cause).toBe(cause);
  });
});
