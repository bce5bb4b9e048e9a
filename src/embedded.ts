/** The kernel object and the C shim, embedded into the compiled executable. */
import bpfObjectPath from "../build/kflowd.bpf.o" with { type: "file" };
import shimPath from "../build/libkflowd-shim.so" with { type: "file" };

export { bpfObjectPath, shimPath };
