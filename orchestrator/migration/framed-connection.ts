/**
 * A TCP socket carrying frames, with backpressure in both directions:
 * - sending: `send()` resolves when the kernel took the bytes, or after 'drain' when `write()` returned false, so a
 *   producer that awaits it never buffers more than the socket's high-water mark in user space;
 * - receiving: frames queue until `receive()` takes them; above `highWaterBytes` of queued frames the socket is
 *   paused (TCP's window then closes and the peer's `send()` waits), and reading resumes below half of it.
 */
import type { Socket } from "node:net";
import { ConnectionClosedError, MigrationError } from "./errors.js";
import { encodeFrameHeader, FrameDecoder, frameTypeName, MAX_FRAME_BYTES } from "./frame.js";
import type { Frame, FrameType, PayloadAllocator } from "./frame.js";

export interface FramedConnectionOptions {
  maxFrameBytes?: number;
  /** Queued, not yet received bytes above which the socket stops reading (default 8 MiB). */
  highWaterBytes?: number;
  /** A name for errors and logs, e.g. "stream 1". */
  label?: string;
  /** Where received payloads are placed (a buffer pool); default: a fresh buffer each. */
  allocate?: PayloadAllocator;
}

type Waiter = { resolve: (frame: Frame) => void; reject: (err: Error) => void };

export class FramedConnection {
  readonly socket: Socket;
  readonly label: string;
  readonly #decoder: FrameDecoder;
  readonly #maxFrameBytes: number;
  #highWater: number;
  readonly #queue: Frame[] = [];
  #queuedBytes = 0;
  #queueHead = 0;
  readonly #waiters: Waiter[] = [];
  #closedError: Error | undefined;
  #paused = false;
  readonly #closed: Promise<void>;
  #bytesSent = 0;
  #bytesReceived = 0;

  constructor(socket: Socket, options: FramedConnectionOptions = {}) {
    this.socket = socket;
    this.label = options.label ?? "connection";
    this.#maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.#decoder = new FrameDecoder(this.#maxFrameBytes, options.allocate);
    this.#highWater = options.highWaterBytes ?? 8 * 1024 * 1024;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    this.#closed = new Promise((resolve) => {
      socket.once("close", () => {
        this.#fail(new ConnectionClosedError({ connection: this.label }));
        resolve();
      });
    });
    socket.on("error", (err) => this.#fail(new ConnectionClosedError({ connection: this.label, reason: err.message }, err)));
    socket.on("end", () => {
      this.#fail(new ConnectionClosedError({ connection: this.label, reason: "peer ended the connection" }));
    });
  }

  get bytesSent(): number {
    return this.#bytesSent;
  }
  get bytesReceived(): number {
    return this.#bytesReceived;
  }
  /** Bytes received and decoded but not yet taken by `receive()`. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }
  get isReadingPaused(): boolean {
    return this.#paused;
  }
  get isOpen(): boolean {
    return this.#closedError === undefined;
  }
  /**
   * Changes the largest frame received and the receive queue's high-water mark from now on (what this side may
   * send is unchanged): a listener keeps both small until a connection is authenticated, so a stranger cannot make
   * it buffer megabytes.
   */
  setReceiveLimits(limits: { maxFrameBytes: number; highWaterBytes: number }): void {
    this.#decoder.maxFrameBytes = limits.maxFrameBytes;
    this.#highWater = limits.highWaterBytes;
    if (this.#paused && this.#queuedBytes <= this.#highWater / 2) {
      this.#paused = false;
      this.socket.resume();
    } else if (!this.#paused && this.#queuedBytes > this.#highWater) {
      this.#paused = true;
      this.socket.pause();
    }
  }

  /** Resolves when the socket has closed (for any reason). */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /**
   * Writes one frame. Resolves once the socket accepted it without exceeding its buffer, or after 'drain'.
   * The payload must not change until `onWritten` was called (when given).
   * Rejects with ConnectionClosedError when the connection is gone.
   */
  async send(type: FrameType, payload: Uint8Array = Buffer.alloc(0), onWritten?: () => void): Promise<void> {
    if (this.#closedError) throw this.#closedError;
    const header = encodeFrameHeader(type, payload.byteLength, this.#maxFrameBytes);
    this.#bytesSent += header.byteLength + payload.byteLength;
    this.socket.cork();
    this.socket.write(header);
    // `onWritten` runs once the kernel has the payload (or the write failed): then its buffer may be reused.
    const flushed = onWritten ? this.socket.write(payload, () => onWritten()) : this.socket.write(payload);
    this.socket.uncork();
    if (flushed) return;
    await this.#drained();
  }

  /** Sends a control frame whose payload is a JSON document. */
  sendJson(type: FrameType, body: unknown): Promise<void> {
    return this.send(type, Buffer.from(JSON.stringify(body), "utf8"));
  }

  /** The next frame, in order. Rejects with ConnectionClosedError when the connection ends first. */
  receive(): Promise<Frame> {
    const frame = this.#dequeue();
    if (frame) return Promise.resolve(frame);
    if (this.#closedError) return Promise.reject(this.#closedError);
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Half-closes after the queued writes are flushed. */
  end(): void {
    this.socket.end();
  }

  /** Closes at once (a reset, as a crash or a cut would). */
  destroy(): void {
    this.socket.destroy();
  }

  #drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        this.socket.off("drain", onDrain);
        this.socket.off("close", onClose);
      };
      const onDrain = (): void => {
        cleanup();
        resolve();
      };
      const onClose = (): void => {
        cleanup();
        reject(this.#closedError ?? new ConnectionClosedError({ connection: this.label }));
      };
      this.socket.on("drain", onDrain);
      this.socket.on("close", onClose);
    });
  }

  #onData(chunk: Buffer): void {
    this.#bytesReceived += chunk.byteLength;
    let frames: Frame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (err) {
      // A malformed or oversized frame poisons the stream: fail everything and drop the connection.
      this.#fail(err as Error);
      this.socket.destroy();
      return;
    }
    for (const frame of frames) {
      const waiter = this.#waiters.shift();
      if (waiter) waiter.resolve(frame);
      else {
        this.#queue.push(frame);
        this.#queuedBytes += frame.payload.byteLength;
      }
    }
    if (!this.#paused && this.#queuedBytes > this.#highWater) {
      this.#paused = true;
      this.socket.pause();
    }
  }

  #dequeue(): Frame | undefined {
    if (this.#queueHead >= this.#queue.length) return undefined;
    const frame = this.#queue[this.#queueHead]!;
    this.#queue[this.#queueHead] = undefined as unknown as Frame;
    this.#queueHead++;
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
    this.#queuedBytes -= frame.payload.byteLength;
    if (this.#paused && this.#queuedBytes <= this.#highWater / 2) {
      this.#paused = false;
      this.socket.resume();
    }
    return frame;
  }

  #fail(err: Error): void {
    if (this.#closedError) return;
    this.#closedError = err;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(err);
  }
}

/** Parses a JSON control frame; a malformed document is a protocol error. */
export function frameJson(frame: Frame): unknown {
  try {
    return JSON.parse(frame.payload.toString("utf8")) as unknown;
  } catch (err) {
    throw new MigrationError("MIGRATION_PROTOCOL", "control frame is not valid JSON", { details: { type: frameTypeName(frame.type) }, cause: err });
  }
}
