// The file's fallback lists read as LiteLLM's router reads them: first entry per group, `"*"` and
// `default_fallbacks` for every group without its own, each target once, unknown groups refused.
import type { FieldProblem } from '../common/field-problems.ts';

/** One fallback list as written, with where it was found (`router_settings.fallbacks`…) for messages. */
export interface FallbackSource {
  entries: readonly Map<string, string[]>[] | undefined;
  path: string;
}

export interface ResolvedFallbacks {
  /** Group → its fallback groups, in order; only groups that have at least one. */
  byGroup: Map<string, string[]>;
  problems: FieldProblem[];
  /** Entries not acted on (a later entry for a group that already has one), by path. */
  ignored: string[];
}

/** The entry key LiteLLM reads as "every group without its own entry". */
const EVERY_GROUP = '*';

/**
 * Each group's fallbacks from `source`: the first entry naming the group applies (later ones are
 * warned about), a target named twice runs once, a group never falls back to itself. A group without
 * an entry of its own takes `defaults` when given (`default_fallbacks`), else the first `"*"` entry.
 */
export function resolveFallbacks(
  source: FallbackSource,
  groups: ReadonlySet<string>,
  defaults?: { targets: readonly string[]; path: string },
): ResolvedFallbacks {
  const out: ResolvedFallbacks = { byGroup: new Map(), problems: [], ignored: [] };
  const known = () => `known groups: ${[...groups].join(', ')}`;
  const own = new Map<string, string[]>();
  let everyGroup: string[] | undefined;

  source.entries?.forEach((entry, i) => {
    for (const [group, targets] of entry) {
      const field = `${source.path}[${i}].${group}`;
      const unknown = [...(group === EVERY_GROUP ? [] : [group]), ...targets].find((name) => !groups.has(name));
      if (unknown !== undefined) {
        out.problems.push({ field, problem: `names unknown group "${unknown}"; ${known()}` });
      } else if (group === EVERY_GROUP ? everyGroup !== undefined || defaults !== undefined : own.has(group)) {
        out.ignored.push(field);
      } else if (group === EVERY_GROUP) {
        everyGroup = targets;
      } else {
        own.set(group, targets);
      }
    }
  });
  defaults?.targets.forEach((name, i) => {
    if (!groups.has(name))
      out.problems.push({ field: `${defaults.path}[${i}]`, problem: `names unknown group "${name}"; ${known()}` });
  });

  const fallback = defaults?.targets ?? everyGroup ?? [];
  for (const group of groups) {
    const targets = [...new Set(own.get(group) ?? fallback)].filter((t) => t !== group);
    if (targets.length > 0) out.byGroup.set(group, targets);
  }
  return out;
}
