/** Locations shared by the tests. */
import { archDir, hostBpfArch } from "../../bpf/build.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;
export const AGENT = `${ROOT}dist/kflowd`;
export const BPF_OBJECT = `${archDir(hostBpfArch())}/kflowd.bpf.o`;
export const SHIM = `${archDir(hostBpfArch())}/libkflowd-shim.so`;
export const BUN = process.execPath;
