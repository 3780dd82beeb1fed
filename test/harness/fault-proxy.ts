/**
 * A fault-injecting HTTP proxy in front of a real registry: it forwards requests
 * unchanged (Host header included, so the registry's upload locations point back
 * at the proxy) unless a rule says to fail them.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export type FaultAction =
  | { readonly kind: "pass" }
  /** Answer with this status (after reading the request body). */
  | {
      readonly kind: "status";
      readonly status: number;
      readonly headers?: Record<string, string>;
      readonly body?: string;
    }
  /** Destroy the connection before answering. */
  | { readonly kind: "reset" }
  /** Forward, but break the connection after `after` bytes of the response body. */
  | { readonly kind: "cut"; readonly after: number }
  /** Never answer. */
  | { readonly kind: "hang" }
  /** Forward (so the registry acts on it), then never answer. */
  | { readonly kind: "forward-then-hang" }
  /** Forward (so the registry acts on it); pass its answer on no earlier than `at` (ms since the epoch). */
  | { readonly kind: "answer-late"; readonly at: number };

export interface ProxiedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly time: number;
  readonly action: FaultAction["kind"];
}

export interface FaultProxy {
  /** host:port of the proxy */
  readonly host: string;
  readonly requests: ProxiedRequest[];
  close(): Promise<void>;
}

export const PASS: FaultAction = { kind: "pass" };

export async function startFaultProxy(
  upstream: string,
  decide: (req: IncomingMessage, seen: readonly ProxiedRequest[]) => FaultAction,
  /** A fixed port (to bring a proxy that was closed back at the same address); 0: any free one. */
  port = 0,
): Promise<FaultProxy> {
  const [upHost, upPort] = upstream.split(":") as [string, string];
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const action = decide(req, requests);
    requests.push({
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      time: Date.now(),
      action: action.kind,
    });
    switch (action.kind) {
      case "hang":
        req.resume();
        return;
      case "reset":
        req.socket.destroy();
        return;
      case "status":
        req.resume();
        req.on("end", () => {
          res.writeHead(action.status, { "content-type": "application/json", ...action.headers });
          res.end(action.body ?? "");
        });
        return;
      case "forward-then-hang": {
        const up = request({
          host: upHost,
          port: Number(upPort),
          method: req.method,
          path: req.url,
          headers: req.headers,
        });
        up.on("response", (upRes) => upRes.resume());
        up.on("error", () => res.socket?.destroy());
        req.pipe(up);
        return;
      }
      case "pass":
      case "cut":
      case "answer-late": {
        const up = request(
          { host: upHost, port: Number(upPort), method: req.method, path: req.url, headers: req.headers },
          async (upRes) => {
            if (action.kind === "answer-late") {
              upRes.pause();
              await new Promise((r) => setTimeout(r, Math.max(0, action.at - Date.now())));
            }
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            if (action.kind !== "cut") {
              upRes.pipe(res);
              return;
            }
            let sent = 0;
            upRes.on("data", (chunk: Buffer) => {
              if (sent >= action.after) return;
              const part = chunk.subarray(0, action.after - sent);
              sent += part.length;
              res.write(part, () => {
                if (sent >= action.after) res.socket?.destroy();
              });
            });
            upRes.on("end", () => {
              if (sent < action.after) res.end();
            });
          },
        );
        up.on("error", () => res.socket?.destroy());
        req.pipe(up);
        return;
      }
    }
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const addr = server.address();
  const bound = typeof addr === "object" && addr ? addr.port : 0;
  return {
    host: `127.0.0.1:${bound}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Does a request target a manifest / blob / upload of the registry API? */
export function isManifest(req: IncomingMessage): boolean {
  return /\/manifests\//.test(req.url ?? "");
}

export function isBlobGet(req: IncomingMessage): boolean {
  return req.method === "GET" && /\/blobs\/sha256:/.test(req.url ?? "");
}
