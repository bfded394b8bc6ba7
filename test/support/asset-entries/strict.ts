/**
 * A handler entry whose behaviour depends on strict mode, and which holds a string that looks like
 * a relative `.mjs` specifier: the asset test builds it to show that the conversion to CommonJS
 * keeps the ES module's strict mode and renames require calls only, never a string.
 */

/** Whether writing to a frozen object throws, as it does in strict code (sloppy code ignores it). */
export const writeToFrozenThrows = (): boolean => {
  const frozen = Object.freeze({ value: 1 });
  try {
    (frozen as { value: number }).value = 2;
    return false;
  } catch (error) {
    return error instanceof TypeError;
  }
};

/** Not a file: a string that must leave the conversion as it came in. */
export const label = (): string => './not-a-chunk.mjs';
