/* SPDX-License-Identifier: GPL-2.0 */
/*
 * File aggregation: one struct rec_file per (tgid, dev, ino) in map "files", updated by
 * every event and handed to the ring buffer when the process lets go of the file.
 */
#ifndef KFLOWD_FS_BPF_H
#define KFLOWD_FS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "records.h"
#include "maps.bpf.h"
#include "scratch.bpf.h"
#include "config.bpf.h"
#include "core_fixes.bpf.h"
#include "path.bpf.h"
#include "task.bpf.h"

#define S_IFMT 00170000
#define S_IFREG 0100000
#define S_IFLNK 0120000
#define S_IFDIR 0040000
#define FMODE_WRITE 0x2
/* set by the open path when this open created the file (include/linux/fs.h) */
#define FMODE_CREATED 0x100000

/* Offset of the path in the tail, after the two exe names (at most 2 * REC_NAME_MAX). */
#define TAIL_NAMES(r) (((__u32)(r)->task.exe_len + (r)->task.parent_exe_len) & 511)

/*
 * The struct file behind fd in the current task, or NULL. On every descriptor syscall:
 * task -> files -> fdt are plain loads where the kernel has BTF tasks (see
 * have_task_btf()); fd[] is an array of pointers, which BTF loads give as a number, so
 * its slot takes one read.
 */
static __always_inline struct file *fd_file(long fd)
{
	struct file *f = NULL;
	struct file **fds;
	__u32 max_fds;

	if (fd < 0)
		return NULL;
	if (have_task_btf()) {
		struct fdtable *fdt = bpf_get_current_task_btf()->files->fdt;

		fds = fdt->fd;
		max_fds = fdt->max_fds;
	} else {
		struct task_struct *task = (void *)bpf_get_current_task();
		struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);

		fds = BPF_CORE_READ(fdt, fd);
		max_fds = BPF_CORE_READ(fdt, max_fds);
	}
	if (fd >= max_fds)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* An inode's state as of the copy sp (inode_span_read). */
static __always_inline void inode_state(struct rec_inode *st, const struct inode_span *sp)
{
	st->mode = span_mode(sp);
	st->nlink = SPAN_AT(sp, __u32, bpf_core_field_offset(struct inode, i_nlink));
	st->uid = SPAN_AT(sp, __u32, bpf_core_field_offset(struct inode, i_uid.val));
	st->gid = SPAN_AT(sp, __u32, bpf_core_field_offset(struct inode, i_gid.val));
	st->size = SPAN_AT(sp, __s64, bpf_core_field_offset(struct inode, i_size));
	st->atime_ns = span_atime_ns(sp);
	st->mtime_ns = span_mtime_ns(sp);
	st->ctime_ns = span_ctime_ns(sp);
}

/*
 * Per-CPU room for the copy of an inode's first bytes: on the stack it would not fit the
 * 512 bytes 5.10 and 6.1 allow the descriptor path (fd_event -> file_create -> path_walk).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REC_SCRATCH_SLOTS);
	__type(key, __u32);
	__type(value, struct inode_span);
} inode_scratch SEC(".maps");

/*
 * Copies the first bytes of inode to this CPU's inode_scratch; NULL without one or when
 * they could not be read (a record of zeros would name inode 0 of no device).
 */
static __always_inline struct inode_span *inode_span_get(struct inode *inode)
{
	struct inode_span *sp = SCRATCH(inode_scratch);

	if (sp && !inode_span_read(sp, inode))
		return NULL;
	return sp;
}

/* Refreshes the inode's current state in the record. */
static __always_inline void file_refresh(struct rec_file *r, struct inode *inode)
{
	struct inode_span *sp = inode_span_get(inode);

	if (sp)
		inode_state(&r->inode, sp);
}

/*
 * The same after an unlink, which may have ended the inode: evicted (its size cut to 0)
 * and freed after an RCU grace period, so perhaps already reused by another inode. Its
 * state is taken only while it still has links and is still the file's, (dev, ino);
 * otherwise the file is gone, as it was before the unlink but with no links left.
 */
static __always_inline void file_refresh_unlinked(struct rec_file *r, struct inode *inode)
{
	struct inode_span *sp = inode_span_get(inode);
	struct rec_inode st;

	if (sp) {
		inode_state(&st, sp);
		if (st.nlink && span_ino(sp) == r->ino && BPF_CORE_READ(span_sb(sp), s_dev) == r->dev) {
			r->inode = st;
			return;
		}
	}
	r->inode.nlink = 0;
}

/* Bytes of the record up to the end of its tail. */
static __always_inline __u32 file_size(struct rec_file *r)
{
	__u32 size = offsetof(struct rec_file, tail) + r->task.exe_len + r->task.parent_exe_len + r->path_len +
		     r->origin_len;

	return size > sizeof(*r) ? sizeof(*r) : size;
}

