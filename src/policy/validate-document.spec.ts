import { describe, expect, it } from 'vitest';
import type { FieldPath } from './issues.js';
import { pathString } from './issues.js';
import { validateDocument, validatePolicy } from './validate.js';

/**
 * Both sides of every document-level rule: the object shape and metadata the API server checks (CRD structural
 * schema, DNS names), the spec-level rules of istiod's webhook (action, provider, rules present for DENY/CUSTOM,
 * one of selector/targetRef/targetRefs, selector labels, targetRef kinds, the dry-run annotation).
 * Sources: istio/istio 1.30.3 `pkg/config/validation/validation.go` (ValidateAuthorizationPolicy,
 * validateOneOfSelectorType, validateWorkloadSelector, validatePolicyTargetReference, checkDryRunAnnotation);
 * istio/istio `manifests/charts/base/files/crd-all.gen.yaml` (authorizationpolicies: matchLabels maxLength 63 and
 * no wildcards, targetRefs maxItems 16, the one-of CEL rule counting a present field).
 */

type Obj = Record<string, unknown>;

const doc = (spec: unknown, metadata: Obj = { name: 'p', namespace: 'foo' }, extra: Obj = {}): Obj => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata,
  spec,
  ...extra,
});

/** Each path resolves to a line number derived from it, so a wrong path also gives a wrong line. */
const lineOf = (path: FieldPath) => 100 + pathString(path).length;

function check(obj: unknown) {
  return validateDocument(obj, 'f.yaml', lineOf);
}

function errors(obj: unknown): [string, string][] {
  return check(obj)
    .issues.filter((i) => i.severity === 'error')
    .map((i) => [i.code, i.path]);
}

function warnings(obj: unknown): [string, string][] {
  return check(obj)
    .issues.filter((i) => i.severity === 'warning')
    .map((i) => [i.code, i.path]);
}

describe('the document: shape, apiVersion, kind', () => {
  it('refuses a non-mapping document and loads nothing', () => {
    for (const bad of [null, 'x', 7, []]) {
      const r = check(bad);
      expect(r.loaded).toBeNull();
      expect(r.issues.map((i) => [i.severity, i.code, i.path, i.file])).toEqual([['error', 'schema', '', 'f.yaml']]);
    }
  });

  it('accepts both served API versions and refuses others', () => {
    expect(errors(doc({}))).toEqual([]);
    expect(errors({ ...doc({}), apiVersion: 'security.istio.io/v1beta1' })).toEqual([]);
    expect(errors({ ...doc({}), apiVersion: 'security.istio.io/v1alpha1' })).toEqual([['schema', 'apiVersion']]);
    expect(errors({ ...doc({}), apiVersion: undefined })).toEqual([['schema', 'apiVersion']]);
    expect(errors({ ...doc({}), kind: 'PeerAuthentication' })).toEqual([['schema', 'kind']]);
  });

  it('refuses unknown top-level fields (strict field validation), accepts status', () => {
    expect(errors(doc({}, undefined, { status: {} }))).toEqual([]);
    expect(errors(doc({}, undefined, { rules: [{}] }))).toEqual([['unknown_field', 'rules']]);
  });

  it('a missing or null spec is an ALLOW without rules; a non-mapping spec is refused', () => {
    const { spec: _omit, ...noSpec } = doc({});
    expect(check(noSpec).loaded?.policy.spec).toEqual({});
    expect(check(doc(null)).loaded?.policy.spec).toEqual({});
    expect(errors(doc('ALLOW'))).toEqual([['schema', 'spec']]);
    expect(errors(doc(['x']))).toEqual([['schema', 'spec']]);
  });

  it('the loaded policy carries the namespace, the file and the line of the document', () => {
    const r = check(doc({ action: 'DENY', rules: [{}] }, { name: 'p' }));
    expect(r.loaded).not.toBeNull();
    expect(r.loaded?.policy.metadata).toEqual({ name: 'p', namespace: 'default' });
    expect(r.loaded?.policy.spec).toEqual({ action: 'DENY', rules: [{}] });
    expect(r.loaded?.source).toEqual({ file: 'f.yaml', line: 100 });
    expect(r.loaded?.dryRun).toBe(false);
    // A warning alone does not stop the load.
    expect(r.issues.map((i) => [i.severity, i.code, i.line])).toEqual([['warning', 'missing_namespace', 108]]);
  });

  it('an error stops the load and names file, path and line', () => {
    const r = check(doc({ action: 'DENY' }));
    expect(r.loaded).toBeNull();
    expect(r.issues).toMatchObject([
      { severity: 'error', file: 'f.yaml', path: 'spec', line: 104, code: 'missing_rules' },
    ]);
  });

  it('validatePolicy reports against the given source, or <input>:0', () => {
    expect(validatePolicy(doc({ action: 'DENY' }), { file: 'gen.yaml', line: 7 })).toMatchObject([
      { file: 'gen.yaml', line: 7, code: 'missing_rules' },
    ]);
    expect(validatePolicy(doc({ action: 'DENY' }), null)).toMatchObject([{ file: '<input>', line: 0 }]);
    expect(validatePolicy(doc({}), null)).toEqual([]);
  });
});

