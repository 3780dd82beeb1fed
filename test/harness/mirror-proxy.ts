/**
 * A loopback HTTP front for the real Debian mirror that answers 404 for chosen pool files:
 * the mirror's own signed indices pass through unchanged (so ocipatch verifies them as usual),
 * and only the named .debs are "gone". Used to exercise what happens when a planned .deb
 * vanishes from the mirror — a real condition that cannot be produced on demand otherwise.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";

interface MirrorProxy {
  /** http://127.0.0.1:PORT — prefix for /debian and /debian-security */
  readonly url: string;
  /** Paths that were answered 404. */
  readonly refused: string[];
  close(): Promise<void>;
}

export async function startMirrorProxy(
  upstream: string,
  refuse: (path: string) => boolean,
): Promise<MirrorProxy> {
  const refused: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = req.url ?? "/";
    if (refuse(path)) {
      refused.push(path);
      res.writeHead(404).end("not found\n");
      return;
    }
    fetch(`${upstream}${path}`, { method: req.method ?? "GET" })
      .then((up) => {
        const headers: Record<string, string> = {};
        for (const h of ["content-type", "content-length", "last-modified", "etag"]) {
          const v = up.headers.get(h);
          if (v !== null) headers[h] = v;
        }
        res.writeHead(up.status, headers);
        if (!up.body) return void res.end();
        Readable.fromWeb(up.body as never).pipe(res);
      })
      .catch(() => res.writeHead(502).end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    refused,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
