import { describe, expect, it } from 'vitest';
import { assignStackNames, automaticStackName } from '../../lib/stack-sharding.js';

const users = (count: number, extra: object = {}): object[] =>
  Array.from({ length: count }, () => ({ ...extra }));

describe('Module: stack-sharding', () => {
  describe('Function: assignStackNames', () => {
    it('fills automatic stacks of at most N users in order, per account and region', () => {
      // Act
      const names = assignStackNames(
        [...users(3), ...users(2, { account: '111111111111', region: 'eu-west-1' })],
        'Keys',
        2,
      );

      // Assert
      expect(names).toEqual([
        'Keys',
        'Keys',
        'Keys-2',
        'Keys-111111111111-eu-west-1',
        'Keys-111111111111-eu-west-1',
      ]);
    });

    it('moves the first automatic user of each later stack one stack back when a user is removed (as README says)', () => {
      // Arrange
      const before = assignStackNames(users(5), 'Keys', 2);

      // Act: the second user removed
      const after = assignStackNames(users(4), 'Keys', 2);

      // Assert: users 3 and 5 (now 2 and 4) move back one stack
      expect(before).toEqual(['Keys', 'Keys', 'Keys-2', 'Keys-2', 'Keys-3']);
      expect(after).toEqual(['Keys', 'Keys', 'Keys-2', 'Keys-2']);
    });

    it('skips an automatic stack that users fill by naming it', () => {
      // Act
      const names = assignStackNames([{ stack: 'Keys' }, { stack: 'Keys' }, {}], 'Keys', 2);

      // Assert
      expect(names).toEqual(['Keys', 'Keys', 'Keys-2']);
    });

    it('fails when the most users per stack is not a whole number of at least 1', () => {
      // Act & Assert
      expect(() => assignStackNames([], 'Keys', 0)).toThrow(
        'maxUsersPerStack must be a whole number of at least 1, got 0',
      );
    });
  });

  describe('Function: automaticStackName', () => {
    it.each([
      [0, undefined, undefined, 'Keys'],
      [1, undefined, undefined, 'Keys-2'],
      [0, '111111111111', undefined, 'Keys-111111111111'],
      [2, undefined, 'us-east-1', 'Keys-us-east-1-3'],
    ])('names stack %i of account %s region %s %s', (index, account, region, name) => {
      // Act & Assert
      expect(automaticStackName('Keys', index, account, region)).toBe(name);
    });
  });
});