describe('metadata: name, namespace, annotations, labels', () => {
  const meta = (m: Obj) => errors(doc({}, m));

  it('needs metadata with a DNS-subdomain name', () => {
    const { metadata: _omit, ...noMetadata } = doc({});
    expect(errors(noMetadata)).toEqual([['missing_field', 'metadata']]);
    expect(errors(doc({}, 'p' as unknown as Obj))).toEqual([['missing_field', 'metadata']]);
    expect(meta({ namespace: 'foo' })).toEqual([['missing_field', 'metadata.name']]);
    expect(meta({ name: '', namespace: 'foo' })).toEqual([['missing_field', 'metadata.name']]);
    expect(meta({ name: 7, namespace: 'foo' })).toEqual([['missing_field', 'metadata.name']]);
    for (const ok of ['a', 'a.b-c', '0', `${'a'.repeat(63)}.${'b'.repeat(189)}`]) {
      expect(meta({ name: ok, namespace: 'foo' }), ok).toEqual([]);
    }
    for (const bad of ['A', '-a', 'a-', 'a_b', 'a..b', `${'a'.repeat(63)}.${'b'.repeat(190)}`]) {
      expect(meta({ name: bad, namespace: 'foo' }), bad).toEqual([['invalid_value', 'metadata.name']]);
    }
  });

  it('a namespace is a DNS label; none means default, with a warning', () => {
    for (const ns of [undefined, null]) {
      const r = check(doc({}, { name: 'p', namespace: ns }));
      expect(r.loaded?.policy.metadata.namespace).toBe('default');
      expect(r.issues.map((i) => [i.severity, i.code, i.path])).toEqual([['warning', 'missing_namespace', 'metadata']]);
    }
    expect(check(doc({}, { name: 'p', namespace: 'a'.repeat(63) })).loaded?.policy.metadata.namespace).toBe(
      'a'.repeat(63),
    );
    for (const bad of ['a'.repeat(64), 'Foo', 'a.b', '-a', '', 7]) {
      expect(meta({ name: 'p', namespace: bad }), String(bad)).toEqual([['invalid_value', 'metadata.namespace']]);
    }
  });

  it('annotations and labels are mappings of strings', () => {
    expect(meta({ name: 'p', namespace: 'f', annotations: null, labels: null })).toEqual([]);
    expect(meta({ name: 'p', namespace: 'f', annotations: { a: 'b' }, labels: { c: 'd' } })).toEqual([]);
    expect(meta({ name: 'p', namespace: 'f', annotations: ['a'] })).toEqual([['schema', 'metadata.annotations']]);
    expect(meta({ name: 'p', namespace: 'f', labels: 'a' })).toEqual([['schema', 'metadata.labels']]);
    expect(meta({ name: 'p', namespace: 'f', annotations: { a: 1, b: 'x' } })).toEqual([
      ['schema', 'metadata.annotations.a'],
    ]);
    expect(meta({ name: 'p', namespace: 'f', labels: { a: 'x', b: true } })).toEqual([['schema', 'metadata.labels.b']]);
  });
});