/* Hands the record to the ring buffer; false when the ring is full. */
static __always_inline bool file_output(struct rec_file *r)
{
	__u32 size = file_size(r);

	r->hdr.size = size;
	if (bpf_ringbuf_output(&ring, r, size, BPF_RB_NO_WAKEUP))
		return false;
	stat_inc(STAT_FILE_RECORDS);
	return true;
}

/*
 * Ends the aggregation of key, whose map value is r: exported, or, with the ring buffer
 * full, left in the map marked unsent; it keeps aggregating (exact totals in a coarser
 * record) until the agent's next scan exports it.
 */
static __always_inline void file_export(struct rec_file *r, struct file_key *key)
{
	if (file_output(r)) {
		bpf_map_delete_elem(&files, key);
	} else {
		r->flags |= FILE_FLAG_UNSENT;
		stat_inc(STAT_DEFERRED);
	}
}

/*
 * The key bit of a record parked by file_end(): no process ID has it (PID_MAX_LIMIT is
 * 2^22), so a parked record is never looked up by an event, only found by the agent's scans.
 */
#define FILE_KEY_PARKED 0x80000000u

/*
 * Ends the aggregation of key, whose map value is r, because a new file takes its key (a
 * freed inode number reused): exported, or, with the ring buffer full, moved under a key
 * of its own, still marked unsent, for the agent's next scan. It must not count on: the
 * new file's events would be printed under the old file's name. With the map full too,
 * the old record is dropped, counted.
 */
static __always_inline void file_end(struct rec_file *r, struct file_key *key)
{
	struct file_key parked = *key;

	if (!file_output(r)) {
		r->flags |= FILE_FLAG_UNSENT;
		stat_inc(STAT_DEFERRED);
		parked.pid = FILE_KEY_PARKED | bpf_get_prandom_u32();
		if (bpf_map_update_elem(&files, &parked, r, BPF_NOEXIST))
			stat_inc(STAT_FILE_MAP_FULL);
	}
	bpf_map_delete_elem(&files, key);
}

/*
 * Starts a record in the per-CPU scratch: header, identity of the current task and its
 * exe names at the start of the tail. The caller adds the path and the inode state.
 */
static __always_inline struct rec_file *file_begin(struct file_key *key, __u64 now)
{
	struct rec_file *r = SCRATCH(file_scratch);

	if (!r)
		return NULL;
	__builtin_memset(r, 0, offsetof(struct rec_file, tail));
	r->hdr.type = REC_TYPE_FILE;
	r->hdr.version = REC_VERSION;
	r->hdr.ts_ns = now;
	r->ts_first_ns = now;
	r->ino = key->ino;
	r->dev = key->dev;
	task_identity(&r->task, r->tail);
	return r;
}

/* Copies the path now in ps into r's tail, after the exe names. */
static __always_inline void file_set_path(struct rec_file *r, struct path_scratch *ps)
{
	__u32 start;
	__u32 len = path_span(ps, &start);

	if (ps->truncated) {
		r->flags |= FILE_FLAG_PATH_TRUNCATED;
		stat_inc(STAT_PATH_TRUNCATED);
	}
	/* names <= 2 * REC_NAME_MAX and len <= REC_PATH_MAX: both masks keep the values */
	bpf_probe_read_kernel(r->tail + TAIL_NAMES(r), len & REC_PATH_MAX, ps->buf + (start & PATH_MASK));
	r->path_len = len;
}

/* Inserts the record built in scratch as the aggregation of key; returns the map's copy. */
static __always_inline struct rec_file *file_insert(struct file_key *key, struct rec_file *r)
{
	r->size_first = r->inode.size;
	r->mtime_first_ns = r->inode.mtime_ns;
	if (bpf_map_update_elem(&files, key, r, BPF_NOEXIST) && bpf_map_update_elem(&files, key, r, BPF_NOEXIST)) {
		/* the second try covers a racing insert of the same key on another CPU */
		struct rec_file *raced = bpf_map_lookup_elem(&files, key);

		if (!raced)
			stat_inc(STAT_FILE_MAP_FULL);
		return raced;
	}
	return bpf_map_lookup_elem(&files, key);
}

/* Creates the aggregation for the open file f, whose inode's state is in sp. */
static __noinline struct rec_file *file_create(struct file_key *key, struct file *f, const struct inode_span *sp,
					       __u64 now)
{
	struct path_scratch *ps = SCRATCH(path_scratch);
	struct rec_file *r = file_begin(key, now);

	if (!r || !ps)
		return NULL;
	path_walk((__u64)BPF_CORE_READ(f, f_path.dentry), (__u64)BPF_CORE_READ(f, f_path.mnt));
	file_set_path(r, ps);
	inode_state(&r->inode, sp);
	return file_insert(key, r);
}

/*
 * The type of the open file f (the S_IFMT bits of its inode's mode; 0 without an inode),
 * its inode in *inodep. Read once per descriptor, then passed on.
 */
