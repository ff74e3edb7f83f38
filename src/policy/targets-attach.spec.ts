import { describe, expect, it } from 'vitest';
import { policySet, req } from '../../test/conformance/policy-fixtures.js';
import type { AuthorizationPolicySpec } from './model.js';
import {
  canonicalGroup,
  describeTarget,
  isAllowedTargetKind,
  policyTargets,
  type TargetKey,
  targetsWorkload,
} from './targets.js';
import type { WorkloadRef } from './types.js';

/**
 * Which workloads a targetRef policy applies to, both sides of each rule. A policy attached to the wrong workload is
 * a DENY that does not fire or an ALLOW that makes the wrong workload default-deny.
 * Source: istio/istio 1.30.3 `pilot/pkg/model/policyattachment.go` (ShouldAttachPolicy: same namespace as the
 * policy, or GatewayClass istio-waypoint from the root namespace; GetTargetRefs: targetRefs, else targetRef;
 * matchesGroupKind: canonical group and kind) and `pkg/config/validation/validation.go` (allowedTargetRefs).
 */

const GW = 'gateway.networking.k8s.io';
const ROOT = 'istio-system';
const ingress: TargetKey = { group: GW, kind: 'Gateway', name: 'ingress' };
const cart: TargetKey = { group: 'core', kind: 'Service', name: 'cart' };
const waypointClass: TargetKey = { group: GW, kind: 'GatewayClass', name: 'istio-waypoint' };

const workload = (namespace: string, targets?: WorkloadRef['targets']): WorkloadRef => ({
  namespace,
  labels: { app: 'x' },
  ...(targets ? { targets } : {}),
});

describe('canonicalGroup / isAllowedTargetKind / describeTarget', () => {
  it('the core group is "", absent or "core"; any other group is itself', () => {
    expect(canonicalGroup('')).toBe('core');
    expect(canonicalGroup(undefined)).toBe('core');
    expect(canonicalGroup('core')).toBe('core');
    expect(canonicalGroup(GW)).toBe(GW);
  });

  it('allows exactly Service (core), ServiceEntry, Gateway and GatewayClass in their groups', () => {
    expect(isAllowedTargetKind(undefined, 'Service')).toBe(true);
    expect(isAllowedTargetKind('networking.istio.io', 'ServiceEntry')).toBe(true);
    expect(isAllowedTargetKind(GW, 'Gateway')).toBe(true);
    expect(isAllowedTargetKind(GW, 'GatewayClass')).toBe(true);
    expect(isAllowedTargetKind('', 'ServiceEntry')).toBe(false);
    expect(isAllowedTargetKind(GW, 'Service')).toBe(false);
    expect(isAllowedTargetKind('networking.istio.io', 'Gateway')).toBe(false);
    expect(isAllowedTargetKind('', 'GatewayClass')).toBe(false);
  });

  it('describes a target with its group unless core', () => {
    expect(describeTarget({ kind: 'Service', name: 'cart' })).toBe('Service/cart');
    expect(describeTarget({ group: '', kind: 'Service', name: 'cart' })).toBe('Service/cart');
    expect(describeTarget(ingress)).toBe(`Gateway.${GW}/ingress`);
  });
});

describe('policyTargets (GetTargetRefs)', () => {
  const spec = (s: object) => s as AuthorizationPolicySpec;

  it('a selector policy, or an empty targetRefs list without targetRef, has no targets', () => {
    expect(policyTargets(spec({}))).toBeNull();
    expect(policyTargets(spec({ selector: { matchLabels: { app: 'a' } } }))).toBeNull();
    expect(policyTargets(spec({ targetRefs: [] }))).toBeNull();
  });

  it('targetRefs wins over targetRef; an empty targetRefs falls back to targetRef; groups are canonical', () => {
    expect(policyTargets(spec({ targetRef: { kind: 'Service', name: 'a' } }))).toEqual([
      { group: 'core', kind: 'Service', name: 'a' },
    ]);
    expect(
      policyTargets(
        spec({
          targetRef: { kind: 'Service', name: 'a' },
          targetRefs: [
            { group: '', kind: 'Service', name: 'b' },
            { group: GW, kind: 'Gateway', name: 'c' },
          ],
        }),
      ),
    ).toEqual([
      { group: 'core', kind: 'Service', name: 'b' },
      { group: GW, kind: 'Gateway', name: 'c' },
    ]);
    expect(policyTargets(spec({ targetRef: { kind: 'Service', name: 'a' }, targetRefs: [] }))).toEqual([
      { group: 'core', kind: 'Service', name: 'a' },
    ]);
  });
});