describe('spec: fields, action, provider, rules', () => {
  it('refuses unknown spec fields', () => {
    expect(errors(doc({ action: 'ALLOW', rule: [{}] }))).toEqual([['unknown_field', 'spec.rule']]);
  });

  it('accepts the four actions and refuses anything else', () => {
    for (const action of ['ALLOW', 'DENY', 'AUDIT']) expect(errors(doc({ action, rules: [{}] })), action).toEqual([]);
    expect(errors(doc({ action: 'CUSTOM', provider: { name: 'ext' }, rules: [{}] }))).toEqual([]);
    expect(errors(doc({ action: null, rules: [{}] }))).toEqual([]);
    for (const bad of ['allow', 'PERMIT', 1]) {
      expect(errors(doc({ action: bad, rules: [{}] })), String(bad)).toEqual([['invalid_action', 'spec.action']]);
    }
  });

  it('DENY and CUSTOM need rules (absent, null or an empty list never match); ALLOW and AUDIT do not', () => {
    for (const rules of [undefined, null, []]) {
      expect(errors(doc({ action: 'DENY', rules }))).toEqual([['missing_rules', 'spec']]);
      expect(errors(doc({ action: 'CUSTOM', provider: { name: 'ext' }, rules }))).toEqual([['missing_rules', 'spec']]);
      expect(errors(doc({ action: 'ALLOW', rules }))).toEqual([]);
      expect(errors(doc({ action: 'AUDIT', rules }))).toEqual([]);
      expect(errors(doc({ rules }))).toEqual([]);
    }
    // `rules: [{}]` matches every request: a valid DENY-all.
    expect(errors(doc({ action: 'DENY', rules: [{}] }))).toEqual([]);
    // Rules are still validated for every action, ALLOW included.
    expect(errors(doc({ rules: [{ from: [] }] }))).toEqual([['empty_value', 'spec.rules[0].from']]);
    expect(errors(doc({ rules: {} }))).toEqual([['schema', 'spec.rules']]);
    expect(errors(doc({ action: 'DENY', rules: 'x' }))).toEqual([['schema', 'spec.rules']]);
  });

  it('the action decides which rule checks apply (CUSTOM identity fields)', () => {
    const rules = [{ from: [{ source: { principals: ['a'] } }] }];
    expect(errors(doc({ action: 'CUSTOM', provider: { name: 'ext' }, rules }))).toEqual([
      ['custom_identity_field', 'spec.rules[0].from[0].source.principals'],
    ]);
    expect(errors(doc({ action: 'DENY', rules }))).toEqual([]);
    // An unknown action is reported once and its rules are checked as ALLOW's.
    expect(errors(doc({ action: 'custom', rules }))).toEqual([['invalid_action', 'spec.action']]);
  });

  it('provider: only with CUSTOM, which needs one, with a name and nothing else', () => {
    for (const action of ['ALLOW', 'DENY', 'AUDIT']) {
      expect(errors(doc({ action, provider: { name: 'ext' }, rules: [{}] })), action).toEqual([
        ['invalid_provider', 'spec.provider'],
      ]);
    }
    expect(errors(doc({ action: 'CUSTOM', rules: [{}] }))).toEqual([['invalid_provider', 'spec.action']]);
    expect(errors(doc({ action: 'CUSTOM', provider: null, rules: [{}] }))).toEqual([
      ['invalid_provider', 'spec.action'],
    ]);
    for (const bad of ['ext', {}, { name: '' }, { name: 7 }]) {
      expect(errors(doc({ action: 'CUSTOM', provider: bad, rules: [{}] })), JSON.stringify(bad)).toEqual([
        ['invalid_provider', 'spec.provider'],
      ]);
    }
    expect(errors(doc({ action: 'CUSTOM', provider: { name: 'ext', timeout: '1s' }, rules: [{}] }))).toEqual([
      ['unknown_field', 'spec.provider.timeout'],
    ]);
  });
});

