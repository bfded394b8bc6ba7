import { Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/**
 * The construct of `type` at `id` directly under the stack of `scope`, made by `create` at the
 * first call: one per stack, shared by every user's resources.
 *
 * @throws Error when another kind of construct holds that id
 */
export function stackSingleton<T extends Construct>(
  scope: Construct,
  id: string,
  type: abstract new (...args: never[]) => T,
  create: (stack: Stack) => T,
): T {
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild(id);
  if (existing === undefined) return create(stack);
  if (!(existing instanceof type)) {
    throw new Error(
      `${stack.node.path}/${id} must be a ${type.name}, got another construct at that id`,
    );
  }
  return existing;
}
