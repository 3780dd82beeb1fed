import type { Command } from "commander";
import type { CliContext } from "../context.js";

/** Every subcommand registers itself here. */
export function registerCommands(_program: Command, _ctx: CliContext): void {}
