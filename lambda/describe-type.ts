/** What a JSON value is, for validation messages that must not quote the value itself. */
export const describeType = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
