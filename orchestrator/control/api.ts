import type { ControlClient } from "./client.js";
import type { JsonForm } from "./json-form.js";
import type { ControlRequest, ControlRoute, HttpMethod } from "./server.js";

/**
 * A control API written down once as a type: each endpoint ("METHOD /path/:param") with the body its client sends
 * (already in JSON form) and what its handler returns (the client receives it in JSON form). The host declares its
 * API as such a map; `routeOf` checks each handler against it and `ApiClient` gives the CLI and the demo calls
 * typed by it, so the two ends cannot drift apart.
 *
 * The shape an API map must have: every key an endpoint ("GET /v1/..."), every value its request and response.
 */
export type ApiSpec<A> = { [E in keyof A]: E extends `${HttpMethod} /${string}` ? { request: unknown; response: unknown } : never };

/** The `:name` parameters of a path pattern, as a union of their names. */
export type PathParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | PathParamNames<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never;

/** The body endpoint `E` of API `A` takes, and what it answers (before its JSON form). */
export type RequestOf<A, E extends keyof A> = A[E] extends { request: infer R } ? R : never;
export type ResponseOf<A, E extends keyof A> = A[E] extends { response: infer R } ? R : never;

type PathOf<E extends string> = E extends `${HttpMethod} ${infer P}` ? P : never;

/** What a call of endpoint `E` supplies: its path parameters (when it has any) and its body (when it takes one). */
export type CallInput<A extends ApiSpec<A>, E extends keyof A & string> = ([PathParamNames<PathOf<E>>] extends [never]
  ? { params?: undefined }
  : { params: Record<PathParamNames<PathOf<E>>, string> }) &
  (undefined extends RequestOf<A, E> ? { body?: RequestOf<A, E> } : { body: RequestOf<A, E> });

/**
 * The route builder of API `A`: `routeOf<A>()("GET /v1/tds/:id", handler)` is a ControlRoute whose handler is
 * checked against the endpoint's response type and sees the endpoint's path parameters by name.
 */
export function routeOf<A extends ApiSpec<A>>() {
  return <E extends keyof A & string>(
    endpoint: E,
    handler: (req: ControlRequest & { params: Record<PathParamNames<PathOf<E>>, string> }) => Promise<ResponseOf<A, E>> | ResponseOf<A, E>,
  ): ControlRoute => {
    const space = endpoint.indexOf(" ");
    return { method: endpoint.slice(0, space) as HttpMethod, path: endpoint.slice(space + 1), handler: handler as ControlRoute["handler"] };
  };
}

/** Calls of API `A` over a ControlClient, typed by the API: answers arrive in JSON form (bigints as strings). */
export class ApiClient<A extends ApiSpec<A>> {
  constructor(readonly client: ControlClient) {}

  call<E extends keyof A & string>(endpoint: E, ...input: {} extends CallInput<A, E> ? [CallInput<A, E>?] : [CallInput<A, E>]): Promise<JsonForm<ResponseOf<A, E>>> {
    const space = endpoint.indexOf(" ");
    const method = endpoint.slice(0, space) as HttpMethod;
    const given = (input[0] ?? {}) as { params?: Record<string, string>; body?: unknown };
    const path = endpoint.slice(space + 1).replace(/:([A-Za-z]+)/g, (_m, name: string) => {
      const value = given.params?.[name];
      // The types require every parameter; a caller that slipped past them gets a clear error, not "undefined".
      if (value === undefined) throw new TypeError(`${endpoint}: missing path parameter ${name}`);
      return encodeURIComponent(value);
    });
    return this.client.request<JsonForm<ResponseOf<A, E>>>(method, path, given.body);
  }
}
