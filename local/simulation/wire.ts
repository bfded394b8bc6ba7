/** Serialization of AWS query-protocol (IAM, STS) and JSON 1.1 (Secrets Manager) messages. */

export type XmlValue =
  string | number | boolean | Date | undefined | readonly XmlValue[] | XmlObject;
export interface XmlObject {
  readonly [name: string]: XmlValue;
}

const escapeXml = (text: string): string =>
  text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');

/** Serializes `value` as the content of an element; arrays become `<member>` lists. */
const xmlContent = (value: XmlValue): string => {
  if (value === undefined) return '';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) {
    return (value as readonly XmlValue[])
      .map((item) => `<member>${xmlContent(item)}</member>`)
      .join('');
  }
  if (typeof value === 'string') return escapeXml(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return Object.entries(value)
    .filter(([, child]) => child !== undefined)
    .map(([name, child]) => `<${name}>${xmlContent(child)}</${name}>`)
    .join('');
};

/** `<ActionResponse xmlns=...><ActionResult>...</ActionResult><ResponseMetadata>...` */
export const queryResponse = (
  action: string,
  namespace: string,
  result: XmlObject,
  requestId: string,
): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${namespace}">` +
  `<${action}Result>${xmlContent(result)}</${action}Result>` +
  `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`;

/** The query-protocol error document. */
export const queryErrorResponse = (
  namespace: string,
  error: { type: 'Sender' | 'Receiver'; code: string; message: string },
  requestId: string,
): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${namespace}">` +
  `<Error><Type>${error.type}</Type><Code>${escapeXml(error.code)}</Code>` +
  `<Message>${escapeXml(error.message)}</Message></Error>` +
  `<RequestId>${requestId}</RequestId></ErrorResponse>`;

/** Decodes a form-encoded query-protocol body into flat parameters (`Tags.member.1.Key`). */
export const parseQueryBody = (body: string): Map<string, string> =>
  new Map(new URLSearchParams(body).entries());

/** Reads a query-protocol list of structures, e.g. `Tags.member.N.Key` / `.Value`. */
export const queryList = (
  params: ReadonlyMap<string, string>,
  prefix: string,
): Record<string, string>[] => {
  const items: Record<string, string>[] = [];
  for (let index = 1; ; index += 1) {
    const itemPrefix = `${prefix}.member.${index}.`;
    const item: Record<string, string> = {};
    for (const [name, value] of params) {
      if (name.startsWith(itemPrefix)) item[name.slice(itemPrefix.length)] = value;
    }
    if (Object.keys(item).length === 0) return items;
    items.push(item);
  }
};

/** Reads a query-protocol list of strings, e.g. `TagKeys.member.N`. */
export const queryStringList = (params: ReadonlyMap<string, string>, prefix: string): string[] => {
  const items: string[] = [];
  for (let index = 1; ; index += 1) {
    const item = params.get(`${prefix}.member.${index}`);
    if (item === undefined) return items;
    items.push(item);
  }
};

/** Secrets Manager's JSON timestamps: epoch seconds. */
export const epochSeconds = (ms: number): number => ms / 1000;
