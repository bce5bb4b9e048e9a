// SPDX-License-Identifier: GPL-2.0
/*
 * What bun:ffi cannot do on its own: libbpf's va_list log callback, errno of calls that
 * return pointers, and draining the ring buffer in batches (one FFI call per batch
 * instead of one JS callback per record). Every kf_ function returns 0 or -errno and
 * hands results back through out-parameters.
 */
#define _GNU_SOURCE /* open_by_handle_at */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

/* ---- log ---------------------------------------------------------------------------- */

#define LOG_CAP (256 * 1024)

static char log_buf[LOG_CAP];
static size_t log_len;
static int log_verbose;

static int log_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char line[4096];
	int n = vsnprintf(line, sizeof(line), fmt, args);

	if (n < 0)
		return 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (log_verbose)
		fputs(line, stderr);
	/* keep the newest text: when full, drop the older half */
	if (log_len + n > LOG_CAP) {
		size_t keep = LOG_CAP / 2 < log_len ? LOG_CAP / 2 : log_len;
		memmove(log_buf, log_buf + log_len - keep, keep);
		log_len = keep;
	}
	if ((size_t)n <= LOG_CAP - log_len) {
		memcpy(log_buf + log_len, line, n);
		log_len += n;
	}
	(void)level;
	return 0;
}

/* Routes libbpf's messages into the capture buffer, and to stderr when verbose. */
int kf_log_init(int verbose)
{
	log_verbose = verbose;
	log_len = 0;
	libbpf_set_print(log_print);
	return 0;
}

/* Forgets what was captured so far (before a new attempt to load). */
int kf_log_clear(void)
{
	log_len = 0;
	return 0;
}

/* Copies the captured log into buf (not NUL-terminated); *len gets the bytes copied. */
int kf_log_read(char *buf, uint32_t cap, uint32_t *len)
{
	size_t n = log_len < cap ? log_len : cap;

	memcpy(buf, log_buf + log_len - n, n);
	*len = n;
	return 0;
}

/* ---- object and links ------------------------------------------------------------- */

int kf_open_mem(const void *data, uint64_t size, struct bpf_object **out)
{
	struct bpf_object *obj = bpf_object__open_mem(data, size, NULL);

	if (!obj)
		return -errno;
	*out = obj;
	return 0;
}

int kf_attach(struct bpf_program *prog, struct bpf_link **out)
{
	struct bpf_link *link = bpf_program__attach(prog);

	if (!link)
		return -errno;
	*out = link;
	return 0;
}

/* Attaches a cgroup program (cgroup_skb, sock, sock_addr, sockops) to the cgroup at cgroup_fd. */
int kf_attach_cgroup(struct bpf_program *prog, int cgroup_fd, struct bpf_link **out)
{
	struct bpf_link *link = bpf_program__attach_cgroup(prog, cgroup_fd);

	if (!link)
		return -errno;
	*out = link;
	return 0;
}

/*
 * Runs an iterator program once to its end: attach, create the iterator, read until
 * EOF (the program writes nothing; its work is in the maps), detach.
 */
int kf_iter_run(struct bpf_program *prog)
{
	char buf[256];
	struct bpf_link *link = bpf_program__attach_iter(prog, NULL);
	int fd, err = 0;
	ssize_t n;

	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
		bpf_link__destroy(link);
		return err;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		err = -errno;
	close(fd);
	bpf_link__destroy(link);
	return err;
}

/* ---- ring buffer ------------------------------------------------------------------- */

/*
 * Records land in the caller's buffer as [u32 size][u32 0][size bytes], each frame
 * padded to 8 bytes so that 64-bit fields stay aligned.
 */
struct kf_ring {
	struct ring_buffer *rb;
	uint8_t *buf;
	uint32_t cap;
	uint32_t used;
	uint32_t max_record;
	uint32_t records;
	uint64_t oversize;
	/*
	 * the ring's consumer and producer pages, mapped read-only a second time: how full it
	 * is (libbpf has ring__avail_data_size only since 1.3)
	 */
	void *pos_pages;
	size_t page;
};