describe('spec: one of selector, targetRef, targetRefs', () => {
  const selector = { matchLabels: { app: 'a' } };
  const ref = { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'g' };

  it('refuses any two (a present field counts, even an empty targetRefs list), naming the second', () => {
    expect(errors(doc({ selector, targetRef: ref }))).toEqual([['invalid_selector', 'spec.targetRef']]);
    expect(errors(doc({ selector, targetRefs: [ref] }))).toEqual([['invalid_selector', 'spec.targetRefs']]);
    expect(errors(doc({ targetRef: ref, targetRefs: [ref] }))).toEqual([['invalid_selector', 'spec.targetRefs']]);
    expect(errors(doc({ selector, targetRefs: [] }))).toEqual([['invalid_selector', 'spec.targetRefs']]);
    expect(errors(doc({ selector, targetRef: ref, targetRefs: [ref] }))).toEqual([
      ['invalid_selector', 'spec.targetRef'],
    ]);
  });

  it('accepts each alone, and null as absent', () => {
    expect(errors(doc({ selector }))).toEqual([]);
    expect(errors(doc({ targetRef: ref }))).toEqual([]);
    expect(errors(doc({ targetRefs: [ref] }))).toEqual([]);
    expect(errors(doc({ selector, targetRef: null, targetRefs: null }))).toEqual([]);
    expect(errors(doc({ selector: null, targetRef: ref }))).toEqual([]);
  });
});

describe('spec.selector', () => {
  const sel = (selector: unknown) => errors(doc({ selector }));
  const at = 'spec.selector.matchLabels';

  it('is a mapping with only matchLabels, a mapping of label keys to values', () => {
    expect(sel({})).toEqual([]);
    expect(sel({ matchLabels: null })).toEqual([]);
    expect(sel({ matchLabels: {} })).toEqual([]);
    expect(sel('app=a')).toEqual([['schema', 'spec.selector']]);
    expect(sel({ matchExpressions: [] })).toEqual([['unknown_field', 'spec.selector.matchExpressions']]);
    expect(sel({ matchLabels: ['app'] })).toEqual([['schema', at]]);
    expect(sel({ matchLabels: { app: 1 } })).toEqual([['schema', `${at}.app`]]);
  });

  it('label keys: no wildcard, a valid name of at most 63 characters after an optional prefix', () => {
    for (const ok of ['app', 'app.kubernetes.io/name', 'A-b_c.d', 'a'.repeat(63), `x.io/${'a'.repeat(63)}`]) {
      expect(sel({ matchLabels: { [ok]: 'v' } }), ok).toEqual([]);
    }
    for (const bad of ['', 'a*', '*', '-a', 'a-', 'a b', 'x.io/', 'a'.repeat(64), `x.io/${'a'.repeat(64)}`]) {
      expect(sel({ matchLabels: { [bad]: 'v' } }), bad).toEqual([['invalid_selector', `${at}.${bad}`]]);
    }
    // The reason names the wildcard (the CRD's own message), not only a bad key.
    expect(check(doc({ selector: { matchLabels: { 'a*': 'v' } } })).issues[0]?.message).toContain('wildcard');
    expect(check(doc({ selector: { matchLabels: { a: 'v*' } } })).issues[0]?.message).toContain('wildcard');
    // A bad key and a bad value are both reported.
    expect(sel({ matchLabels: { 'a*': 'b*' } })).toEqual([
      ['invalid_selector', `${at}.a*`],
      ['invalid_selector', `${at}.a*`],
    ]);
  });

  it('label values: no wildcard, empty or a valid value of at most 63 characters', () => {
    for (const ok of ['', 'v', 'V-1_2.3', 'a'.repeat(63)]) expect(sel({ matchLabels: { app: ok } }), ok).toEqual([]);
    for (const bad of ['*', 'v*', '-v', 'v-', 'a b', 'a'.repeat(64)]) {
      expect(sel({ matchLabels: { app: bad } }), bad).toEqual([['invalid_selector', `${at}.app`]]);
    }
  });
});

