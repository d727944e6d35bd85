// How a zod validation failure is told to a person: each problem with the path of its field, never a value.
import type * as z from 'zod';

export interface FieldProblem {
  field: string;
  problem: string;
}

/** A path as a person reads it, e.g. `model_list[0].litellm_params.model`; `(root)` for the value itself. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(root)';
}

/**
 * Each issue as `{ field, problem }`. An unknown-keys issue becomes one problem per key, so that every
 * key is named as a field of its own; its problem is the schema's message (which says what is allowed).
 */
export function describeIssues(error: z.ZodError): FieldProblem[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ field: fieldPath([...issue.path, key]), problem: issue.message }))
      : [{ field: fieldPath(issue.path), problem: issue.message }],
  );
}

/** The problems as lines of `field: problem`, for error messages and dead-letter reasons. */
export function issueLines(error: z.ZodError): string[] {
  return describeIssues(error).map(({ field, problem }) => `${field}: ${problem}`);
}
