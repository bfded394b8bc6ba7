/**
 * A handler entry that reads `import.meta.url`, which CommonJS lacks: the asset test builds it to
 * show that the conversion to CommonJS refuses it instead of shipping an empty `import.meta`.
 */
export const where = (): string => import.meta.url;
