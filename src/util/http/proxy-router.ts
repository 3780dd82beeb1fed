import { Dispatcher } from "undici";

/** One `NO_PROXY` entry: a host name (and its subdomains), an IP address, or `*`. */
interface NoProxyRule {
  readonly host: string;
  readonly port: string | undefined;
}

/**
 * `NO_PROXY` as curl reads it: comma- or space-separated entries; `example.com` and
 * `.example.com` both match the domain and its subdomains; `host:port` only that
 * port; `*` every host.
 */
export function parseNoProxy(text: string | undefined): NoProxyRule[] {
  const rules: NoProxyRule[] = [];
  for (const raw of (text ?? "").split(/[,\s]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(entry);
    const host = (m?.[1] ?? entry).replace(/^\*?\./, "");
    rules.push({ host, port: m?.[2] });
  }
  return rules;
}

/** Should a request to `url` bypass the proxy? */
export function bypassesProxy(url: URL, rules: readonly NoProxyRule[]): boolean {
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, "");
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return rules.some(
    (r) =>
      (r.host === "*" || host === r.host || host.endsWith(`.${r.host}`)) &&
      (r.port === undefined || r.port === port),
  );
}

/** Sends each request direct or through the proxy for its scheme. */
export class ProxyRouter extends Dispatcher {
  constructor(
    private readonly direct: Dispatcher,
    private readonly http: Dispatcher,
    private readonly https: Dispatcher,
    private readonly noProxy: readonly NoProxyRule[],
  ) {
    super();
  }

  private route(origin: string | URL | undefined): Dispatcher {
    if (origin === undefined) return this.direct;
    const url = typeof origin === "string" ? new URL(origin) : origin;
    if (bypassesProxy(url, this.noProxy)) return this.direct;
    return url.protocol === "https:" ? this.https : this.http;
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandlers): boolean {
    return this.route(options.origin).dispatch(options, handler);
  }

  override async close(): Promise<void> {
    await Promise.all([...new Set([this.direct, this.http, this.https])].map((d) => d.close()));
  }

  override async destroy(): Promise<void> {
    await Promise.all([...new Set([this.direct, this.http, this.https])].map((d) => d.destroy()));
  }
}