describe('targetsWorkload (ShouldAttachPolicy)', () => {
  it('never attaches to a workload whose targets are unknown or empty', () => {
    expect(targetsWorkload([cart], 'foo', ROOT, workload('foo'))).toBe(false);
    expect(targetsWorkload([cart], 'foo', ROOT, workload('foo', []))).toBe(false);
    expect(targetsWorkload([waypointClass], ROOT, ROOT, workload('foo', []))).toBe(false);
  });

  it('attaches when group, kind and name all match, in the policy namespace', () => {
    const w = workload('foo', [{ group: '', kind: 'Service', name: 'cart' }]);
    expect(targetsWorkload([cart], 'foo', ROOT, w)).toBe(true);
    expect(targetsWorkload([{ ...cart, name: 'orders' }], 'foo', ROOT, w)).toBe(false);
    expect(targetsWorkload([{ ...cart, kind: 'ServiceEntry' }], 'foo', ROOT, w)).toBe(false);
    expect(targetsWorkload([{ ...cart, group: 'networking.istio.io' }], 'foo', ROOT, w)).toBe(false);
    // Another namespace's policy, even from the root namespace, does not reach this Service.
    expect(targetsWorkload([cart], 'bar', ROOT, w)).toBe(false);
    expect(targetsWorkload([cart], ROOT, ROOT, w)).toBe(false);
  });

  it("a target's own namespace wins over the workload's", () => {
    const w = workload('foo', [{ group: '', kind: 'Service', name: 'cart', namespace: 'bar' }]);
    expect(targetsWorkload([cart], 'bar', ROOT, w)).toBe(true);
    expect(targetsWorkload([cart], 'foo', ROOT, w)).toBe(false);
  });

  it('any one of several targets, against any one of several workload targets', () => {
    const w = workload('foo', [
      { group: GW, kind: 'Gateway', name: 'other' },
      { group: 'core', kind: 'Service', name: 'cart' },
    ]);
    expect(targetsWorkload([ingress, cart], 'foo', ROOT, w)).toBe(true);
    expect(targetsWorkload([ingress, { ...cart, name: 'x' }], 'foo', ROOT, w)).toBe(false);
    // A target in another namespace is skipped, and the next one is still considered.
    const two = workload('foo', [
      { group: '', kind: 'Service', name: 'cart', namespace: 'bar' },
      { group: '', kind: 'Service', name: 'cart' },
    ]);
    expect(targetsWorkload([cart], 'foo', ROOT, two)).toBe(true);
  });

  it('GatewayClass istio-waypoint attaches cluster-wide, but only from the root namespace', () => {
    const waypoint = workload('foo', [{ group: GW, kind: 'GatewayClass', name: 'istio-waypoint' }]);
    expect(targetsWorkload([waypointClass], ROOT, ROOT, waypoint)).toBe(true);
    expect(targetsWorkload([waypointClass], 'mesh-root', 'mesh-root', waypoint)).toBe(true);
    // Not from the waypoint's own namespace, nor from a namespace that is not the root.
    expect(targetsWorkload([waypointClass], 'foo', ROOT, waypoint)).toBe(false);
    expect(targetsWorkload([waypointClass], 'bar', ROOT, waypoint)).toBe(false);
    // Another GatewayClass never attaches, even from the root namespace and in the workload's namespace.
    const other = workload(ROOT, [{ group: GW, kind: 'GatewayClass', name: 'istio' }]);
    expect(targetsWorkload([{ ...waypointClass, name: 'istio' }], ROOT, ROOT, other)).toBe(false);
    // A workload that is not a waypoint is not reached by the waypoint class.
    expect(targetsWorkload([waypointClass], ROOT, ROOT, workload('foo', [ingress]))).toBe(false);
    // A second target after a GatewayClass that does not attach is still considered.
    const both = workload('foo', [
      { group: GW, kind: 'GatewayClass', name: 'istio-waypoint' },
      { group: GW, kind: 'Gateway', name: 'ingress' },
    ]);
    expect(targetsWorkload([waypointClass, ingress], 'foo', ROOT, both)).toBe(true);
  });
});

describe('decisions: a targetRef policy applies to its targets only', () => {
  const deny = (ns: string, target: string) =>
    `apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: d\n  namespace: ${ns}\nspec:\n${target}\n  action: DENY\n  rules:\n  - {}\n`;

  it('a root-namespace DENY on GatewayClass istio-waypoint denies at every waypoint and nowhere else', () => {
    const set = policySet(
      deny(ROOT, `  targetRef:\n    group: ${GW}\n    kind: GatewayClass\n    name: istio-waypoint`),
    );
    const waypoint = workload('foo', [{ group: GW, kind: 'GatewayClass', name: 'istio-waypoint' }]);
    expect(set.evaluate(waypoint, req())).toMatchObject({ allowed: false, code: 'deny_matched' });
    expect(set.evaluate(workload('foo', [ingress]), req()).allowed).toBe(true);
    expect(set.evaluate(workload(ROOT), req()).allowed).toBe(true);
  });

  it('the same DENY from an application namespace denies nowhere', () => {
    const set = policySet(
      deny('foo', `  targetRef:\n    group: ${GW}\n    kind: GatewayClass\n    name: istio-waypoint`),
    );
    const waypoint = workload('foo', [{ group: GW, kind: 'GatewayClass', name: 'istio-waypoint' }]);
    expect(set.evaluate(waypoint, req()).allowed).toBe(true);
  });

  it('a DENY on Service cart denies requests for cart in its namespace only', () => {
    const set = policySet(deny('foo', '  targetRefs:\n  - kind: Service\n    name: cart'));
    expect(set.evaluate(workload('foo', [{ group: '', kind: 'Service', name: 'cart' }]), req()).allowed).toBe(false);
    expect(set.evaluate(workload('bar', [{ group: '', kind: 'Service', name: 'cart' }]), req()).allowed).toBe(true);
    expect(set.evaluate(workload('foo', [{ group: '', kind: 'Service', name: 'orders' }]), req()).allowed).toBe(true);
    expect(set.evaluate(workload('foo'), req()).allowed).toBe(true);
  });
});
