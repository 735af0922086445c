/*
 * failalloc.c - an LD_PRELOAD allocator for the fault-injection test:
 * while the file FAILALLOC_FLAG exists, about one call in FAILALLOC_EVERY
 * to malloc, calloc or realloc fails with ENOMEM.  glibc's own strdup,
 * asprintf, fopen and the like allocate through these, so they fail too.
 *
 * Spared, because they do not survive a failure and are not superd's to
 * fix: calls from inside libconfig (its parser does not check its
 * allocations) and from the dynamic loader.  "Inside" means a frame of
 * either anywhere on the stack, since libconfig also allocates through
 * strdup and fopen.
 */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* glibc's allocator under its other names: no dlsym, so no recursion. */
void *__libc_malloc(size_t);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);

#define FRAMES 64
#define RECHECK 0.01 /* seconds between two looks at the flag file */

static const char *flag;
static unsigned long every;
static unsigned long long rnd;
static unsigned long nfailed, nspared;
static double checked = -1;
static int flag_there;
/*
 * Set while the shim itself runs (backtrace loads libgcc_s and may
 * allocate): those calls pass straight through.  Not thread-local, as
 * the loader may allocate before TLS is set up; superd allocates from
 * one thread, and a getaddrinfo_a thread passing through is harmless.
 */
static int busy;

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* An access() per allocation would slow superd down tenfold. */
static int
flagged(void)
{
	double now = mono();

	if (now - checked >= RECHECK) {
		checked = now;
		flag_there = access(flag, F_OK) == 0;
	}
	return flag_there;
}

/* xorshift64: a failure at random, not at every Nth call of a pattern. */
static unsigned long long
next_random(void)
{
	rnd ^= rnd << 13;
	rnd ^= rnd >> 7;
	rnd ^= rnd << 17;
	return rnd;
}

static int
spared_file(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strncmp(base, "libconfig.", 10) == 0 ||
	       strncmp(base, "ld-linux", 8) == 0;
}

static int
spared_caller(void)
{
	void *frames[FRAMES];
	Dl_info info;
	int i, n;

	n = backtrace(frames, FRAMES);
	for (i = 1; i < n; i++)
		if (dladdr(frames[i], &info) && info.dli_fname &&
		    spared_file(info.dli_fname))
			return 1;
	return 0;
}

static int
should_fail(void)
{
	int spare;

	if (busy || flag == NULL || !flagged() || next_random() % every != 0)
		return 0;
	busy = 1;
	spare = spared_caller();
	busy = 0;
	if (spare) {
		nspared++;
		return 0;
	}
	nfailed++;
	errno = ENOMEM;
	return 1;
}

void *
malloc(size_t n)
{
	return should_fail() ? NULL : __libc_malloc(n);
}

void *
calloc(size_t n, size_t size)
{
	return should_fail() ? NULL : __libc_calloc(n, size);
}

void *
realloc(void *p, size_t n)
{
	/* realloc(p, 0) frees: that cannot fail */
	if (p != NULL && n == 0)
		return __libc_realloc(p, n);
	return should_fail() ? NULL : __libc_realloc(p, n);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One write(2), from a buffer of our own: no allocation. */
static void
say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 1)
		n = sizeof(line) - 1;
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

/*
 * Only superd runs under the shim: the programs it starts (an exec
 * service's /bin/cat) get no LD_PRELOAD, so no report of ours ends up
 * on their sockets.
 */
__attribute__((constructor)) static void
failalloc_init(void)
{
	const char *e = getenv("FAILALLOC_EVERY"),
		   *s = getenv("FAILALLOC_SEED");

	busy = 1;
	backtrace((void *[1]){0}, 1); /* libgcc_s loaded now, not mid-call */
	unsetenv("LD_PRELOAD");
	every = e ? strtoul(e, NULL, 10) : 0;
	rnd = s ? strtoull(s, NULL, 10) : (unsigned long long)getpid();
	if (rnd == 0)
		rnd = 1;
	flag = every > 0 ? getenv("FAILALLOC_FLAG") : NULL;
	if (flag != NULL)
		say("failalloc[%d]: one allocation in %lu fails while %s "
		    "exists (seed %llu)\n",
		    (int)getpid(), every, flag, rnd);
	busy = 0;
}

__attribute__((destructor)) static void
failalloc_report(void)
{
	busy = 1;
	if (flag != NULL)
		say("failalloc[%d]: %lu allocations failed, %lu spared\n",
		    (int)getpid(), nfailed, nspared);
}
