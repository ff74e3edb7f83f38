import type { PolicyIssue, PolicyIssueCode } from './model.js';

/** A field path as segments: `['spec', 'rules', 0, 'from']` prints as `spec.rules[0].from`. */
export type FieldPath = readonly (string | number)[];

export function pathString(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

/** Collects issues for one document, resolving each field path to its line. */
export class IssueSink {
  readonly issues: PolicyIssue[] = [];
  constructor(
    readonly file: string,
    private readonly lineOf: (path: FieldPath) => number,
  ) {}

  error(path: FieldPath, code: PolicyIssueCode, message: string): void {
    this.add('error', path, code, message);
  }

  warn(path: FieldPath, code: PolicyIssueCode, message: string): void {
    this.add('warning', path, code, message);
  }

  get hasErrors(): boolean {
    return this.issues.some((i) => i.severity === 'error');
  }

  private add(severity: PolicyIssue['severity'], path: FieldPath, code: PolicyIssueCode, message: string): void {
    this.issues.push({ severity, file: this.file, line: this.lineOf(path), path: pathString(path), message, code });
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
