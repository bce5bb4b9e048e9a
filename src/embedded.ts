/** The kernel object and the C shim, embedded into the compiled executable. */
import bpfObjectPath from "../build/target/kflowd.bpf.o" with { type: "file" };
import shimPath from "../build/target/libkflowd-shim.so" with { type: "file" };

export { bpfObjectPath, shimPath };
