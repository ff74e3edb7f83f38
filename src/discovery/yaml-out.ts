import { Document, isMap, isSeq } from 'yaml';
import { describeFlow, type Suggestion } from './suggest.js';

/** How many covered flows a rule's comment lists before summarizing the rest. */
const MAX_COMMENT_FLOWS = 25;

/**
 * The suggestion as multi-document YAML, each rule preceded by a comment listing the flows it covers, so a
 * reviewer sees why every line of access exists before applying it.
 */
export function suggestionYaml(s: Suggestion, header: readonly string[] = []): string {
  const docs: string[] = [];
  for (const sp of s.policies) {
    const doc = new Document(sp.policy);
    const rules = doc.getIn(['spec', 'rules'], true);
    if (isSeq(rules)) {
      rules.items.forEach((item, i) => {
        const flows = sp.covers[i] ?? [];
        const lines = flows.slice(0, MAX_COMMENT_FLOWS).map((f) => ` ${describeFlow(f)}`);
        if (flows.length > MAX_COMMENT_FLOWS) lines.push(` ... and ${flows.length - MAX_COMMENT_FLOWS} more flows`);
        const comment = [` covers ${flows.length} flow(s):`, ...lines].join('\n');
        if (isMap(item)) item.commentBefore = comment;
      });
    }
    docs.push(doc.toString({ lineWidth: 0 }));
  }
  const head = header.map((l) => `# ${l}\n`).join('');
  return head + docs.join('---\n');
}
