import { describe, expect, it } from 'vitest';
import {
  automaticStackName,
  placeUsers,
  type PlacedUser,
  type StackPlacementRequest,
} from '../../lib/stack-sharding.js';

const named = (names: readonly string[], extra: object = {}): StackPlacementRequest[] =>
  names.map((userName) => ({ userName, ...extra }));

const userNames = (count: number, prefix = 'u'): string[] =>
  Array.from({ length: count }, (_, index) => `${prefix}${String(index)}`);

const stackOf = (placement: readonly PlacedUser[]): Map<string, string> =>
  new Map(placement.map((entry) => [entry.userName, entry.stack]));

describe('Module: stack-sharding', () => {
  describe('Function: placeUsers', () => {
    it('fills automatic stacks of at most N users in order, per account and region', () => {
      // Act
      const { stackNames } = placeUsers(
        [
          ...named(['a', 'b', 'c']),
          ...named(['d', 'e'], { account: '111111111111', region: 'eu-west-1' }),
        ],
        undefined,
        'Keys',
        2,
      );

      // Assert
      expect(stackNames).toEqual([
        'Keys',
        'Keys',
        'Keys-2',
        'Keys-111111111111-eu-west-1',
        'Keys-111111111111-eu-west-1',
      ]);
    });

    it('keeps every other user in its stack when a user is removed, and leaves a hole', () => {
      // Arrange
      const before = placeUsers(named(['a', 'b', 'c', 'd', 'e']), undefined, 'Keys', 2);

      // Act: b removed
      const after = placeUsers(named(['a', 'c', 'd', 'e']), before.placement, 'Keys', 2);

      // Assert
      expect(before.stackNames).toEqual(['Keys', 'Keys', 'Keys-2', 'Keys-2', 'Keys-3']);
      expect(after.stackNames).toEqual(['Keys', 'Keys-2', 'Keys-2', 'Keys-3']);
      expect(after.removed).toEqual([{ userName: 'b', stack: 'Keys' }]);
      expect(after.moves).toEqual([]);
    });

    it('puts a new user into the first stack with room (a hole), wherever it is in the list', () => {
      // Arrange
      const full = placeUsers(named(['a', 'b', 'c', 'd', 'e']), undefined, 'Keys', 2);
      const withHole = placeUsers(named(['a', 'c', 'd', 'e']), full.placement, 'Keys', 2);

      // Act: f added at the start
      const after = placeUsers(named(['f', 'a', 'c', 'd', 'e']), withHole.placement, 'Keys', 2);

      // Assert
      expect(after.stackNames).toEqual(['Keys', 'Keys', 'Keys-2', 'Keys-2', 'Keys-3']);
      expect(after.added).toEqual([{ userName: 'f', stack: 'Keys' }]);
      // The file keeps the previous order and appends the new user.
      expect(after.placement.map((entry) => entry.userName)).toEqual(['a', 'c', 'd', 'e', 'f']);
    });

    it('never moves a user when users are removed and added at the start, middle and end (1,000 users)', () => {
      // Arrange
      const names = userNames(1000);
      const before = placeUsers(named(names), undefined, 'Keys', 100);
      const changed = [
        'new-start',
        ...names.slice(3, 500),
        'new-middle',
        ...names.slice(503, 997),
        'new-end',
      ];

      // Act
      const after = placeUsers(named(changed), before.placement, 'Keys', 100);

      // Assert
      const was = stackOf(before.placement);
      const now = stackOf(after.placement);
      for (const name of changed.filter((n) => !n.startsWith('new-'))) {
        expect(now.get(name), name).toBe(was.get(name));
      }
      expect(after.removed).toHaveLength(9);
      expect(after.moves).toEqual([]);
      expect(now.get('new-start')).toBe('Keys');
    });

    it('skips an automatic stack that users fill by naming it', () => {
      // Act
      const { stackNames } = placeUsers(
        [{ userName: 'a', stack: 'Keys' }, { userName: 'b', stack: 'Keys' }, { userName: 'c' }],
        undefined,
        'Keys',
        2,
      );

      // Assert
      expect(stackNames).toEqual(['Keys', 'Keys', 'Keys-2']);
    });

    it('reports a move when a placed user names another stack, unless allowStackMove', () => {
      // Arrange
      const before = placeUsers(named(['a', 'b']), undefined, 'Keys', 100);

      // Act
      const refused = placeUsers(
        [{ userName: 'a', stack: 'Other' }, { userName: 'b' }],
        before.placement,
        'Keys',
        100,
      );
      const allowed = placeUsers(
        [{ userName: 'a', stack: 'Other', allowStackMove: true }, { userName: 'b' }],
        before.placement,
        'Keys',
        100,
      );

      // Assert
      expect(refused.moves).toEqual([
        { index: 0, from: { userName: 'a', stack: 'Keys' }, to: { userName: 'a', stack: 'Other' } },
      ]);
      expect(allowed.moves).toEqual([]);
      expect(allowed.stackNames).toEqual(['Other', 'Keys']);
    });

    it('reports a move when a placed user changes region', () => {
      // Arrange
      const before = placeUsers(named(['a']), undefined, 'Keys', 100);

      // Act
      const after = placeUsers(
        named(['a'], { region: 'eu-west-1' }),
        before.placement,
        'Keys',
        100,
      );

      // Assert
      expect(after.moves).toEqual([
        {
          index: 0,
          from: { userName: 'a', stack: 'Keys' },
          to: { userName: 'a', region: 'eu-west-1', stack: 'Keys-eu-west-1' },
        },
      ]);
    });

    it('keeps a user placed under another spelling of its name (IAM names ignore case)', () => {
      // Arrange
      const before = placeUsers(named(['a', 'Bob']), undefined, 'Keys', 1);

      // Act
      const after = placeUsers(named(['bob']), before.placement, 'Keys', 1);

      // Assert
      expect(after.stackNames).toEqual(['Keys-2']);
      expect(after.placement).toEqual([{ userName: 'bob', stack: 'Keys-2' }]);
    });

    it('fails when the most users per stack is not a whole number of at least 1', () => {
      // Act & Assert
      expect(() => placeUsers([], undefined, 'Keys', 0)).toThrow(
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
