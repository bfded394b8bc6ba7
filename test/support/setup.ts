import 'aws-sdk-client-mock-vitest/extend';

// The SDK warns once per process that its releases after January 2027 need Node.js 22; the
// Lambda runs on Node.js 24, only this machine's test runner is on 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
