const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const BASE64ISH = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const ARN_SUFFIX = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const HEX = '0123456789abcdef';

/**
 * A small seeded generator (mulberry32) for every identifier and secret the simulation makes,
 * so that a scenario replays identically from its seed.
 */
export class SeededRandom {
  private state: number;

  public constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  public next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  public string(length: number, alphabet: string): string {
    let out = '';
    for (let i = 0; i < length; i += 1) {
      out += alphabet.charAt(Math.floor(this.next() * alphabet.length));
    }
    return out;
  }

  /** `AKIA` + 16 upper-case alphanumerics: a long-term access key id. */
  public accessKeyId(prefix = 'AKIA'): string {
    return prefix + this.string(16, UPPER_ALNUM);
  }

  /** 40 characters, like a real secret access key. */
  public secretAccessKey(): string {
    return this.string(40, BASE64ISH);
  }

  /** A unique id as IAM shows it (`AIDA...`, `AROA...`). */
  public uniqueId(prefix: string): string {
    return prefix + this.string(17, UPPER_ALNUM);
  }

  /** The six-character suffix Secrets Manager appends to a secret ARN. */
  public arnSuffix(): string {
    return this.string(6, ARN_SUFFIX);
  }

  /** A version-4 UUID, the shape of Secrets Manager version ids. */
  public uuid(): string {
    const h = this.string(32, HEX).split('');
    h[12] = '4';
    h[16] = '89ab'.charAt(Math.floor(this.next() * 4));
    const s = h.join('');
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
  }

  public token(length: number): string {
    return this.string(length, LOWER_ALNUM);
  }
}
