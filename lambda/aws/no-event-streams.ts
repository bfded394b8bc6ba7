/**
 * Stands in for `@smithy/core/event-streams` in the Lambda bundle only (an esbuild alias in
 * lib/rotation-bundling.ts). The SDK loads that module, by a dynamic import in
 * `HttpProtocol`, only for operations with event-stream members; none of the Secrets Manager,
 * IAM and STS operations rotation calls has one. Leaving it out drops about 19 KB (the event
 * stream codec and its CRC32 checksums) and a few ms of module load. Should an operation ever
 * need it, the call fails with the message below instead of running without it; a named import
 * this module lacks fails the bundling (esbuild reports the missing export).
 */
const notBundled = (): never => {
  throw new Error(
    'Event streams are not bundled into the rotation function (see lambda/aws/no-event-streams.ts)',
  );
};

/** Fails on construction, where `HttpProtocol.loadEventStreamCapability` would build it. */
export class EventStreamSerde {
  public constructor() {
    notBundled();
  }

  public serializeEventStream(): never {
    return notBundled();
  }

  public deserializeEventStream(): never {
    return notBundled();
  }
}

export const eventStreamSerdeProvider = (): never => notBundled();
