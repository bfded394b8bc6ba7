/** Text formatting shared by the commands: ages, durations, times. */

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A span in its largest whole unit: `45s`, `12m`, `5h`, `3d`. */
export const formatSpan = (milliseconds: number): string => {
  const span = Math.max(0, milliseconds);
  if (span < MINUTE) return `${String(Math.floor(span / SECOND))}s`;
  if (span < HOUR) return `${String(Math.floor(span / MINUTE))}m`;
  if (span < DAY) return `${String(Math.floor(span / HOUR))}h`;
  return `${String(Math.floor(span / DAY))}d`;
};

/** `3d ago` or `in 27d`, relative to `now`. */
export const formatRelative = (date: Date, now: number): string => {
  const delta = date.getTime() - now;
  return delta > 0 ? `in ${formatSpan(delta)}` : `${formatSpan(-delta)} ago`;
};

/** A duration to a tenth of a second: `12.3 s`. */
export const formatSeconds = (milliseconds: number): string =>
  `${(Math.max(0, milliseconds) / SECOND).toFixed(1)} s`;

const DURATION_PATTERN = /^(\d{1,7})(ms|s|m|h)?$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: SECOND, m: MINUTE, h: HOUR };

/**
 * A duration option: whole seconds (`300`), or a number with a unit (`90s`, `5m`, `2h`, `500ms`).
 *
 * @throws Error naming the expected form and the value found
 */
export const parseDuration = (text: string): number => {
  const match = DURATION_PATTERN.exec(text.trim());
  if (match?.[1] === undefined) {
    throw new Error(
      `expected whole seconds (300) or a number with a unit (90s, 5m, 2h), got ${JSON.stringify(text)}`,
    );
  }
  return Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? SECOND);
};

/** The first characters of a version id: enough to tell versions apart on screen. */
export const shortVersionId = (versionId: string): string =>
  versionId.length > 13 ? `${versionId.slice(0, 8)}…` : versionId;

/** C0 and C1 control characters (ESC included), and DEL. */
// eslint-disable-next-line no-control-regex -- matching them is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * Text from AWS (a tag, a message, a name) made safe for a terminal: each control character
 * (an ESC that starts an escape sequence, a newline that forges a line) becomes `\u{..}`.
 */
export const printable = (text: string): string =>
  text.replace(
    CONTROL_CHARACTERS,
    (character) => `\\u{${character.charCodeAt(0).toString(16).padStart(2, '0')}}`,
  );
