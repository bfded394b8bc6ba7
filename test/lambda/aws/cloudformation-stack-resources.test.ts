import { Readable } from 'node:stream';
import type { HttpRequest, HttpResponse } from '@smithy/types';
import { describe, expect, it } from 'vitest';
import {
  CloudFormationServiceError,
  CloudFormationStackResources,
} from '../../../lambda/aws/cloudformation-stack-resources.js';

const STACK_ID =
  'arn:aws:cloudformation:eu-west-1:123456789012:stack/IamKeyRotation/11111111-2222-3333-4444-555555555555';

/** A request handler that records the signed request and answers `statusCode` with `body`. */
function answering(statusCode: number, body: string) {
  const requests: HttpRequest[] = [];
  return {
    requests,
    handle: (request: HttpRequest): Promise<{ response: HttpResponse }> => {
      requests.push(request);
      return Promise.resolve({
        response: { statusCode, headers: {}, body: Readable.from([Buffer.from(body)]) },
      });
    },
  };
}

const adapter = (handler: ReturnType<typeof answering>, endpoint?: string) =>
  new CloudFormationStackResources({
    region: () => Promise.resolve('eu-west-1'),
    credentials: () =>
      Promise.resolve({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-real-secret' }),
    requestHandler: handler,
    ...(endpoint === undefined ? {} : { endpoint }),
  });

const ANSWER = `<DescribeStackResourceResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
  <DescribeStackResourceResult>
    <StackResourceDetail>
      <StackId>${STACK_ID}</StackId>
      <LogicalResourceId>OwnershipTag</LogicalResourceId>
      <PhysicalResourceId>iam-key-rotation:secret/a&amp;b</PhysicalResourceId>
      <ResourceStatus>DELETE_IN_PROGRESS</ResourceStatus>
      <ResourceType>Custom::UserOwnershipTag</ResourceType>
    </StackResourceDetail>
  </DescribeStackResourceResult>
</DescribeStackResourceResponse>`;

describe('Class: CloudFormationStackResources', () => {
  describe('Method: describeStackResource', () => {
    it('sends one signed Query request for the stack and logical id, and reads status and physical id', async () => {
      // Arrange
      const handler = answering(200, ANSWER);

      // Act
      const state = await adapter(handler).describeStackResource(STACK_ID, 'OwnershipTag');

      // Assert
      expect(state).toEqual({
        status: 'DELETE_IN_PROGRESS',
        physicalResourceId: 'iam-key-rotation:secret/a&b',
      });
      expect(handler.requests).toHaveLength(1);
      const [request] = handler.requests;
      expect(request?.method).toBe('POST');
      expect(request?.hostname).toBe('cloudformation.eu-west-1.amazonaws.com');
      expect(Object.fromEntries(new URLSearchParams(String(request?.body)))).toEqual({
        Action: 'DescribeStackResource',
        Version: '2010-05-15',
        StackName: STACK_ID,
        LogicalResourceId: 'OwnershipTag',
      });
      expect(request?.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/cloudformation\/aws4_request, SignedHeaders=\S*host\S*, Signature=[0-9a-f]{64}$/,
      );
    });

    it('sends the request to the configured endpoint', async () => {
      // Arrange
      const handler = answering(200, ANSWER);

      // Act
      await adapter(handler, 'http://127.0.0.1:4566').describeStackResource(STACK_ID, 'X');

      // Assert
      expect(handler.requests[0]).toMatchObject({
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 4566,
        path: '/',
      });
    });

    it('fails with the code and message of an error answer', async () => {
      // Arrange
      const handler = answering(
        400,
        '<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Resource X does not exist for stack IamKeyRotation</Message></Error></ErrorResponse>',
      );

      // Act
      const failure = adapter(handler).describeStackResource(STACK_ID, 'X');

      // Assert
      await expect(failure).rejects.toBeInstanceOf(CloudFormationServiceError);
      await expect(failure).rejects.toMatchObject({
        name: 'ValidationError',
        message: 'Resource X does not exist for stack IamKeyRotation',
        $metadata: { httpStatusCode: 400 },
      });
    });

    it('fails when the answer has no ResourceStatus', async () => {
      // Arrange
      const handler = answering(200, '<DescribeStackResourceResponse/>');

      // Act & Assert
      await expect(adapter(handler).describeStackResource(STACK_ID, 'X')).rejects.toThrow(
        'DescribeStackResource answered without a ResourceStatus',
      );
    });
  });

  describe('Method: describeStack', () => {
    it('sends one DescribeStacks request and reads the status and the deployment dates', async () => {
      // Arrange
      const handler = answering(
        200,
        `<DescribeStacksResponse><DescribeStacksResult><Stacks><member>
          <StackId>${STACK_ID}</StackId><StackStatus>UPDATE_ROLLBACK_IN_PROGRESS</StackStatus>
          <CreationTime>2026-12-01T10:00:00.000Z</CreationTime>
          <LastUpdatedTime>2026-12-07T03:00:00.123Z</LastUpdatedTime>
        </member></Stacks></DescribeStacksResult></DescribeStacksResponse>`,
      );

      // Act
      const state = await adapter(handler).describeStack(STACK_ID);

      // Assert
      expect(state).toEqual({
        status: 'UPDATE_ROLLBACK_IN_PROGRESS',
        creationTime: new Date('2026-12-01T10:00:00.000Z'),
        lastUpdatedTime: new Date('2026-12-07T03:00:00.123Z'),
      });
      expect(Object.fromEntries(new URLSearchParams(String(handler.requests[0]?.body)))).toEqual({
        Action: 'DescribeStacks',
        Version: '2010-05-15',
        StackName: STACK_ID,
      });
    });

    it('fails with the error CloudFormation answered', async () => {
      // Arrange
      const handler = answering(
        403,
        '<ErrorResponse><Error><Code>AccessDenied</Code><Message>not allowed</Message></Error></ErrorResponse>',
      );

      // Act & Assert
      await expect(adapter(handler).describeStack(STACK_ID)).rejects.toMatchObject({
        name: 'AccessDenied',
        message: 'not allowed',
      });
    });
  });
});
