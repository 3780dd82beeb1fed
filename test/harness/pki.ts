/** Test keys and certificates made with openssl: a CA with a server certificate, and a token signer. */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TestCa {
  /** CA certificate (PEM file) */
  readonly caCert: string;
  /** server certificate for 127.0.0.1/localhost signed by the CA (PEM file) */
  readonly serverCert: string;
  readonly serverKey: string;
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: "ignore" });
}

export function makeTestCa(dir: string): TestCa {
  const caKey = join(dir, "ca.key");
  const caCert = join(dir, "ca.pem");
  openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    caKey,
    "-out",
    caCert,
    "-days",
    "2",
    "-subj",
    "/CN=ocipatch test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  const serverKey = join(dir, "server.key");
  const csr = join(dir, "server.csr");
  openssl([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    serverKey,
    "-out",
    csr,
    "-subj",
    "/CN=127.0.0.1",
  ]);
  const ext = join(dir, "server.ext");
  writeFileSync(
    ext,
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
  );
  const serverCert = join(dir, "server.pem");
  openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    caCert,
    "-CAkey",
    caKey,
    "-CAcreateserial",
    "-out",
    serverCert,
    "-days",
    "2",
    "-extfile",
    ext,
  ]);
  return { caCert, serverCert, serverKey };
}

export interface SigningKey {
  /** self-signed certificate (PEM file) for the registry's rootcertbundle */
  readonly certFile: string;
  readonly privateKeyPem: string;
  /** the certificate as base64 DER, for a JWT x5c header */
  readonly certDerBase64: string;
}

export function makeSigningKey(dir: string): SigningKey {
  const keyFile = join(dir, "token.key");
  const certFile = join(dir, "token.pem");
  openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    "/CN=ocipatch test token issuer",
  ]);
  const pem = readFileSync(certFile, "utf8");
  const certDerBase64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
  return { certFile, privateKeyPem: readFileSync(keyFile, "utf8"), certDerBase64 };
}
