/**
 * The form a value takes in the control API's JSON: every bigint is a decimal string (JSON numbers lose precision
 * above 2^53, and wei amounts and ids are bigints), bytes are 0x-hex (as the server's `toJsonSafe` writes them),
 * everything else as it is, through arrays and objects. The host
 * sends `T`; the client receives `JsonForm<T>`.
 */
export type JsonForm<T> = T extends bigint
  ? string
  : T extends string | number | boolean | null | undefined
    ? T
    : T extends Uint8Array
      ? string
      : T extends readonly (infer E)[]
        ? JsonForm<E>[]
        : T extends object
          ? { [K in keyof T]: JsonForm<T[K]> }
          : T;
