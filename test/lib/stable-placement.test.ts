import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { parseIamKeyRotationConfig, type IamKeyRotationConfig } from '../../lib/config.js';
import { addIamKeyRotationStacks } from '../../lib/iam-key-rotation-app.js';
import type { PlacedUser } from '../../lib/stack-sharding.js';

/**
 * The placement proof of issue 16: users removed and added at the start, the middle and the end
 * of the list never move another user's secret to another stack or change its logical id.
 * 150 users in CI; 1,000 with IAM_KEY_ROTATION_LONG_TESTS=1 (`npm run test:long`).
 */
const USER_COUNT = process.env.IAM_KEY_ROTATION_LONG_TESTS === '1' ? 1000 : 150;

type Template = {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
};

const rawUser = (userName: string, index: number): Record<string, unknown> => ({
  userName,
  schedule: 'rate(30 days)',
  // Both kinds: a user the stack creates and an existing one (tagged by the stack).
  createUser: index % 2 === 0,
});

function configOf(
  names: readonly string[],
  previous?: readonly PlacedUser[],
): IamKeyRotationConfig {
  return parseIamKeyRotationConfig(
    { users: names.map(rawUser) },
    undefined,
    previous === undefined ? {} : { previousPlacement: previous },
  );
}

/** user name -> "stack/logical id" of its secret, from a synthesized app. */
function secretPlaces(config: IamKeyRotationConfig): Map<string, string> {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stacks = addIamKeyRotationStacks(app, config);
  const assembly = app.synth();
  const places = new Map<string, string>();
  for (const stack of stacks) {
    const template = assembly.getStackByName(stack.stackName).template as Template;
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      if (resource.Type !== 'AWS::SecretsManager::Secret') continue;
      const name = String(resource.Properties?.Name).replace('iam-key-rotation/', '');
      places.set(name, `${stack.stackName}/${logicalId}`);
    }
  }
  return places;
}

const names = Array.from({ length: USER_COUNT }, (_, i) => `user-${String(i).padStart(4, '0')}`);
const middle = Math.floor(USER_COUNT / 2);

describe(`Placement: ${USER_COUNT} users`, () => {
  // One synth of the starting point, shared by the cases.
  const before = configOf(names);
  const placesBefore = secretPlaces(before);

  it('places the users in stacks of at most 100', () => {
    // Assert
    expect(placesBefore.size).toBe(USER_COUNT);
    const perStack = new Map<string, number>();
    for (const place of placesBefore.values()) {
      const stack = place.split('/')[0] ?? '';
      perStack.set(stack, (perStack.get(stack) ?? 0) + 1);
    }
    expect(Math.max(...perStack.values())).toBeLessThanOrEqual(100);
    expect(perStack.size).toBe(Math.ceil(USER_COUNT / 100));
  });

  it('keeps every other secret in its stack with its logical id when users are removed and added at the start, middle and end', () => {
    // Arrange
    const removed = new Set([names[0], names[1], names[middle], names[USER_COUNT - 1]]);
    const changed = [
      'added-at-start',
      ...names.slice(0, middle).filter((n) => !removed.has(n)),
      'added-in-middle',
      ...names.slice(middle).filter((n) => !removed.has(n)),
      'added-at-end',
    ];

    // Act
    const after = configOf(changed, before.placement.placement);
    const placesAfter = secretPlaces(after);

    // Assert
    let compared = 0;
    for (const name of names.filter((n) => !removed.has(n))) {
      expect(placesAfter.get(name), name).toBe(placesBefore.get(name));
      compared++;
    }
    expect(compared).toBe(USER_COUNT - 4);
    expect(after.placement.removed.map((entry) => entry.userName)).toEqual(
      [...removed].filter((n): n is string => n !== undefined),
    );
    // The new users fill the holes the removed ones left (the first stacks with room).
    expect(placesAfter.get('added-at-start')?.split('/')[0]).toBe('IamKeyRotation');
    expect(placesAfter.has(names[0] ?? '')).toBe(false);
  });

  it('keeps every secret in its stack with its logical id when one user is added', () => {
    // Act
    const after = configOf(
      [...names.slice(0, middle), 'one-more', ...names.slice(middle)],
      before.placement.placement,
    );
    const placesAfter = secretPlaces(after);

    // Assert
    for (const name of names) {
      expect(placesAfter.get(name), name).toBe(placesBefore.get(name));
    }
    expect(after.placement.added.map((entry) => entry.userName)).toEqual(['one-more']);
    expect(placesAfter.get('one-more')).toBeDefined();
  });

  it('would move users without the placement (what the placement file prevents)', () => {
    // Act: the first user removed, no previous placement
    const after = configOf(names.slice(1));

    // Assert: the first user of the second stack moves into the first
    expect(after.users.find((u) => u.userName === names[100])?.stackName).toBe('IamKeyRotation');
    expect(before.users.find((u) => u.userName === names[100])?.stackName).toBe('IamKeyRotation-2');
  });
});
