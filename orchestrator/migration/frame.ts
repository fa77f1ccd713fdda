/**
 * Transport framing of the migration streams over TCP.
 *
 *   offset  size  field
 *   0       4     length  u32 LE: bytes that follow this field (type + payload), 1..MAX_FRAME_BYTES
 *   4       1     type    u8 (FRAME_TYPE; 0 is invalid)
 *   5       n     payload (length - 1 bytes)
 *
 * A BUNDLE frame carries one TDX migration bundle verbatim (MBMD, GPA list, ciphertext, MACs): the framing adds no
 * security of its own, the bundle's MAC and counters do that. Control frames carry small JSON documents (control-messages.ts).
 */
import { FrameInvalidError, FrameTooLargeError } from "./errors.js";

export const FRAME_HEADER_BYTES = 5;

/** Upper bound of a frame: a 512-page memory bundle (the TDX GPA-list limit) is ~2.1 MiB; leave room. */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

export const FRAME_TYPE = {
  INVALID: 0,
  /** source → destination, answering CHALLENGE: session id, stream index, version range, MAC under the session key. */
  HELLO: 1,
  /** destination → source on every connection: the negotiated protocol version (or REJECT). */
  HELLO_ACK: 2,
  /** source → destination: one TDX migration bundle (MBMD-framed). */
  BUNDLE: 3,
  /** source → destination on the streams that do not carry the epoch token: "epoch N ends here on this stream". */
  EPOCH_MARK: 4,
  /** destination → source (backward stream): the destination's abort token bundle and the status that caused it. */
  ABORT_TOKEN: 5,
  /** destination → source: the start token was accepted, the destination is ready to commit. */
  READY: 6,
  /** source → destination: go ahead and commit (the source will never resume without an abort token). */
  COMMIT: 7,
  /** destination → source: TDH.IMPORT.COMMIT succeeded, the TD runs on the destination. */
  COMMITTED: 8,
  /** source → destination: the source aborted before the start token (the abort is the source's alone). */
  CANCEL: 9,
  /** a peer refuses the session (protocol version, unknown session, busy) with a reason. */
  REJECT: 11,
  /** destination → source on stream 0: epoch N's token was imported (everything before it is verified). */
  EPOCH_ACK: 12,
  /** destination → source, first frame on every connection: the nonce HELLO's MAC must cover. */
  CHALLENGE: 13,
} as const;

export type FrameType = (typeof FRAME_TYPE)[keyof typeof FRAME_TYPE];

const FRAME_TYPE_NAMES = new Map<number, string>(Object.entries(FRAME_TYPE).map(([name, value]) => [value, name]));

export function frameTypeName(type: number): string {
  return FRAME_TYPE_NAMES.get(type) ?? `UNKNOWN(${type})`;
}

export function isFrameType(type: number): type is FrameType {
  return type !== FRAME_TYPE.INVALID && FRAME_TYPE_NAMES.has(type);
}

export interface Frame {
  type: FrameType;
  /** Owns its own ArrayBuffer (offset 0), so it can be transferred to a worker without a copy. */
  payload: Buffer;
}

/** The 5-byte header for a payload of `payloadBytes`; the payload is written after it without being copied. */
export function encodeFrameHeader(type: FrameType, payloadBytes: number, maxFrameBytes = MAX_FRAME_BYTES): Buffer {
  if (!isFrameType(type)) throw new FrameInvalidError("unknown frame type", { type });
  const length = payloadBytes + 1;
  if (length > maxFrameBytes) throw new FrameTooLargeError(length, maxFrameBytes);
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32LE(length, 0);
  header.writeUInt8(type, 4);
  return header;
}

/** Header and payload as one buffer (tests and small control frames). */
export function encodeFrame(type: FrameType, payload: Uint8Array, maxFrameBytes = MAX_FRAME_BYTES): Buffer {
  return Buffer.concat([encodeFrameHeader(type, payload.byteLength, maxFrameBytes), payload]);
}

/**
 * Incremental decoder: feed it the chunks TCP delivers (split or coalesced anyhow), get whole frames back.
 * A declared length above the maximum is rejected as soon as the header is read, before anything is buffered,
 * so a peer cannot make us allocate a huge frame.
 */
/** Gives the decoder the buffer for a payload of `n` bytes (a pool can hand back a recycled one). */
export type PayloadAllocator = (n: number) => Buffer;

const freshPayload: PayloadAllocator = (n) => Buffer.allocUnsafeSlow(n);

export class FrameDecoder {
  #max: number;
  readonly #allocate: PayloadAllocator;
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  /** Bytes of the frame being assembled (header included) once its header is known, else -1. */
  #need = -1;
  #type: FrameType = FRAME_TYPE.INVALID;
  #failed: Error | undefined;

  constructor(maxFrameBytes = MAX_FRAME_BYTES, allocate: PayloadAllocator = freshPayload) {
    this.#max = maxFrameBytes;
    this.#allocate = allocate;
  }

  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** The largest frame accepted from now on (e.g. raised once a connection is authenticated). */
  set maxFrameBytes(n: number) {
    this.#max = n;
  }

  /** Appends a chunk and returns every frame it completes. After an error the decoder stays failed. */
  push(chunk: Buffer): Frame[] {
    if (this.#failed) throw this.#failed;
    if (chunk.byteLength > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.byteLength;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < FRAME_HEADER_BYTES) break;
        const header = this.#take(FRAME_HEADER_BYTES);
        const length = header.readUInt32LE(0);
        const type = header.readUInt8(4);
        try {
          if (length > this.#max) throw new FrameTooLargeError(length, this.#max);
          if (length < 1) throw new FrameInvalidError("frame length is zero");
          if (!isFrameType(type)) throw new FrameInvalidError("unknown frame type", { type });
        } catch (err) {
          this.#failed = err as Error;
          throw err;
        }
        this.#type = type;
        this.#need = length - 1;
      }
      if (this.#buffered < this.#need) break;
      frames.push({ type: this.#type, payload: this.#take(this.#need, this.#need >= 4096) });
      this.#need = -1;
    }
    return frames;
  }

  /** Removes `n` bytes from the front into a buffer with its own ArrayBuffer (from the allocator for payloads). */
  #take(n: number, pooled = false): Buffer {
    const out = pooled ? this.#allocate(n) : Buffer.allocUnsafeSlow(n);
    let filled = 0;
    while (filled < n) {
      const head = this.#chunks[0]!;
      const want = n - filled;
      if (head.byteLength <= want) {
        head.copy(out, filled);
        filled += head.byteLength;
        this.#chunks.shift();
      } else {
        head.copy(out, filled, 0, want);
        this.#chunks[0] = head.subarray(want);
        filled += want;
      }
    }
    this.#buffered -= n;
    return out;
  }
}
