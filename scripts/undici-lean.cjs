"use strict";
// What ocipatch imports from undici, for the CLI bundle only (scripts/bundle-cli.mjs resolves
// "undici" here). undici's own index also loads fetch, WebSocket, EventSource, the cache API,
// cookies and the mocks, which the CLI never uses and every run would parse and evaluate.
// The library build (dist/) and the tests import undici itself.
const Dispatcher = require("undici/lib/dispatcher/dispatcher");
const api = require("undici/lib/api");
const { InvalidArgumentError } = require("undici/lib/core/errors");

// as undici's index does: request(), stream(), ... on every dispatcher
Object.assign(Dispatcher.prototype, api);

/** `request(url, { dispatcher, method, ... })`: ocipatch always names its dispatcher. */
function request(url, opts) {
  if (!opts?.dispatcher) throw new InvalidArgumentError("ocipatch: request() needs a dispatcher");
  const u = url instanceof URL ? url : new URL(String(url));
  const { dispatcher, ...rest } = opts;
  return dispatcher.request({
    ...rest,
    origin: u.origin,
    path: `${u.pathname}${u.search}`,
    method: rest.method || (rest.body ? "PUT" : "GET"),
  });
}

module.exports = {
  Dispatcher,
  Client: require("undici/lib/dispatcher/client"),
  Agent: require("undici/lib/dispatcher/agent"),
  ProxyAgent: require("undici/lib/dispatcher/proxy-agent"),
  buildConnector: require("undici/lib/core/connect"),
  errors: require("undici/lib/core/errors"),
  request,
};
