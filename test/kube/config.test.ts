import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';

/** The `kubernetes:` config section: defaults, and the contradictions refused with the file and line. */

describe('kubernetes config', () => {
  it('is off by default, with the registry and both policy versions ready when enabled', () => {
    const config = parseConfigText('', '/etc/mesh-authz/config.yaml');
    expect(config.kubernetes).toMatchObject({ enabled: false, workloads: true, namespaces: [], resyncSeconds: 300 });
    expect(config.kubernetes.policies).toMatchObject({ enabled: false, versions: ['v1', 'v1beta1'], events: true });
    const on = parseConfigText('kubernetes:\n  enabled: true\n  snapshotDir: /var/run/mesh-authz\n', '/c.yaml');
    expect(on.kubernetes.snapshotDir).toBe('/var/run/mesh-authz');
  });

  it('refuses policies from both files and the API server, and kubernetes.policies without kubernetes', () => {
    const both = 'policy:\n  paths: [policies]\nkubernetes:\n  enabled: true\n  policies:\n    enabled: true\n';
    expect(() => parseConfigText(both, '/c.yaml')).toThrow(/\/c\.yaml:6: kubernetes\.policies\.enabled: .*not both/);
    const orphan = 'kubernetes:\n  policies:\n    enabled: true\n';
    expect(() => parseConfigText(orphan, '/c.yaml')).toThrow(/needs kubernetes\.enabled: true/);
    const typo = 'kubernetes:\n  enabled: true\n  snapshotDirectory: /x\n';
    expect(() => parseConfigText(typo, '/c.yaml')).toThrow(/snapshotDirectory/);
  });
});
