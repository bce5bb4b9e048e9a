import pkg from "../package.json" with { type: "json" };

/** "v0.1.0": the package version, as kflowd writes its own. */
export const VERSION = `v${pkg.version}`;