static __always_inline __u32 file_type(struct file *f, struct inode **inodep)
{
	struct inode *inode = BPF_CORE_READ(f, f_inode);

	*inodep = inode;
	return inode ? BPF_CORE_READ(inode, i_mode) & S_IFMT : 0;
}

/*
 * The aggregation of (current tgid, inode), a regular file's, or NULL; its key in key.
 * sp is the copy of the inode's first bytes (inode_span_read).
 */
static __always_inline struct rec_file *file_lookup(const struct inode_span *sp, struct file_key *key)
{
	key->pid = bpf_get_current_pid_tgid() >> 32;
	key->dev = BPF_CORE_READ(span_sb(sp), s_dev);
	key->ino = span_ino(sp);
	return bpf_map_lookup_elem(&files, key);
}

/* -e N: the aggregation has seen its N events and is exported as it stands. */
static __always_inline bool file_full(struct rec_file *r)
{
	return cfg.events_max && r->events >= cfg.events_max;
}

/* The time of the record's last event; the first too after a split (file_split). */
static __always_inline void file_touch(struct rec_file *r, __u64 now)
{
	r->hdr.ts_ns = now;
	if (!r->ts_first_ns)
		r->ts_first_ns = now;
}

static __always_inline void file_count(struct rec_file *r, __u32 ev)
{
	if (ev < REC_FS_EVENT_SLOTS) {
		r->event_counts[ev]++;
		r->events++;
	}
}

/*
 * -e N reached: the record goes out as it stands and counting starts again in place,
 * with the same file, process and state, so that the next record's changes are measured
 * from here (and its path is not walked again). Also between two events of one operation
 * (an open that creates, a rename). With the ring buffer full the record keeps counting
 * (exact counts in a coarser record) and goes out at its next event or its end.
 */
static __always_inline void file_split(struct rec_file *r)
{
	if (!file_full(r) || !file_output(r))
		return;
	__builtin_memset(r->event_counts, 0, sizeof(r->event_counts));
	r->events = 0;
	r->ts_first_ns = 0;
	r->size_first = r->inode.size;
	r->mtime_first_ns = r->inode.mtime_ns;
}

/* One event (FS_OPEN, FS_ACCESS, FS_MODIFY, ...) on the open regular file f (inode). */
static __always_inline void file_event_inode(struct file *f, struct inode *inode, __u32 ev)
{
	struct file_key key = {};
	struct inode_span *sp;
	struct rec_file *r;
	__u64 now;
	__u32 fmode;

	/* the inode's state is read once, here, for the key and the record */
	sp = inode_span_get(inode);
	if (!sp)
		return;
	r = file_lookup(sp, &key);
	now = bpf_ktime_get_ns();
	fmode = BPF_CORE_READ(f, f_mode);
	/*
	 * A file just created cannot have a record yet: one found is of an earlier file whose
	 * inode number was freed and reused while the process still held it (a mapping kept
	 * it open past close, or the ring buffer was full when it ended). That record ends
	 * here, under its own name.
	 */
	if (r && ev == FS_OPEN && (fmode & FMODE_CREATED)) {
		file_end(r, &key);
		r = NULL;
	}
	if (!r) {
		r = file_create(&key, f, sp, now);
		if (!r)
			return;
	}
	if (ev == FS_OPEN && (fmode & FMODE_CREATED)) {
		file_count(r, FS_CREATE);
		inode_state(&r->inode, sp);
		file_touch(r, now);
		file_split(r);
	}
	file_count(r, ev);
	r->flags |= FILE_FLAG_OPENED;
	if (fmode & FMODE_WRITE)
		r->flags |= FILE_FLAG_WRITABLE;
	inode_state(&r->inode, sp);
	file_touch(r, now);
	file_split(r);
}

/* One event on the open file f, if it is a regular file. */
static __always_inline void file_event(struct file *f, __u32 ev)
{
	struct inode *inode;

	if (file_type(f, &inode) == S_IFREG)
		file_event_inode(f, inode, ev);
}

/*
 * fd, the regular file f (inode), is about to be closed (close, or replaced by
 * dup2/dup3). If that drops the last reference to the struct file, the file is
 * released: count the close and export. A file with no aggregation (opened before the
 * agent started, or exported by -e or a timeout) gets one holding just the close.
 */
static __always_inline void file_release(struct file *f, struct inode *inode)
{
	struct file_key key = {};
	struct inode_span *sp;
	struct rec_file *r;
	__u64 now;

	if (file_ref_count(f) != 1)
		return;
	sp = inode_span_get(inode);
	if (!sp)
		return;
	r = file_lookup(sp, &key);
	now = bpf_ktime_get_ns();
	if (!r) {
		r = file_create(&key, f, sp, now);
		if (!r)
			return;
	}
	file_count(r, (BPF_CORE_READ(f, f_mode) & FMODE_WRITE) ? FS_CLOSE_WRITE : FS_CLOSE_NOWRITE);
	inode_state(&r->inode, sp);
	file_touch(r, now);
	file_export(r, &key);
}

#endif /* KFLOWD_FS_BPF_H */
