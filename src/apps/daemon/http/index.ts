/** The daemon's web UI server (docs/protocol/http.md): the page and its `/api/v1/` API. */
export { startHttpServer, isLoopbackHost, allowedHosts, API_PREFIX, COOKIE_NAME, DEFAULT_HTTP, MAX_JSON_BYTES, type HttpServer, type HttpServerOptions } from './server.js'
export { ensureUiSecret, UI_SECRET_KEY } from './secret.js'
export { nodeEvents } from './node-events.js'
export type { HttpTarget, RouteContext } from './routes.js'
