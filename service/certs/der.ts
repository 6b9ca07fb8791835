/**
 * Just enough DER to write a leaf X.509 certificate and to find a field in one: each function
 * returns the encoding of one value, tag and length included. Values are built bottom-up, so the
 * length of everything is known when it is written; no schema, no parse back.
 */

/** Universal tags, and the context tags of X.509 we write ([0] version, [3] extensions). */
const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

export function tlv(tag: number, content: Uint8Array): Buffer {
  const n = content.length;
  const length =
    n < 0x80
      ? [n]
      : n < 0x100
        ? [0x81, n]
        : n < 0x10000
          ? [0x82, n >> 8, n & 0xff]
          : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), content]);
}

export const sequence = (...items: Uint8Array[]): Buffer => tlv(TAG.sequence, Buffer.concat(items));
export const set = (...items: Uint8Array[]): Buffer => tlv(TAG.set, Buffer.concat(items));
export const octetString = (content: Uint8Array): Buffer => tlv(TAG.octetString, content);
export const boolean = (value: boolean): Buffer => tlv(TAG.boolean, Buffer.from([value ? 0xff : 0x00]));
/** A BIT STRING of whole bytes, or of `bits` bits of `content` (the rest of its last byte unused). */
export const bitString = (content: Uint8Array, bits = content.length * 8): Buffer =>
  tlv(TAG.bitString, Buffer.concat([Buffer.from([content.length * 8 - bits]), content]));
/** `[n]` EXPLICIT: a constructed context tag around one value. */
export const explicit = (n: number, value: Uint8Array): Buffer => tlv(0xa0 | n, value);
/** `[n]` IMPLICIT of a primitive value (as GeneralName's choices are). */
export const implicit = (n: number, content: Uint8Array): Buffer => tlv(0x80 | n, content);
export const NULL = Buffer.from([0x05, 0x00]);

/** A non-negative INTEGER from its big-endian bytes, in its shortest form. */
export function unsignedInteger(bytes: Uint8Array): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const digits = bytes.subarray(start);
  return tlv(TAG.integer, digits[0]! > 0x7f ? Buffer.concat([Buffer.from([0]), digits]) : digits);
}

export function smallInteger(value: number): Buffer {
  return unsignedInteger(Buffer.from([value]));
}

export function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split(".").map(Number);
  const bytes: number[] = [];
  for (const arc of [first! * 40 + second!, ...rest]) {
    const base128 = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) base128.unshift((v & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return tlv(TAG.oid, Buffer.from(bytes));
}

/**
 * A directory string as X.509 libraries write it: PrintableString when the text fits its
 * alphabet, UTF8String otherwise.
 */
export function directoryString(text: string): Buffer {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text)
    ? tlv(TAG.printableString, Buffer.from(text, "ascii"))
    : tlv(TAG.utf8String, Buffer.from(text, "utf8"));
}

/** RFC 5280's Time: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, UTC. */
export function time(ms: number): Buffer {
  const iso = new Date(ms).toISOString(); // 2026-12-04T05:10:15.123Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "") + "Z"; // 20261204051015Z
  const year = Number(iso.slice(0, 4));
  return year < 2050
    ? tlv(TAG.utcTime, Buffer.from(digits.slice(2), "ascii"))
    : tlv(TAG.generalizedTime, Buffer.from(digits, "ascii"));
}

/** Where each value of a SEQUENCE's (or SET's) content starts and ends, as the whole TLV. */
export function children(der: Uint8Array): Buffer[] {
  const buf = Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const { contentStart, end } = header(buf, 0);
  const items: Buffer[] = [];
  for (let at = contentStart; at < end;) {
    const next = header(buf, at).end;
    items.push(buf.subarray(at, next));
    at = next;
  }
  return items;
}

function header(buf: Buffer, at: number): { contentStart: number; end: number } {
  if (at + 2 > buf.length) throw new Error("DER: truncated");
  const first = buf[at + 1]!;
  let length = first;
  let contentStart = at + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new Error("DER: unsupported length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[at + 2 + i]!;
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > buf.length) throw new Error("DER: truncated");
  return { contentStart, end };
}
