import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/core/protocols';

/** SHA-256 / HMAC-SHA-256 for @smithy/signature-v4, on node:crypto. */
class NodeSha256 {
  private readonly hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;

  public constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash =
      secret === undefined
        ? createHash('sha256')
        : createHmac('sha256', typeof secret === 'string' ? secret : toBuffer(secret));
  }

  public update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(typeof data === 'string' ? data : toBuffer(data));
  }

  public digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

const toBuffer = (data: ArrayBuffer | ArrayBufferView): Buffer =>
  ArrayBuffer.isView(data)
    ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    : Buffer.from(data);

/** The parts of a SigV4 `Authorization` header. */
export interface ParsedAuthorization {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]+)$/;

export const parseAuthorization = (header: string | undefined): ParsedAuthorization | undefined => {
  const match = header === undefined ? null : AUTHORIZATION.exec(header);
  if (match === null) return undefined;
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match;
  if (
    accessKeyId === undefined ||
    date === undefined ||
    region === undefined ||
    service === undefined ||
    signedHeaders === undefined ||
    signature === undefined
  ) {
    return undefined;
  }
  return { accessKeyId, date, region, service, signedHeaders: signedHeaders.split(';'), signature };
};

const parseAmzDate = (value: string | undefined): Date | undefined => {
  const match =
    value === undefined ? null : /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (match === null) return undefined;
  const [y, mo, d, h, mi, s] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
};

const headerValue = (
  request: { readonly headers: Record<string, string> },
  name: string,
): string | undefined => {
  // The SDK sends lower-case names: the common case costs one lookup.
  const exact = request.headers[name];
  if (exact !== undefined) return exact;
  for (const [key, value] of Object.entries(request.headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
};

/**
 * Recomputes the SigV4 signature of `request` with the given secret (and session token), over
 * exactly the headers the client signed, and compares it with the one the client sent.
 */
export const verifySignature = async (
  request: HttpRequest,
  auth: ParsedAuthorization,
  credentials: { secretAccessKey: string; sessionToken?: string },
): Promise<boolean> => {
  const signingDate = parseAmzDate(headerValue(request, 'x-amz-date'));
  if (signingDate === undefined) return false;
  if (headerValue(request, 'x-amz-security-token') !== credentials.sessionToken) return false;
  const headers: Record<string, string> = {};
  for (const name of auth.signedHeaders) {
    const value = headerValue(request, name);
    if (value === undefined) return false;
    headers[name] = value;
  }
  const copy = new HttpRequest({
    method: request.method,
    protocol: request.protocol,
    hostname: request.hostname,
    path: request.path,
    query: request.query,
    headers,
    body: request.body as unknown,
    ...(request.port === undefined ? {} : { port: request.port }),
  });
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: auth.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
      ...(credentials.sessionToken === undefined ? {} : { sessionToken: credentials.sessionToken }),
    },
    region: auth.region,
    service: auth.service,
    sha256: NodeSha256,
    applyChecksum: false,
  });
  const signed = await signer.sign(copy, {
    signingDate,
    signableHeaders: new Set(auth.signedHeaders),
  });
  const recomputed = parseAuthorization(headerValue(signed, 'authorization'));
  return recomputed !== undefined && recomputed.signature === auth.signature;
};
