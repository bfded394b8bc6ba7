import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { readBody, type SignedRequestHandler } from './scheduler-retirement-schedules.js';

/** What CloudFormation says about one resource of a stack (DescribeStackResource). */
export interface StackResourceState {
  /** `CREATE_COMPLETE`, `DELETE_IN_PROGRESS`, ... */
  readonly status: string;
  readonly physicalResourceId?: string;
}

/** The CloudFormation call the ownership tagger makes. */
export interface StackResources {
  /** The resource `logicalId` of the stack `stackId` (the stack's ARN: deleted stacks too). */
  describeStackResource(stackId: string, logicalId: string): Promise<StackResourceState>;
}

/** What CloudFormation says about a stack (DescribeStacks). */
export interface StackState {
  /** `CREATE_IN_PROGRESS`, `ROLLBACK_IN_PROGRESS`, `UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS`, ... */
  readonly status: string;
  /** When the stack was created. */
  readonly creationTime?: Date;
  /** When the stack's last update began (absent before its first update). */
  readonly lastUpdatedTime?: Date;
}

/** The CloudFormation calls the first-rotation wait makes. */
export interface StackStates extends StackResources {
  /** The stack `stackId` (its ARN). */
  describeStack(stackId: string): Promise<StackState>;
}

export interface CloudFormationEndpointOptions {
  /** The region's provider of the function's SDK clients. */
  readonly region: () => Promise<string>;
  /** The credentials' provider of the function's SDK clients. */
  readonly credentials: AwsCredentialIdentityProvider;
  /** The request handler of the function's SDK clients. */
  readonly requestHandler: SignedRequestHandler;
  /**
   * The endpoint (`AWS_ENDPOINT_URL_CLOUDFORMATION`, else `AWS_ENDPOINT_URL`, as the SDK reads them).
   * @default https://cloudformation.<region>.amazonaws.com (.com.cn in China)
   */
  readonly endpoint?: string;
}

/** An error CloudFormation answered, with its code as `name` (as an SDK error has). */
export class CloudFormationServiceError extends Error {
  public override name: string;
  public readonly $metadata: { readonly httpStatusCode: number };

  public constructor(code: string, message: string, statusCode: number) {
    super(message);
    this.name = code;
    this.$metadata = { httpStatusCode: statusCode };
  }
}

const XML_ENTITIES: Readonly<Record<string, string>> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
};

/** The text of the first `<name>` element of a Query API answer, entities decoded. */
export const xmlElement = (xml: string, name: string): string | undefined => {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  return match?.[1]?.replace(/&(amp|lt|gt|quot|apos);/g, (_, entity: string) => {
    return XML_ENTITIES[entity] ?? '';
  });
};

/**
 * DescribeStackResource and DescribeStacks of CloudFormation, each as one Query API request (`POST /`, form-encoded,
 * XML answer), signed with the SDK's own SigV4 signer and sent by the request handler,
 * credentials and region of the function's other SDK clients: the project has no CloudFormation
 * SDK client, and these read-only calls need none. No retry: the caller treats any error as
 * "not shown to be a deletion" and changes nothing.
 */
export class CloudFormationStackResources implements StackStates {
  public constructor(private readonly options: CloudFormationEndpointOptions) {}

  public async describeStackResource(
    stackId: string,
    logicalId: string,
  ): Promise<StackResourceState> {
    const text = await this.query('DescribeStackResource', {
      StackName: stackId,
      LogicalResourceId: logicalId,
    });
    const status = xmlElement(text, 'ResourceStatus');
    if (status === undefined) {
      throw new CloudFormationServiceError(
        'MalformedResponse',
        'DescribeStackResource answered without a ResourceStatus',
        200,
      );
    }
    const physicalResourceId = xmlElement(text, 'PhysicalResourceId');
    return { status, ...(physicalResourceId === undefined ? {} : { physicalResourceId }) };
  }

  public async describeStack(stackId: string): Promise<StackState> {
    const text = await this.query('DescribeStacks', { StackName: stackId });
    const status = xmlElement(text, 'StackStatus');
    if (status === undefined) {
      throw new CloudFormationServiceError(
        'MalformedResponse',
        'DescribeStacks answered without a StackStatus',
        200,
      );
    }
    const date = (name: string): Date | undefined => {
      const value = xmlElement(text, name);
      return value === undefined ? undefined : new Date(value);
    };
    const creationTime = date('CreationTime');
    const lastUpdatedTime = date('LastUpdatedTime');
    return {
      status,
      ...(creationTime === undefined ? {} : { creationTime }),
      ...(lastUpdatedTime === undefined ? {} : { lastUpdatedTime }),
    };
  }

  /** One signed Query API request; the answer's XML, or the error CloudFormation answered. */
  private async query(
    action: string,
    parameters: Readonly<Record<string, string>>,
  ): Promise<string> {
    const region = await this.options.region();
    const endpoint = new URL(
      this.options.endpoint ??
        `https://cloudformation.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`,
    );
    const body = new URLSearchParams({
      Action: action,
      Version: '2010-05-15',
      ...parameters,
    }).toString();
    const request = new HttpRequest({
      method: 'POST',
      protocol: endpoint.protocol,
      hostname: endpoint.hostname,
      ...(endpoint.port === '' ? {} : { port: Number(endpoint.port) }),
      path: endpoint.pathname === '' ? '/' : endpoint.pathname,
      headers: {
        host: endpoint.host,
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        'content-length': String(Buffer.byteLength(body)),
      },
      body,
    });
    const signer = new SignatureV4({
      service: 'cloudformation',
      region,
      credentials: this.options.credentials,
      sha256: Sha256,
    });
    const { response } = await this.options.requestHandler.handle(await signer.sign(request));
    const text = await readBody(response.body);
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw new CloudFormationServiceError(
        xmlElement(text, 'Code') ?? `HTTP ${String(response.statusCode)}`,
        xmlElement(text, 'Message') ??
          `CloudFormation answered HTTP ${String(response.statusCode)}`,
        response.statusCode,
      );
    }
    return text;
  }
}
