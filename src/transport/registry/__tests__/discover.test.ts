/**
 * How the client finds a loopback registry's scheme: plain HTTP is asked first on an explicit
 * port (no TLS set-up for the common local registry), and a port that answers like a TLS server
 * still gets its HTTPS attempt. Raw TCP servers on 127.0.0.1 record what arrives: a TLS
 * ClientHello starts with the record type 0x16, an HTTP request with its method.
 */
import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { RegistryClient } from "../client.js";

const TLS_HANDSHAKE = 0x16;

interface RawServer {
  readonly host: string;
  readonly firstBytes: number[];
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A server that answers every plain-HTTP request with `reply`, and hangs up on TLS. */
async function rawServer(reply: string): Promise<RawServer> {
  const firstBytes: number[] = [];
  const server = createServer((socket) => {
    socket.on("error", () => undefined);
    socket.once("data", (b: Buffer) => {
      firstBytes.push(b[0] ?? -1);
      if (b[0] === TLS_HANDSHAKE) socket.destroy();
      else socket.end(reply);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return { host: `127.0.0.1:${port}`, firstBytes };
}

const client = (host: string) => new RegistryClient(host, { env: {}, retries: 0, timeoutMs: 5000 });

describe("registry scheme discovery on loopback", () => {
  it("a plain-HTTP registry on an explicit port is reached without a TLS handshake", async () => {
    const srv = await rawServer(
      "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
    );
    expect(await client(srv.host).origin()).toBe(`http://${srv.host}`);
    expect(srv.firstBytes).toHaveLength(1);
    expect(srv.firstBytes).not.toContain(TLS_HANDSHAKE);
  });

  it("a 401 to the plain probe is a registry too, and its challenge is kept", async () => {
    const srv = await rawServer(
      'HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Basic realm="r"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n',
    );
    expect(await client(srv.host).origin()).toBe(`http://${srv.host}`);
    expect(srv.firstBytes).not.toContain(TLS_HANDSHAKE);
  });

  it("a port that answers plain HTTP like a TLS server (400) still gets the HTTPS attempt", async () => {
    // what Go's TLS server writes to a plain-HTTP client
    const srv = await rawServer(
      "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
    );
    await expect(client(srv.host).origin()).rejects.toThrow(srv.host);
    expect(srv.firstBytes[0]).not.toBe(TLS_HANDSHAKE);
    expect(srv.firstBytes).toContain(TLS_HANDSHAKE);
  });

  it("a refused connection fails at once, naming the registry", async () => {
    const srv = await rawServer("");
    const host = srv.host;
    await new Promise((r) => servers.pop()?.close(r));
    await expect(client(host).origin()).rejects.toThrow(
      `cannot connect to registry ${host}: connection refused`,
    );
  });
});
