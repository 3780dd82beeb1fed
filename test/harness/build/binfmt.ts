/** Foreign-architecture builds: make sure the kernel runs arm64 (etc.) binaries via qemu-user-static. */
import { existsSync, readFileSync } from "node:fs";
import { HarnessError, output, run } from "../exec.js";

const QEMU_NAME: Record<string, string> = {
  arm64: "aarch64",
  armhf: "arm",
  armel: "arm",
  ppc64el: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
  i386: "i386",
};

export async function hostArch(): Promise<string> {
  return output("dpkg", ["--print-architecture"]);
}

/** Mounts binfmt_misc if needed and enables the qemu-user-static handler for a Debian arch. */
export async function ensureBinfmt(debArch: string): Promise<void> {
  if (debArch === (await hostArch())) return;
  const qemu = QEMU_NAME[debArch];
  if (!qemu) throw new HarnessError(`no qemu-user-static handler known for architecture ${debArch}`);
  const dir = "/proc/sys/fs/binfmt_misc";
  if (!existsSync(`${dir}/status`)) {
    await run("mount", ["-t", "binfmt_misc", "binfmt_misc", dir]).catch((e: Error) => {
      throw new HarnessError(`cannot mount binfmt_misc (needed to build ${debArch} images): ${e.message}`);
    });
  }
  const handler = `${dir}/qemu-${qemu}`;
  if (!existsSync(handler) || !readFileSync(handler, "utf8").startsWith("enabled")) {
    await run("update-binfmts", ["--enable", `qemu-${qemu}`]);
  }
  if (!existsSync(handler) || !readFileSync(handler, "utf8").startsWith("enabled")) {
    throw new HarnessError(
      `qemu-${qemu} binfmt handler is not enabled (install qemu-user-static and binfmt-support)`,
    );
  }
}
