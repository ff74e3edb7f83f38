import { describe, expect, it } from 'vitest';
import {
  type AuthorizationPolicy,
  actionOf,
  formatIssue,
  type LoadedPolicy,
  lineOf,
  type PolicyIssue,
  PolicyLoadError,
} from './model.js';

const policy = (action?: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM'): AuthorizationPolicy => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'p', namespace: 'foo' },
  spec: action === undefined ? {} : { action },
});

const loaded = (lines?: Record<string, number>): LoadedPolicy => ({
  policy: policy(),
  source: { file: 'p.yaml', line: 3 },
  dryRun: false,
  ...(lines ? { lines } : {}),
});

describe('actionOf', () => {
  it('a policy without an action is an ALLOW (the proto default); a written action is kept', () => {
    expect(actionOf(policy())).toBe('ALLOW');
    expect(actionOf(policy('DENY'))).toBe('DENY');
    expect(actionOf(policy('AUDIT'))).toBe('AUDIT');
  });
});

describe('lineOf: the line an operator is sent to', () => {
  const lines = { spec: 5, 'spec.rules': 6, 'spec.rules[0]': 7, 'spec.rules[0].to[0].operation': 9 };

  it("a field's own line, else its nearest parent's (through . and [), else the document's", () => {
    const p = loaded(lines);
    expect(lineOf(p, 'spec.rules[0].to[0].operation')).toBe(9);
    expect(lineOf(p, 'spec.rules[0].to[0].operation.paths[1]')).toBe(9);
    expect(lineOf(p, 'spec.rules[0].to[0]')).toBe(7);
    expect(lineOf(p, 'spec.rules[1]')).toBe(6);
    expect(lineOf(p, 'spec.selector')).toBe(5);
    expect(lineOf(p, 'metadata.name')).toBe(3);
    expect(lineOf(p, '')).toBe(3);
  });

  it('a policy read without lines (from the API server) points at its document', () => {
    expect(lineOf(loaded(), 'spec.rules[0]')).toBe(3);
  });
});

describe('formatIssue and PolicyLoadError', () => {
  const error: PolicyIssue = {
    severity: 'error',
    file: 'p.yaml',
    line: 7,
    path: 'spec.rules[0]',
    message: 'bad',
    code: 'schema',
  };
  const warning: PolicyIssue = { ...error, severity: 'warning', path: '', message: 'meh', code: 'allow_all' };

  it('file:line: severity: path: message [code], without the path part when there is none', () => {
    expect(formatIssue(error)).toBe('p.yaml:7: error: spec.rules[0]: bad [schema]');
    expect(formatIssue(warning)).toBe('p.yaml:7: warning: meh [allow_all]');
  });

  it('lists the errors (not the warnings) under what went wrong', () => {
    const invalid = new PolicyLoadError('invalid_policy', [warning, error]);
    expect(invalid.message).toBe('invalid policy:\np.yaml:7: error: spec.rules[0]: bad [schema]');
    expect(invalid.name).toBe('PolicyLoadError');
    const unreadable = new PolicyLoadError('unreadable', [error, { ...error, line: 8 }]);
    expect(unreadable.message).toBe(
      'policy files could not be read:\np.yaml:7: error: spec.rules[0]: bad [schema]\np.yaml:8: error: spec.rules[0]: bad [schema]',
    );
  });
});
