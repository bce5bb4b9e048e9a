/** Locations shared by the tests. */
export const ROOT = new URL("../../", import.meta.url).pathname;
export const AGENT = `${ROOT}dist/kflowd`;
export const BPF_OBJECT = `${ROOT}build/kflowd.bpf.o`;
export const SHIM = `${ROOT}build/libkflowd-shim.so`;
export const BUN = process.execPath;
