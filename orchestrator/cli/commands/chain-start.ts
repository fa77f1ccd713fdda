/**
 * `tvmx chain start`: a local Hardhat node (EDR) on 127.0.0.1, in the foreground until SIGINT/SIGTERM.
 * Its pre-funded development accounts are the node's usual ones; `tvmx deploy` uses the first.
 */
import { startLocalNode } from "../../chain/index.js";
import type { CliIo } from "../io.js";
import { printJsonLine } from "./output.js";

export interface ChainStartOptions {
  port: number;
  chainId: number;
  json?: boolean;
}

export async function run(options: ChainStartOptions, io: CliIo): Promise<number> {
  let stopRequested: (s: NodeJS.Signals) => void = () => undefined;
  const stopped = new Promise<NodeJS.Signals>((resolve) => (stopRequested = resolve));
  const onSignal = (s: NodeJS.Signals) => stopRequested(s);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const node = await startLocalNode({ port: options.port, chainId: options.chainId });
    if (options.json) printJsonLine(io, { event: "started", url: node.url, port: node.port, chainId: node.chainId, pid: node.pid });
    else io.out(`local chain ${node.chainId} answering on ${node.url} (node pid ${node.pid}); Ctrl-C stops it`);
    const ended = await Promise.race([stopped.then((signal) => ({ signal })), node.exited.then((exit) => ({ exit }))]);
    if ("exit" in ended) {
      io.err(`error [CHAIN_RPC_UNAVAILABLE]: the node exited on its own (code ${ended.exit.code}, signal ${ended.exit.signal})`);
      return 1;
    }
    await node.stop();
    if (!options.json) io.out("local chain stopped");
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
