/**
 * Thrown when the configuration is invalid; the message (one line) names the field and the
 * value, as in `iamKeyRotation.users[1].schedule: ...`.
 */
export class InvalidConfigurationError extends Error {
  public constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'InvalidConfigurationError';
  }
}

/** How much of a received value an error message quotes. */
const MAX_QUOTED_CHARACTERS = 120;

/** `text` as a one-line JSON string, cut to {@link MAX_QUOTED_CHARACTERS} characters. */
export function quoteReceived(text: string): string {
  return text.length <= MAX_QUOTED_CHARACTERS
    ? JSON.stringify(text)
    : `${JSON.stringify(text.slice(0, MAX_QUOTED_CHARACTERS))}... (${text.length} characters)`;
}

/** A message on one line. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ');
}

/** A received value for messages: its JSON, or `nothing`. */
export function describe(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

/**
 * `raw` as an object whose keys are all in `allowed`.
 *
 * @throws InvalidConfigurationError naming the field, or the first unknown key with the allowed ones
 */
export function expectObject(
  raw: unknown,
  field: string,
  allowed: readonly string[],
): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidConfigurationError(field, `expected an object, got ${describe(raw)}`);
  }
  const record = raw as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) {
      throw new InvalidConfigurationError(
        `${field}.${key}`,
        `unknown field (allowed: ${allowed.join(', ')}), got ${describe(record[key])}`,
      );
    }
  }
  return record;
}

/** `true`/`false`, or `fallback` when absent. */
export function expectBoolean(raw: unknown, field: string, fallback: boolean): boolean {
  const value = raw ?? fallback;
  if (typeof value !== 'boolean') {
    throw new InvalidConfigurationError(field, `expected true or false, got ${describe(value)}`);
  }
  return value;
}
