/**
 * The channel's binary envelope, inside TLS:
 *
 *   offset 0  version  u8   = 1 (WIRE_VERSION)
 *   offset 1  type     u8   (MESSAGE_TYPE; 0 is invalid)
 *   offset 2  length   u32  big-endian, payload bytes, at most the receiver's limit
 *   offset 6  payload       UTF-8 JSON of the message
 *
 * A bad version or an oversized length ends the connection (the stream cannot be re-synchronised, and
 * an attacker must not make us buffer without bound); an unknown type or a malformed payload of known
 * length is skipped with a non-fatal error, and the connection goes on.
 */
import { ChannelError } from "./errors.js";
import { MESSAGE_TYPE, messageTypeName, validateMessage, type ChannelMessage } from "./messages.js";

export const WIRE_VERSION = 1;
export const ENVELOPE_HEADER_SIZE = 6;
/** Default payload limit: room for a quote (hex, ~9 KiB) and a TVM configuration, nothing close to a page stream. */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024;

export function encodeMessage(message: ChannelMessage, maxPayload = DEFAULT_MAX_PAYLOAD): Buffer {
  const payload = Buffer.from(JSON.stringify(message), "utf8");
  if (payload.length > maxPayload) {
    throw new ChannelError("CHANNEL_MESSAGE_TOO_LARGE", `${message.type} message of ${payload.length} bytes exceeds the ${maxPayload}-byte limit`, {
      fatal: false,
      details: { type: message.type, length: payload.length, maxPayload },
    });
  }
  const header = Buffer.alloc(ENVELOPE_HEADER_SIZE);
  header.writeUInt8(WIRE_VERSION, 0);
  header.writeUInt8(MESSAGE_TYPE[message.type], 1);
  header.writeUInt32BE(payload.length, 2);
  return Buffer.concat([header, payload]);
}

/** One outcome of decoding: a message, or a (non-fatal) error about one skipped envelope. */
export type DecodeResult = { readonly message: ChannelMessage } | { readonly error: ChannelError };

/**
 * Incremental decoder for a byte stream. `push` returns what the new bytes completed; it throws a fatal
 * ChannelError (bad version, oversized length) after which the stream must be closed.
 */
export class EnvelopeDecoder {
  #buffer: Buffer = Buffer.alloc(0);
  #failed = false;

  constructor(private readonly maxPayload = DEFAULT_MAX_PAYLOAD) {}

  push(chunk: Buffer): DecodeResult[] {
    if (this.#failed) throw new ChannelError("CHANNEL_PROTOCOL", "decoder already failed", { fatal: true });
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const out: DecodeResult[] = [];
    while (this.#buffer.length >= ENVELOPE_HEADER_SIZE) {
      const version = this.#buffer.readUInt8(0);
      const typeCode = this.#buffer.readUInt8(1);
      const length = this.#buffer.readUInt32BE(2);
      if (version !== WIRE_VERSION) {
        this.#failed = true;
        throw new ChannelError("CHANNEL_BAD_VERSION", `envelope version ${version} is not ${WIRE_VERSION}`, { fatal: true, details: { version, expected: WIRE_VERSION } });
      }
      if (length > this.maxPayload) {
        this.#failed = true;
        throw new ChannelError("CHANNEL_MESSAGE_TOO_LARGE", `envelope of ${length} bytes exceeds the ${this.maxPayload}-byte limit`, {
          fatal: true,
          details: { length, maxPayload: this.maxPayload, typeCode },
        });
      }
      if (this.#buffer.length < ENVELOPE_HEADER_SIZE + length) break;
      const payload = this.#buffer.subarray(ENVELOPE_HEADER_SIZE, ENVELOPE_HEADER_SIZE + length);
      this.#buffer = this.#buffer.subarray(ENVELOPE_HEADER_SIZE + length);
      out.push(decodePayload(typeCode, payload));
    }
    return out;
  }
}

function decodePayload(typeCode: number, payload: Buffer): DecodeResult {
  const typeName = messageTypeName(typeCode);
  if (typeName === undefined) {
    return { error: new ChannelError("CHANNEL_UNKNOWN_MESSAGE", `unknown message type ${typeCode}`, { fatal: false, details: { typeCode } }) };
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
  } catch (cause) {
    return { error: new ChannelError("CHANNEL_MALFORMED_MESSAGE", `${typeName} payload is not UTF-8 JSON`, { fatal: false, cause, details: { type: typeName } }) };
  }
  try {
    return { message: validateMessage(typeName, json) };
  } catch (err) {
    if (err instanceof ChannelError) return { error: err };
    throw err;
  }
}
