/*
 * test_dropins.c - include_dir and @include: drop-in files add services,
 * each with its own paths and FILE:LINE errors; SIGHUP rescans the
 * directory and keeps everything on a broken file; @include is found
 * beside the file that names it whatever the current directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

/* A file holding one service of the shipped echo, named by full path. */
static void
dropin(struct superd *d, const char *file, const char *name, int port)
{
	sd_write(d, file,
	    "# %s\n"
	    "services = (\n"
	    "  { name = \"%s\"; port = %d; address = \"127.0.0.1\";\n"
	    "    script = \"%s/services/echo.lua\"; }\n"
	    ");\n",
	    name, name, port, sd_repo());
}

/* superd.conf with include_dir "conf.d" and an echo "main" on port. */
static void
main_conf(struct superd *d, int port)
{
	char dir[256];

	snprintf(dir, sizeof(dir), "%s/conf.d", d->dir);
	assert_true(mkdir(dir, 0755) == 0 || access(dir, F_OK) == 0);
	sd_conf(d, "shutdown_timeout = 1;\ninclude_dir = \"conf.d\";",
	    "{ name = \"main\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"echo.lua\"; }",
	    port);
}

static void
assert_serves(int port)
{
	int fd = tcp_connect(port);

	if (!served(fd))
		fail_msg("port %d does not echo", port);
	close(fd);
}

/* port stops listening within a second. */
static void
assert_gone(int port)
{
	int fd, i;

	for (i = 0; i < 50 && (fd = tcp_connect(port)) >= 0; i++) {
		close(fd);
		usleep(20000);
	}
	if (i == 50)
		fail_msg("port %d still listens", port);
}

/* superd -t on d's file: its exit status, its output in out. */
static int
check(struct superd *d, char *out, size_t len)
{
	return sd_run(d, out, len, "-t", "-c", d->conf, NULL);
}

/*
 * What a detached superd sees: / as its current directory.  $SUPERD
 * becomes a full path first, and the repository is remembered.
 */
static void
enter_root(void)
{
	static char bin[PATH_MAX];

	if (bin[0] == '\0') {
		assert_non_null(realpath(sd_binary(), bin));
		setenv("SUPERD", bin, 1);
	}
	sd_repo();
	assert_int_equal(chdir("/"), 0);
}

static void
leave_root(void)
{
	assert_int_equal(chdir(sd_repo()), 0);
}

static void
test_two_dropins_each_add_a_service(void **state)
{
	struct superd *d = *state;
	int pm = free_port(), pa = free_port(), pb = free_port();

	main_conf(d, pm);
	dropin(d, "conf.d/10-a.conf", "a", pa);
	dropin(d, "conf.d/20-b.conf", "b", pb);
	sd_started(d, pm);
	assert_serves(pm);
	assert_serves(pa);
	assert_serves(pb);
	assert_int_equal(sd_stop(d), 0);
}

