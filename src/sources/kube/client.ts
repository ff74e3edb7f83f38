import type { KubeApi } from './api.js';
import type { KubeConnection } from './connection.js';
import { HttpKubeApi } from './http-client.js';

/** The API client for a connection (see {@link KubeApi} for why there is one implementation). */
export function createKubeApi(conn: KubeConnection): KubeApi {
  return new HttpKubeApi(conn);
}
