/**
 * The floor for the agent's memory: a program that does nothing, compiled with
 * `bun build --compile` like the agent, so that its RSS is what Bun itself costs.
 */
setInterval(() => {}, 1000);
process.on("SIGTERM", () => process.exit(0));
process.stderr.write("idle ready\n");