describe('spec.targetRef / targetRefs', () => {
  const GW = 'gateway.networking.k8s.io';

  it('accepts exactly the kinds istiod accepts (allowedTargetRefs), the core group as "", "core" or absent', () => {
    for (const ok of [
      { kind: 'Service', name: 's' },
      { group: '', kind: 'Service', name: 's' },
      { group: 'core', kind: 'Service', name: 's' },
      { group: 'networking.istio.io', kind: 'ServiceEntry', name: 'se' },
      { group: GW, kind: 'Gateway', name: 'g' },
      { group: GW, kind: 'GatewayClass', name: 'istio-waypoint' },
    ]) {
      expect(errors(doc({ targetRef: ok, rules: [{}] })), JSON.stringify(ok)).toEqual([]);
      expect(errors(doc({ targetRefs: [ok], rules: [{}] })), JSON.stringify(ok)).toEqual([]);
    }
    for (const bad of [
      { kind: 'Gateway', name: 'g' },
      { group: GW, kind: 'Service', name: 's' },
      { group: 'apps', kind: 'Deployment', name: 'd' },
      { group: 'networking.istio.io', kind: 'Gateway', name: 'g' },
      { kind: 'service', name: 's' },
    ]) {
      expect(errors(doc({ targetRef: bad })), JSON.stringify(bad)).toEqual([
        ['invalid_target_ref', 'spec.targetRef.kind'],
      ]);
    }
  });

  it('names the refused target in the message', () => {
    const [issue] = check(doc({ targetRef: { group: 'apps', kind: 'Deployment', name: 'web' } })).issues;
    expect(issue?.message).toContain('not Deployment.apps/web');
    expect(issue?.message).toContain('core/Service');
  });

  it('needs kind and name, allows group and an empty namespace, refuses other fields and a namespace', () => {
    for (const bad of [
      'Service',
      { kind: 'Service' },
      { name: 's' },
      { kind: '', name: 's' },
      { kind: 'Service', name: '' },
      { kind: 7, name: 's' },
      { kind: 'Service', name: 7 },
    ]) {
      expect(errors(doc({ targetRef: bad })), JSON.stringify(bad)).toEqual([['missing_field', 'spec.targetRef']]);
    }
    expect(errors(doc({ targetRef: { kind: 'Service', name: 's', namespace: '' } }))).toEqual([]);
    expect(errors(doc({ targetRef: { kind: 'Service', name: 's', namespace: null } }))).toEqual([]);
    expect(errors(doc({ targetRef: { kind: 'Service', name: 's', namespace: 'bar' } }))).toEqual([
      ['invalid_target_ref', 'spec.targetRef.namespace'],
    ]);
    expect(errors(doc({ targetRef: { kind: 'Service', name: 's', sectionName: 'http' } }))).toEqual([
      ['unknown_field', 'spec.targetRef.sectionName'],
    ]);
    // A non-string group is not a group: the kind is then read in the core group.
    expect(errors(doc({ targetRef: { group: 7, kind: 'Service', name: 's' } }))).toEqual([]);
  });

  it('targetRefs: a list of at most 16, each entry checked at its index', () => {
    const svc = (i: number) => ({ kind: 'Service', name: `s${i}` });
    expect(errors(doc({ targetRefs: Array.from({ length: 16 }, (_, i) => svc(i)) }))).toEqual([]);
    expect(errors(doc({ targetRefs: Array.from({ length: 17 }, (_, i) => svc(i)) }))).toEqual([
      ['limit_exceeded', 'spec.targetRefs'],
    ]);
    expect(errors(doc({ targetRefs: svc(0) }))).toEqual([['schema', 'spec.targetRefs']]);
    expect(errors(doc({ targetRefs: [svc(0), { kind: 'Pod', name: 'x' }, { name: 'y' }] }))).toEqual([
      ['invalid_target_ref', 'spec.targetRefs[1].kind'],
      ['missing_field', 'spec.targetRefs[2]'],
    ]);
  });

  it('warns once, at the first target, that a targetRef policy applies only to resolved targets', () => {
    expect(warnings(doc({ targetRef: { kind: 'Service', name: 's' } }))).toEqual([
      ['target_ref_ignored', 'spec.targetRef'],
    ]);
    expect(
      warnings(
        doc({
          targetRefs: [
            { kind: 'Service', name: 's' },
            { kind: 'Service', name: 't' },
          ],
        }),
      ),
    ).toEqual([['target_ref_ignored', 'spec.targetRefs[0]']]);
    expect(warnings(doc({ selector: { matchLabels: { app: 'a' } } }))).toEqual([]);
    expect(warnings(doc({ targetRefs: [] }))).toEqual([]);
    // Not on a policy that is refused anyway.
    expect(warnings(doc({ targetRef: { kind: 'Pod', name: 's' } }))).toEqual([]);
  });
});

