import { describe, expect, it } from "vitest";
import { proxySettings } from "../dispatcher.js";
import { bypassesProxy, parseNoProxy } from "../proxy-router.js";

describe("proxy settings from the environment", () => {
  it("reads the lowercase names first, as curl does, and none when nothing is set", () => {
    expect(proxySettings({})).toBeUndefined();
    expect(proxySettings({ NO_PROXY: "example.com" })).toBeUndefined();
    expect(
      proxySettings({ http_proxy: "http://a:1", HTTP_PROXY: "http://b:2", HTTPS_PROXY: "http://c:3" }),
    ).toEqual({
      httpProxy: "http://a:1",
      httpsProxy: "http://c:3",
      noProxy: undefined,
    });
    expect(proxySettings({ HTTPS_PROXY: " ", HTTP_PROXY: "http://p:8" })?.httpsProxy).toBeUndefined();
  });
});

describe("NO_PROXY", () => {
  const rules = parseNoProxy("localhost, .internal.example,10.0.0.5 registry.local:5000,[::1]");
  const bypass = (url: string) => bypassesProxy(new URL(url), rules);

  it("matches a domain and its subdomains, with or without a leading dot", () => {
    expect(bypass("http://localhost:8080/x")).toBe(true);
    expect(bypass("https://internal.example/v2/")).toBe(true);
    expect(bypass("https://mirror.internal.example/debian")).toBe(true);
    expect(bypass("https://notinternal.example/")).toBe(false);
    expect(bypass("https://example/")).toBe(false);
  });

  it("matches IP addresses exactly and ports only when given", () => {
    expect(bypass("http://10.0.0.5/")).toBe(true);
    expect(bypass("http://10.0.0.50/")).toBe(false);
    expect(bypass("http://registry.local:5000/v2/")).toBe(true);
    expect(bypass("http://registry.local:5001/v2/")).toBe(false);
    expect(bypass("http://[::1]:5000/")).toBe(true);
  });

  it("`*` bypasses every host; empty bypasses none", () => {
    expect(bypassesProxy(new URL("https://deb.debian.org/"), parseNoProxy("*"))).toBe(true);
    expect(bypassesProxy(new URL("https://deb.debian.org/"), parseNoProxy(""))).toBe(false);
    expect(bypassesProxy(new URL("https://deb.debian.org/"), parseNoProxy(undefined))).toBe(false);
  });
});
