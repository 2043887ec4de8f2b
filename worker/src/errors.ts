/**
 * Every failure the API reports, one class each. They are HTTPExceptions, turned into the JSON body
 * `{ error: { code, message, parameter? } }` by the app's single onError handler.
 */
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export interface ErrorBody {
  error: { code: string; message: string; parameter?: string };
}

export abstract class ApiError extends HTTPException {
  abstract readonly code: string;
  /** Extra response headers (Retry-After, …). */
  readonly headers: Record<string, string> = {};

  constructor(
    status: ContentfulStatusCode,
    message: string,
    readonly parameter?: string,
  ) {
    super(status, { message });
  }

  body(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.parameter ? { parameter: this.parameter } : {}) } };
  }
}

/** A query or path parameter is malformed or out of range. */
export class InvalidParameterError extends ApiError {
  override name = 'InvalidParameterError';
  readonly code = 'invalid_parameter';
  constructor(parameter: string, message: string) {
    super(400, message, parameter);
  }
}

/** No model of that name is published. */
export class ModelNotFoundError extends ApiError {
  override name = 'ModelNotFoundError';
  readonly code = 'model_not_found';
  constructor(name: string) {
    super(404, `no model named '${name}'`, 'model');
  }
}

/** The model exists but not that version. */
export class VersionNotFoundError extends ApiError {
  override name = 'VersionNotFoundError';
  readonly code = 'version_not_found';
  constructor(name: string, version: string) {
    super(404, `model '${name}' has no version '${version}'`, 'model');
  }
}

/** No route matches the path. */
export class RouteNotFoundError extends ApiError {
  override name = 'RouteNotFoundError';
  readonly code = 'not_found';
  constructor(method: string, path: string) {
    super(404, `no route for ${method} ${path.slice(0, 200)}; see /v1/openapi.json`);
  }
}

/** The route exists, but not for this method. */
export class MethodNotAllowedError extends ApiError {
  override name = 'MethodNotAllowedError';
  readonly code = 'method_not_allowed';
  override readonly headers = { Allow: 'GET, HEAD, OPTIONS' };
  constructor(method: string) {
    super(405, `method ${method.slice(0, 20)} is not allowed; use GET or HEAD`);
  }
}

/** How long clients are asked to wait before retrying an unavailable model. */
export const RETRY_AFTER_SECONDS = 30;

/**
 * The model's files in R2 are missing, fail their checksum or do not decode. Served as 503 with
 * Retry-After: publishing or repairing the files fixes it without a deploy.
 */
export class ModelUnavailableError extends ApiError {
  override name = 'ModelUnavailableError';
  readonly code = 'model_unavailable';
  override readonly headers = { 'Retry-After': String(RETRY_AFTER_SECONDS) };
  constructor(
    readonly model: string,
    readonly reason: string,
  ) {
    super(503, `model '${model}' is unavailable: ${reason}`);
  }
}

/** R2 itself failed (listing models). */
export class StorageUnavailableError extends ApiError {
  override name = 'StorageUnavailableError';
  readonly code = 'storage_unavailable';
  override readonly headers = { 'Retry-After': String(RETRY_AFTER_SECONDS) };
  constructor() {
    super(503, 'the model registry could not be read; try again shortly');
  }
}

/** The WASM backend could not start in this isolate. */
export class BackendUnavailableError extends ApiError {
  override name = 'BackendUnavailableError';
  readonly code = 'backend_unavailable';
  override readonly headers = { 'Retry-After': String(RETRY_AFTER_SECONDS) };
  constructor(reason: string) {
    super(503, `the inference backend is unavailable: ${reason}`);
  }
}

/**
 * A client (CF-Connecting-IP) sent more requests than its rate limit allows in the current window.
 * Retry-After is the limiter's window: by then a new window has started.
 */
export class TooManyRequestsError extends ApiError {
  override name = 'TooManyRequestsError';
  readonly code = 'rate_limited';
  override readonly headers: Record<string, string>;
  constructor(what: string, retryAfterSeconds: number) {
    super(429, `too many ${what} from this client; retry after ${retryAfterSeconds} s`);
    this.headers = { 'Retry-After': String(retryAfterSeconds) };
  }
}
