/**
 * The one place that talks HTTP to the server extension (Jupyter auth and XSRF come with
 * `ServerConnection`).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** The API's root below the server's base URL. */
export const API_ROOT = ['jupyter-hpo', 'api'];

/**
 * A failed request. `status` is the HTTP status, or 0 when the server could not be reached;
 * `reason` is the server's `{"reason": ...}` text, or a description of what went wrong.
 */
export class HpoApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string
  ) {
    super(reason);
    this.name = 'HpoApiError';
  }
}

/** A function that performs one API request and resolves to the parsed JSON answer. */
export type RequestFn = <T>(path: string, init?: RequestInit) => Promise<T>;

/**
 * Call the REST API at `<baseUrl>/jupyter-hpo/api/<path>`.
 *
 * @param path - the route below the API root, with its query string (already encoded)
 * @param init - fetch options (method, body)
 * @param settings - server settings; the page's by default
 * @returns the parsed JSON answer
 * @throws HpoApiError on a network error, a non-2xx answer or a body that is not JSON
 */
export async function requestAPI<T>(
  path: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, ...API_ROOT, path);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new HpoApiError(0, `cannot reach the Jupyter server: ${String(error)}`);
  }
  const text = await response.text();
  let data: any = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const reason =
      data && typeof data.reason === 'string' && data.reason
        ? data.reason
        : `${response.status} ${response.statusText}`.trim();
    throw new HpoApiError(response.status, reason);
  }
  if (data === null) {
    throw new HpoApiError(response.status, `the server's answer to ${path} is not JSON`);
  }
  return data as T;
}
