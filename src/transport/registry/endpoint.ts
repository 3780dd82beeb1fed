import { isIP } from "node:net";
import { registryEndpointHost } from "../../reference/reference.js";

/** The host part of `host[:port]` / `[v6]:port`, without brackets. */
function hostnameOf(hostPort: string): string {
  if (hostPort.startsWith("[")) {
    const end = hostPort.indexOf("]");
    return end === -1 ? hostPort : hostPort.slice(1, end);
  }
  const colon = hostPort.lastIndexOf(":");
  return colon === -1 ? hostPort : hostPort.slice(0, colon);
}

export function hasExplicitPort(hostPort: string): boolean {
  return /:\d+$/.test(hostPort) && !(hostPort.startsWith("[") && hostPort.endsWith("]"));
}

/** Loopback hosts (127.0.0.0/8, ::1, localhost) may be reached over plain HTTP. */
export function isLoopbackHost(hostPort: string): boolean {
  const h = hostnameOf(hostPort).toLowerCase();
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || h === "0:0:0:0:0:0:0:1";
  return false;
}

/** The host:port requests go to (Docker Hub's API is on registry-1.docker.io). */
export function endpointHost(registry: string): string {
  return registryEndpointHost(registry);
}
