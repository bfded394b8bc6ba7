import { afterAll, describe, expect, it } from 'vitest';
import { STACK_RESOURCE_LIMIT, synthesize } from '../../bench/benchmarks/synth.js';
import { removeTempDirs } from '../../bench/support/paths.js';
import { rolePolicyQuotaBreaches } from '../support/policy-size.js';

/**
 * `npm run test:long` only (vitest.config.ts): `cdk synth` of 1,000 users without `stack`
 * fields, with bundling and cdk-nag, as the scale benchmark runs it. CI synthesizes 201 users
 * (test/lib/app.test.ts).
 */
afterAll(() => {
  removeTempDirs();
});

describe('App: 1,000 users', () => {
  it('places them in 10 stacks within CloudFormation and IAM limits', async () => {
    // Act
    const result = await synthesize(1_000);

    // Assert
    expect(result.resourcesPerStack.size).toBe(10);
    for (const [stack, resources] of result.resourcesPerStack) {
      expect(resources, stack).toBeLessThanOrEqual(STACK_RESOURCE_LIMIT);
    }
    expect(result.rolePolicySizesPerStack.size).toBe(10);
    for (const [stack, sizes] of result.rolePolicySizesPerStack) {
      expect(sizes.size, stack).toBeGreaterThan(0);
      expect(rolePolicyQuotaBreaches(sizes), stack).toEqual([]);
    }
  }, 600_000);
});
