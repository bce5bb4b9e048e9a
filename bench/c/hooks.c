/*
 * Attaches the do-nothing programs of hooks.bpf.c (tracing programs where they are,
 * cgroup programs on the cgroup-v2 root), prints "attached", and holds them until stdin
 * closes or a signal comes. With NAMEs, only the programs whose names begin with one of them.
 *   hooks OBJECT CGROUP2_DIR [NAME...]
 */
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void quit(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	int cg, n = 0;
	char c;

	if (argc < 3) {
		fprintf(stderr, "usage: hooks OBJECT CGROUP2_DIR [NAME...]\n");
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "hooks: cannot load %s\n", argv[1]);
		return 1;
	}
	cg = open(argv[2], O_RDONLY | O_DIRECTORY);
	if (cg < 0) {
		perror(argv[2]);
		return 1;
	}
	bpf_object__for_each_program(prog, obj)
	{
		const char *name = bpf_program__name(prog);
		struct bpf_link *link;
		int i, wanted = argc == 3;

		for (i = 3; i < argc; i++)
			wanted |= !strncmp(name, argv[i], strlen(argv[i]));
		if (!wanted)
			continue;
		if (bpf_program__type(prog) == BPF_PROG_TYPE_TRACING)
			link = bpf_program__attach(prog);
		else
			link = bpf_program__attach_cgroup(prog, cg);
		if (!link) {
			fprintf(stderr, "hooks: cannot attach %s\n", name);
			return 1;
		}
		n++;
	}
	struct sigaction sa = { .sa_handler = quit }; /* no SA_RESTART: read() returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("attached %d\n", n);
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