/* Not the main file's script_dir, nor its directory: the drop-in's. */
static void
test_relative_script_in_dropin_is_beside_it(void **state)
{
	struct superd *d = *state;
	int pm = free_port(), pw = free_port(), fd;

	main_conf(d, pm);
	sd_write(d, "word.lua", "function main(s) s:write('main\\n') end\n");
	sd_write(d, "conf.d/word.lua",
	    "function main(s) s:write('dropin\\n') end\n");
	sd_write(d, "conf.d/w.conf",
	    "services = ({ name = \"w\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"word.lua\"; });\n",
	    pw);
	sd_started(d, pm);
	fd = tcp_connect(pw);
	expect_all(fd, "dropin\n", 3000);
	close(fd);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_error_in_dropin_names_its_file_and_line(void **state)
{
	struct superd *d = *state;
	char out[2048], want[512];

	main_conf(d, free_port());
	dropin(d, "conf.d/10-a.conf", "a", free_port());
	sd_write(d, "conf.d/20-bad.conf",
	    "services = (\n"
	    "  { name = \"bad\"; port = 70000;\n"
	    "    script = \"x.lua\"; }\n"
	    ");\n");
	assert_int_equal(check(d, out, sizeof(out)), 1);
	snprintf(want, sizeof(want),
	    "%s/conf.d/20-bad.conf:2: \"port\" must be between", d->dir);
	assert_has(out, want);

	/* A drop-in holds services only. */
	sd_write(d, "conf.d/20-bad.conf",
	    "\nlog_level = \"debug\";\nservices = ();\n");
	assert_int_equal(check(d, out, sizeof(out)), 1);
	snprintf(want, sizeof(want),
	    "%s/conf.d/20-bad.conf:2: \"log_level\": a drop-in file sets only",
	    d->dir);
	assert_has(out, want);

	/* A syntax error, and a script that does not compile. */
	sd_write(
	    d, "conf.d/20-bad.conf", "services = (\n\n  { name = ; }\n);\n");
	assert_int_equal(check(d, out, sizeof(out)), 1);
	snprintf(want, sizeof(want), "%s/conf.d/20-bad.conf:3: syntax error",
	    d->dir);
	assert_has(out, want);
	sd_write(d, "conf.d/bad.lua", "function main(s)\n");
	sd_write(d, "conf.d/20-bad.conf",
	    "services = (\n { name = \"bad\"; port = %d;\n"
	    "   address = \"127.0.0.1\"; script = \"bad.lua\"; }\n);\n",
	    free_port());
	assert_int_equal(check(d, out, sizeof(out)), 1);
	snprintf(want, sizeof(want),
	    "(service \"bad\" at %s/conf.d/20-bad.conf:2)", d->dir);
	assert_has(out, want);
}

static void
test_duplicate_name_or_port_across_files_is_an_error(void **state)
{
	struct superd *d = *state;
	int pm = free_port(), pa = free_port();
	char out[2048], want[512];

	main_conf(d, pm);
	dropin(d, "conf.d/10-a.conf", "a", pa);
	dropin(d, "conf.d/20-b.conf", "main", free_port());
	assert_int_equal(check(d, out, sizeof(out)), 1);
	snprintf(want, sizeof(want),
	    "%s/conf.d/20-b.conf:3: duplicate service name \"main\"", d->dir);
	assert_has(out, want);

	dropin(d, "conf.d/20-b.conf", "b", pa);
	assert_int_equal(check(d, out, sizeof(out)), 1);
	snprintf(want, sizeof(want),
	    "%s/conf.d/20-b.conf:3: service \"b\": port %d/tcp on 127.0.0.1"
	    " is already used by service \"a\"",
	    d->dir, pa);
	assert_has(out, want);

	dropin(d, "conf.d/20-b.conf", "b", free_port());
	assert_int_equal(check(d, out, sizeof(out)), 0);
}

static void
test_sighup_adds_and_removes_dropins(void **state)
{
	struct superd *d = *state;
	int pm = free_port(), pa = free_port(), pb = free_port();
	char path[256];

	main_conf(d, pm);
	dropin(d, "conf.d/10-a.conf", "a", pa);
	sd_started(d, pm);
	assert_serves(pa);

	dropin(d, "conf.d/20-b.conf", "b", pb);
	assert_int_equal(sd_signal(d, SIGHUP), 0);
	assert_int_equal(sd_log_wait(d, "SIGHUP: configuration", 1, 5000), 1);
	assert_int_equal(sd_log_count(d, "added service \"b\""), 1);
	assert_serves(pb);
	assert_serves(pa);

	snprintf(path, sizeof(path), "%s/conf.d/10-a.conf", d->dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(sd_signal(d, SIGHUP), 0);
	assert_int_equal(sd_log_wait(d, "SIGHUP: configuration", 2, 5000), 2);
	assert_int_equal(sd_log_count(d, "removed service \"a\""), 1);
	assert_gone(pa);
	assert_serves(pb);
	assert_serves(pm);
	assert_int_equal(sd_stop(d), 0);
}

/* Half a directory never loads: the running configuration stays whole. */
static void
test_sighup_with_broken_dropin_keeps_everything(void **state)
{
	struct superd *d = *state;
	int pm = free_port(), pa = free_port(), pc = free_port();
	char line[1024], want[256];

	main_conf(d, pm);
	dropin(d, "conf.d/10-a.conf", "a", pa);
	sd_started(d, pm);

	dropin(d, "conf.d/05-c.conf", "c", pc);
	sd_write(d, "conf.d/20-bad.conf", "services = (\n  { name = ; }\n);\n");
	assert_int_equal(sd_signal(d, SIGHUP), 0);
	assert_int_equal(sd_log_wait_line(d, "keeping the running", line,
			     sizeof(line), 5000),
	    0);
	snprintf(want, sizeof(want), "%s/conf.d/20-bad.conf:2:", d->dir);
	assert_has(line, want);

	/* libconfig alone would end the process on this one. */
	sd_write(d, "conf.d/20-bad.conf", "@include \"..\"\nservices = ();\n");
	assert_int_equal(sd_signal(d, SIGHUP), 0);
	assert_int_equal(sd_log_wait(d, "keeping the running", 2, 5000), 2);
	sd_log_line(d, "Is a directory", line, sizeof(line));
	assert_has(line, "20-bad.conf:1: @include");
	assert_alive(d, "an @include of a directory");

	assert_serves(pm);
	assert_serves(pa);
	assert_int_equal(tcp_connect(pc), -1);
	assert_int_equal(sd_log_count(d, "SIGHUP: configuration"), 0);
	assert_int_equal(sd_stop(d), 0);
}

/* Backups, editors' files, dotfiles and directories are not drop-ins. */
static void
test_files_not_named_conf_are_ignored(void **state)
{
	struct superd *d = *state;
	int pm = free_port(), pa = free_port(), pn = free_port();
	char path[256], out[2048];

	main_conf(d, pm);
	dropin(d, "conf.d/a.conf", "a", pa);
	dropin(d, "conf.d/a.conf~", "n1", pn);
	dropin(d, "conf.d/.a.conf", "n2", pn);
	dropin(d, "conf.d/a.conf.dpkg-old", "n3", pn);
	dropin(d, "conf.d/README", "n4", pn);
	sd_write(d, "conf.d/.#a.conf", "not libconfig at all");
	snprintf(path, sizeof(path), "%s/conf.d/dir.conf", d->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(check(d, out, sizeof(out)), 0);
	sd_started(d, pm);
	assert_serves(pa);
	assert_int_equal(tcp_connect(pn), -1);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_missing_include_dir_is_an_error(void **state)
{
	struct superd *d = *state;
	char out[2048], want[512];

	sd_conf(d, "\ninclude_dir = \"nowhere.d\";", "%s", "");
	assert_int_equal(check(d, out, sizeof(out)), 1);
	snprintf(want, sizeof(want),
	    "%s:4: include_dir \"%s/nowhere.d\": No such file", d->conf,
	    d->dir);
	assert_has(out, want);
}

/* The included file is beside superd.conf; superd runs in /. */
static void
test_include_is_relative_to_its_file_from_any_directory(void **state)
{
	struct superd *d = *state;
	int port = free_port(), rc;
	char out[2048];

	sd_write(d, "svcs.inc",
	    "services = ({ name = \"e\"; port = %d; address = \"127.0.0.1\";"
	    " script = \"%s/services/echo.lua\"; });\n",
	    port, sd_repo());
	sd_write(d, "superd.conf",
	    "log = \"stderr\";\nshutdown_timeout = 1;\n@include "
	    "\"svcs.inc\"\n");
	enter_root();
	rc = check(d, out, sizeof(out));
	leave_root();
	if (rc != 0)
		fail_msg("superd -t in /: %s", out);
	enter_root();
	rc = sd_start(d, port);
	leave_root();
	assert_int_equal(rc, 0);
	assert_serves(port);
	assert_int_equal(sd_stop(d), 0);
}

static void
test_include_of_missing_file_or_directory_is_an_error(void **state)
{
	struct superd *d = *state;
	char out[2048], want[512];

	sd_write(d, "superd.conf", "services = ();\n\n@include \"nope.inc\"\n");
	assert_int_equal(check(d, out, sizeof(out)), 1);
	snprintf(want, sizeof(want),
	    "%s:3: @include \"%s/nope.inc\": No such file or directory",
	    d->conf, d->dir);
	assert_has(out, want);

	sd_write(d, "superd.conf", "services = ();\n@include \"/tmp\"\n");
	assert_int_equal(check(d, out, sizeof(out)), 1);
	snprintf(want, sizeof(want), "%s:2: @include \"/tmp\": Is a directory",
	    d->conf);
	assert_has(out, want);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, sd_setup, sd_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    TEST(test_two_dropins_each_add_a_service),
	    TEST(test_relative_script_in_dropin_is_beside_it),
	    TEST(test_error_in_dropin_names_its_file_and_line),
	    TEST(test_duplicate_name_or_port_across_files_is_an_error),
	    TEST(test_sighup_adds_and_removes_dropins),
	    TEST(test_sighup_with_broken_dropin_keeps_everything),
	    TEST(test_files_not_named_conf_are_ignored),
	    TEST(test_missing_include_dir_is_an_error),
	    TEST(test_include_is_relative_to_its_file_from_any_directory),
	    TEST(test_include_of_missing_file_or_directory_is_an_error),
	};
	return cmocka_run_group_tests_name("dropins", tests, NULL, NULL);
}
