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

/**
 * A client certificate signed by the CA of `makeTestCa(dir)`, in the layout the docker CLI reads
 * from DOCKER_CERT_PATH: `ca.pem`, `cert.pem`, `key.pem` in `outDir`.
 */
export function makeClientCertDir(caDir: string, ca: TestCa, outDir: string): string {
  const key = join(outDir, "key.pem");
  const csr = join(outDir, "client.csr");
  openssl([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    csr,
    "-subj",
    "/CN=ocipatch test client",
  ]);
  const ext = join(outDir, "client.ext");
  writeFileSync(
    ext,
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
  );
  openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    ca.caCert,
    "-CAkey",
    join(caDir, "ca.key"),
    "-CAcreateserial",
    "-out",
    join(outDir, "cert.pem"),
    "-days",
    "2",
    "-extfile",
    ext,
  ]);
  writeFileSync(join(outDir, "ca.pem"), readFileSync(ca.caCert));
  return outDir;
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
