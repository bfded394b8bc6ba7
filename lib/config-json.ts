import { CONFIG_FILE_CONTEXT_KEY } from './config-keys.js';
import { InvalidConfigurationError, oneLine, quoteReceived } from './config-error.js';

/** The byte order mark some editors put at the start of a UTF-8 file. */
const BYTE_ORDER_MARK = '\uFEFF';

/** 1-based line and column of the character at `position` of `text`. */
export function lineAndColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(position, text.length)));
  const lines = before.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1] ?? '').length + 1 };
}

/**
 * Parses JSON text, tolerating a leading UTF-8 byte order mark.
 *
 * @param field how the text is named in the error
 * @param hint appended to the error message
 * @throws InvalidConfigurationError with the line and column of the error, and the line itself
 */
export function parseConfigJson(text: string, field: string, hint = ''): unknown {
  const body = text.startsWith(BYTE_ORDER_MARK) ? text.slice(BYTE_ORDER_MARK.length) : text;
  try {
    return JSON.parse(body) as unknown;
  } catch (error) {
    const message = oneLine((error as Error).message);
    // V8 names the position ("... in JSON at position 42"), or says the text ended.
    const match = /at position (\d+)/.exec(message);
    const position = match ? Number(match[1]) : /end of JSON/i.test(message) ? body.length : -1;
    if (position < 0) {
      throw new InvalidConfigurationError(field, `invalid JSON: ${message}${hint}`);
    }
    const { line, column } = lineAndColumn(body, position);
    const lineText = body.split('\n')[line - 1] ?? '';
    const reason = message.replace(/\s*(in JSON )?at position \d+.*$/, '');
    throw new InvalidConfigurationError(
      field,
      `invalid JSON at line ${line}, column ${column}: ${reason} (line ${line}: ${quoteReceived(lineText.trim())})${hint}`,
    );
  }
}

/**
 * Parses the JSON passed as the `iamKeyRotation` context string. JSON spread over several lines
 * is fine where the value arrives whole (cdk.json, `CDK_CONTEXT_JSON`), but the CDK CLI keeps
 * only the first line of a `-c key=value`, so a one-line value that is not JSON gets a hint.
 */
export function parseInlineConfigJson(text: string, field: string): unknown {
  const hint = text.includes('\n')
    ? ''
    : ` (the CDK CLI passes only the first line of a -c value: write the JSON on one line, or put it in a file and use -c ${CONFIG_FILE_CONTEXT_KEY}=<file>), got ${quoteReceived(text)}`;
  return parseConfigJson(text, field, hint);
}
