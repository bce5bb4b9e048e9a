/** Kernel socket constants the records carry as numbers (include/linux/socket.h, in.h). */
export const AF_UNIX = 1;
export const AF_INET = 2;
export const IPPROTO_TCP = 6;
