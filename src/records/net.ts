/** The kernel's socket numbers the records carry (bpf/records.h, enum rec_kernel_values). */
import { RecKernelValues } from "./layout.gen.ts";

export const AF_UNIX = RecKernelValues.REC_AF_UNIX;
export const AF_INET = RecKernelValues.REC_AF_INET;
export const IPPROTO_TCP = RecKernelValues.REC_IPPROTO_TCP;
export const IPPROTO_UDP = RecKernelValues.REC_IPPROTO_UDP;
