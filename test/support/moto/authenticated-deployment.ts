import {
  importBundledHandler,
  MotoAws,
  PARTITION,
  REGION,
  type AccessKeyPair,
  type BundledHandler,
} from './moto-aws.js';
import { MOTO_ACCOUNT_ID, MotoServer } from './moto-server.js';
import { startMotoAndSynthesize, type SynthesizedStack } from './synthesized-stack.js';
import {
  resolveIntrinsics,
  rotationFunctionPolicies,
  type DeploymentValues,
  type TemplatePolicy,
} from './template-resolver.js';

/** A user to create in moto: a configured one, or one the configuration does not name. */
export interface UserToCreate {
  readonly userName: string;
  readonly path?: string;
}

export interface AuthenticatedDeploymentOptions {
  /** The `iamKeyRotation` configuration to synthesize, as it would appear in cdk.json. */
  readonly config: { readonly users: readonly UserToCreate[] };
  /** Users to create that the configuration does not name (so the function's policy does not). */
  readonly otherUsers?: readonly UserToCreate[];
  /**
   * Runs with request authentication off, after every user exists and before the stack's secrets
   * are created (keys made here are older than the secrets' first versions, as when a stack adopts
   * an existing user; IAM dates have second precision, so wait for the next second if it matters).
   */
  readonly beforeDeploy?: (setup: MotoAws) => Promise<void>;
  /**
   * Name the secrets as the template does (`iam-key-rotation/<user>`), as a real deployment names
   * them (the rotation policy covers only such secrets); `false` names them after their logical
   * ids.
   * @default true
   */
  readonly templateSecretNames?: boolean;
  /**
   * ListSecretVersionIds reports when each version was created (see {@link MotoServer.start}).
   * @default false
   */
  readonly versionCreatedDates?: boolean;
}

/** A principal signing with `key`, whose only policies are `policies`. */
export interface FunctionPrincipal {
  readonly userName: string;
  readonly key: AccessKeyPair;
  /** The policies moto enforces: the template's, without its conditioned Deny statements. */
  readonly policies: readonly TemplatePolicy[];
  /** The template's conditioned Deny statements, which moto cannot evaluate. */
  readonly droppedDenies: readonly unknown[];
}

const FUNCTION_PRINCIPAL = 'rotation-function-principal';
const HARNESS_ADMIN = 'harness-admin';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The synthesized stack deployed into moto with request authentication on (SigV4 signatures
 * verified, IAM policies evaluated against real resource ARNs: see
 * moto-server-with-resource-arns.py), as least-privilege and operator tests need it:
 *
 * - moto started on loopback, the CDK app synthesized with bundling (`cdk synth`);
 * - the configured users (and `otherUsers`) created, the stack's secrets created, and the users'
 *   ownership tags (`iam-key-rotation:secret`) set as CloudFormation and the stack's
 *   `Custom::UserOwnershipTag` resources would ({@link MotoAws.deployStackResources});
 * - a function principal whose only policies are the rotation role's template policies,
 *   resolved to the ARNs moto gave the users and secrets, and the bundled handler imported with
 *   that principal's key and the function's template environment;
 * - an administrator (`Allow * on *`) whose clients the harness uses.
 *
 * One instance per test file: {@link dispose} in `afterAll` stops moto by its pid.
 */
export class AuthenticatedDeployment {
  private readonly clients: MotoAws[] = [];

  private constructor(
    public readonly moto: MotoServer,
    public readonly synthesized: SynthesizedStack,
    /** The harness's clients, signing as the administrator. */
    public readonly admin: MotoAws,
    /** What CloudFormation would substitute for the template's intrinsics. */
    public readonly values: DeploymentValues,
    public readonly secretArnByUser: ReadonlyMap<string, string>,
    /** The function principal: the template's role policies and nothing else. */
    public readonly functionPrincipal: FunctionPrincipal,
    /** The bundled handler, signing as {@link functionPrincipal}. */
    public readonly handler: BundledHandler,
    /** The function's `Environment.Variables` from the template, resolved. */
    public readonly functionEnvironment: Readonly<Record<string, string>>,
    private readonly restoreEnvironment: () => void,
  ) {
    this.clients.push(admin);
  }

  /** Starts moto, synthesizes and deploys; on any failure stops what it started and throws. */
  public static async start(
    options: AuthenticatedDeploymentOptions,
  ): Promise<AuthenticatedDeployment> {
    const { moto, synthesized } = await startMotoAndSynthesize(options.config, {
      versionCreatedDates: options.versionCreatedDates === true,
    });
    const clients: MotoAws[] = [];
    try {
      await moto.setAuthentication(false);
      const setup = new MotoAws(moto.endpoint);
      clients.push(setup);

      // The stack's resources, as CloudFormation would create them.
      const userArns = await setup.createUsers(options.config.users);
      for (const { userName, path } of options.otherUsers ?? []) {
        await setup.createUser(userName, path);
      }
      await options.beforeDeploy?.(setup);
      const logGroupArns = Object.fromEntries(
        Object.entries(synthesized.template.Resources)
          .filter(([, resource]) => resource.Type === 'AWS::Logs::LogGroup')
          .map(([logicalId]) => [
            `${logicalId}.Arn`,
            `arn:${PARTITION}:logs:${REGION}:${MOTO_ACCOUNT_ID}:log-group:/aws/lambda/${logicalId}:*`,
          ]),
      );
      const { values, secretArnByUser } = await setup.deployStackResources(
        synthesized.template,
        userArns,
        logGroupArns,
        { templateSecretNames: options.templateSecretNames !== false },
      );

      const principal = await createPrincipal(setup, synthesized, FUNCTION_PRINCIPAL, values);

      // The harness signs as an administrator once authentication is on.
      await setup.createUser(HARNESS_ADMIN);
      await setup.putUserPolicy(HARNESS_ADMIN, 'everything', {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
      });
      const adminKey = await setup.createAccessKey(HARNESS_ADMIN);

      const functionEnvironment = resolveFunctionEnvironment(synthesized, values);
      const { handler, restoreEnvironment } = await importBundledHandler(
        synthesized.handlerFile,
        synthesized.handlerExport,
        moto.endpoint,
        principal.key,
        functionEnvironment,
      );
      const admin = new MotoAws(moto.endpoint, adminKey);
      setup.destroy();
      await moto.setAuthentication(true);
      return new AuthenticatedDeployment(
        moto,
        synthesized,
        admin,
        values,
        secretArnByUser,
        principal,
        handler,
        functionEnvironment,
        restoreEnvironment,
      );
    } catch (error) {
      clients.forEach((client) => {
        client.destroy();
      });
      await moto.stop();
      synthesized.dispose();
      throw error;
    }
  }