describe('the istio.io/dry-run annotation (checkDryRunAnnotation, strconv.ParseBool)', () => {
  const withDry = (value: unknown, spec: Obj = { action: 'DENY', rules: [{}] }) =>
    doc(spec, { name: 'p', namespace: 'foo', annotations: { 'istio.io/dry-run': value } });
  const at = 'metadata.annotations.istio.io/dry-run';

  it('ALLOW and DENY read Go booleans', () => {
    for (const v of ['1', 't', 'T', 'TRUE', 'true', 'True']) {
      expect(check(withDry(v)).loaded?.dryRun, v).toBe(true);
      expect(check(withDry(v, { action: 'ALLOW', rules: [{}] })).loaded?.dryRun, v).toBe(true);
    }
    for (const v of ['0', 'f', 'F', 'FALSE', 'false', 'False']) {
      const r = check(withDry(v));
      expect(r.issues, v).toEqual([]);
      expect(r.loaded?.dryRun, v).toBe(false);
    }
    expect(check(withDry('true', { rules: [{}] })).loaded?.dryRun).toBe(true);
    for (const bad of ['yes', 'tRUE', '', ' true']) {
      expect(errors(withDry(bad)), bad).toEqual([['invalid_annotation', at]]);
    }
    expect(errors(withDry(1))).toEqual([
      ['schema', at],
      ['invalid_annotation', at],
    ]);
  });

  it('AUDIT and CUSTOM refuse it, whatever its value', () => {
    for (const v of ['true', 'false']) {
      expect(errors(withDry(v, { action: 'AUDIT', rules: [{}] })), v).toEqual([['invalid_annotation', at]]);
      expect(errors(withDry(v, { action: 'CUSTOM', provider: { name: 'e' }, rules: [{}] })), v).toEqual([
        ['invalid_annotation', at],
      ]);
    }
  });

  it('only the annotation counts: a label of that name, or no annotation, is not dry-run', () => {
    const r = check(
      doc({ action: 'AUDIT', rules: [{}] }, { name: 'p', namespace: 'f', labels: { 'istio.io/dry-run': 'true' } }),
    );
    expect(r.issues).toEqual([]);
    expect(r.loaded?.dryRun).toBe(false);
    expect(
      check(doc({ action: 'DENY', rules: [{}] }, { name: 'p', namespace: 'f', annotations: { a: 'b' } })).loaded
        ?.dryRun,
    ).toBe(false);
  });
});