/* Bytes in the ring not consumed yet (records and their headers), or 0 if unknown. */
static uint64_t ring_fill(const struct kf_ring *r)
{
	const unsigned long *cons, *prod;

	if (!r->pos_pages)
		return 0;
	cons = r->pos_pages;
	prod = (const unsigned long *)((const uint8_t *)r->pos_pages + r->page);
	return __atomic_load_n(prod, __ATOMIC_ACQUIRE) - __atomic_load_n(cons, __ATOMIC_ACQUIRE);
}

#define FRAME_HDR 8u
#define FRAME_ALIGN(n) (((n) + 7u) & ~7u)

static int ring_sample(void *ctx, void *data, size_t size)
{
	struct kf_ring *r = ctx;
	uint32_t frame = FRAME_ALIGN(FRAME_HDR + (uint32_t)size);

	/* libbpf has consumed the sample already: it must be copied now or counted */
	if (size > r->max_record || frame > r->cap - r->used) {
		r->oversize++;
	} else {
		uint8_t *p = r->buf + r->used;
		((uint32_t *)p)[0] = (uint32_t)size;
		((uint32_t *)p)[1] = 0;
		memcpy(p + FRAME_HDR, data, size);
		r->used += frame;
		r->records++;
	}
	/* stop while one more record of maximum size still fits */
	if (r->cap - r->used < FRAME_ALIGN(FRAME_HDR + r->max_record))
		return -E2BIG;
	return 0;
}

int kf_ring_open(int map_fd, uint32_t max_record, struct kf_ring **out)
{
	struct kf_ring *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->max_record = max_record;
	r->rb = ring_buffer__new(map_fd, ring_sample, r, NULL);
	if (!r->rb) {
		int err = -errno;
		free(r);
		return err;
	}
	/* the fill level is for metrics only: without the mapping it reads 0 */
	r->page = sysconf(_SC_PAGESIZE);
	r->pos_pages = mmap(NULL, 2 * r->page, PROT_READ, MAP_SHARED, map_fd, 0);
	if (r->pos_pages == MAP_FAILED)
		r->pos_pages = NULL;
	*out = r;
	return 0;
}

/* out[0] = bytes in the ring not consumed yet. */
int kf_ring_fill(struct kf_ring *r, uint64_t *out)
{
	out[0] = ring_fill(r);
	return 0;
}

/*
 * Moves as many records as fit into buf (cap bytes, at least one maximum-size frame).
 * out[0] = bytes used, out[1] = records, out[2] = 1 if it stopped because buf was full,
 * out[3] = records lost so far because they could not be copied, out[4] = bytes in the
 * ring before this drain.
 */
int kf_ring_drain(struct kf_ring *r, uint8_t *buf, uint32_t cap, uint64_t *out)
{
	int err;

	if (cap < FRAME_ALIGN(FRAME_HDR + r->max_record))
		return -EINVAL;
	r->buf = buf;
	r->cap = cap;
	r->used = 0;
	r->records = 0;
	out[4] = ring_fill(r);
	err = ring_buffer__consume(r->rb);
	out[0] = r->used;
	out[1] = r->records;
	out[2] = err == -E2BIG;
	out[3] = r->oversize;
	r->buf = NULL;
	return err < 0 && err != -E2BIG ? err : 0;
}

void kf_ring_close(struct kf_ring *r)
{
	if (!r)
		return;
	ring_buffer__free(r->rb);
	if (r->pos_pages)
		munmap(r->pos_pages, 2 * r->page);
	free(r);
}

/* ---- cgroups ------------------------------------------------------------------------ */

/* file handle type of kernfs (cgroup2) inodes: the 64-bit id, as in <linux/exportfs.h> */
#define KF_FILEID_KERNFS 0xfe

/*
 * The path of the cgroup v2 directory whose id (kernfs inode number) is id, as this
 * process sees it (the mount point included), from its file handle: opened relative to
 * mount_fd (the hierarchy's root directory), named by /proc/self/fd. Writes at most cap
 * bytes to buf (not NUL-terminated); *len gets the length. -ESTALE: no such cgroup
 * (any more); -EPERM: open_by_handle_at needs CAP_DAC_READ_SEARCH.
 */
int kf_cgroup_path(int mount_fd, uint64_t id, char *buf, uint32_t cap, uint32_t *len)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh = { .handle_bytes = sizeof(uint64_t), .handle_type = KF_FILEID_KERNFS } };
	char link[32];
	ssize_t n;
	int fd;

	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(mount_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, cap);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	*len = (uint32_t)n;
	return 0;
}