  /** The ARN of the stack secret that rotates `userName`'s key. */
  public secretOf(userName: string): string {
    const arn = this.secretArnByUser.get(userName);
    if (arn === undefined) throw new Error(`The template has no secret for ${userName}`);
    return arn;
  }

  /** The logical id of the stack secret that rotates `userName`'s key. */
  public secretLogicalIdOf(userName: string): string {
    const arn = this.secretOf(userName);
    const logicalId = Object.entries(this.values.refs).find(([, ref]) => ref === arn)?.[0];
    if (logicalId === undefined) throw new Error(`No template resource resolves to ${arn}`);
    return logicalId;
  }

  /**
   * Another principal (as the admin, with authentication on) whose only policies are the rotation
   * role's template policies resolved with `values`: the same function deployed elsewhere, say,
   * with a `Ref` of a secret resolving to another secret.
   */
  public async createFunctionPrincipal(
    userName: string,
    values: DeploymentValues,
  ): Promise<FunctionPrincipal> {
    return createPrincipal(this.admin, this.synthesized, userName, values);
  }

  /** Plain clients signing with `key` (destroyed by {@link dispose}). */
  public clientsSigningWith(key: AccessKeyPair): MotoAws {
    const client = new MotoAws(this.moto.endpoint, key);
    this.clients.push(client);
    return client;
  }

  /** Restores the environment, closes the clients, stops moto by its pid, removes the synth output. */
  public async dispose(): Promise<void> {
    try {
      this.restoreEnvironment();
      this.clients.forEach((client) => {
        client.destroy();
      });
    } finally {
      await this.moto.stop();
      this.synthesized.dispose();
    }
  }
}

/**
 * The document without its conditioned Deny statements, and those statements. moto 5 does not
 * evaluate conditions: it would apply a conditioned Deny (the role's "any secret but the stack's
 * own", "any user whose ownership tag does not name a secret of the stack") to every request.
 * Their effect is proven by the policy simulator (test/lib/rotation-policy-simulation.test.ts),
 * and the function's own checks refuse the same requests over moto.
 */
export const withoutConditionedDenies = (
  document: unknown,
): { enforced: unknown; dropped: unknown[] } => {
  if (!isRecord(document) || !Array.isArray(document.Statement)) {
    return { enforced: document, dropped: [] };
  }
  const statements = document.Statement as unknown[];
  const conditionedDeny = (statement: unknown): boolean =>
    isRecord(statement) && statement.Effect === 'Deny' && statement.Condition !== undefined;
  return {
    enforced: { ...document, Statement: statements.filter((s) => !conditionedDeny(s)) },
    dropped: statements.filter(conditionedDeny),
  };
};

const createPrincipal = async (
  aws: MotoAws,
  synthesized: SynthesizedStack,
  userName: string,
  values: DeploymentValues,
): Promise<FunctionPrincipal> => {
  const resolved = rotationFunctionPolicies(
    synthesized.template,
    synthesized.functionLogicalId,
  ).map(({ source, document }) => ({
    source,
    ...withoutConditionedDenies(resolveIntrinsics(document, values)),
  }));
  await aws.createUser(userName);
  for (const { source, enforced } of resolved) {
    await aws.putUserPolicy(userName, source, enforced);
  }
  const key = await aws.createAccessKey(userName);
  return {
    userName,
    key,
    policies: resolved.map(({ source, enforced }) => ({ source, document: enforced })),
    droppedDenies: resolved.flatMap(({ dropped }) => dropped),
  };
};

/** The rotation function's `Environment.Variables`, resolved; each must be a string. */
const resolveFunctionEnvironment = (
  synthesized: SynthesizedStack,
  values: DeploymentValues,
): Record<string, string> => {
  const fn = synthesized.template.Resources[synthesized.functionLogicalId];
  const environment = fn?.Properties?.Environment;
  const variables = resolveIntrinsics(
    isRecord(environment) ? (environment.Variables ?? {}) : {},
    values,
  );
  if (
    !isRecord(variables) ||
    !Object.values(variables).every((value) => typeof value === 'string')
  ) {
    throw new Error(
      `Rotation function ${synthesized.functionLogicalId} Environment.Variables resolved to ${JSON.stringify(variables)}, expected strings`,
    );
  }
  return variables as Record<string, string>;
};
