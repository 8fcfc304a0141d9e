/* The power-loss shim of the durability tests (tests/src/support/power_loss.rs), loaded with
 * LD_PRELOAD into a process that runs a registry on the data directory $RIVET_SHIM_DIR.
 *
 * It keeps what a disk would hold after a power cut. At every fsync or fdatasync of the
 * directory's rivet.db or rivet.db-wal (SQLite syncs with nothing else: os_unix.c calls
 * fdatasync, or fsync where that is missing, and never sync_file_range or msync on these
 * files), it first makes <file>.synced equal to the file's current content. A test that kills
 * the process then puts each <file>.synced in place of its file: writes never synced are gone,
 * as the page cache is on power loss, while a SIGKILL alone keeps them. Only contents are
 * modelled: a file synced once is taken to exist (SQLite syncs the directory as it creates the
 * WAL), one never synced is removed.
 *
 * The shadow is brought up to date in place, 64 KiB at a time, writing only what differs (a
 * whole copy per commit would be slow once the WAL has grown). A kill in the middle of that
 * leaves part of the new content beside the old, which is what a disk may hold after a cut
 * during an fsync that never returned; no write it carries had been acknowledged.
 *
 * Each sync appends the file's name as a line to <dir>/shim.log. While <dir>/shim.hold exists,
 * a sync of the WAL first appends "held" and waits for one byte on the FIFO <dir>/shim.fifo,
 * so a test can keep the storage's writer inside a commit while it lines up the next ones.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 65536

static const char *dir;
static int fifo = -1;

/* Any failure of the shim is fatal: a test must not pass on a shadow that silently fell behind. */
static void die(const char *what) {
    perror(what);
    abort();
}

__attribute__((constructor)) static void init(void) {
    dir = getenv("RIVET_SHIM_DIR");
    if (dir == NULL) {
        return;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/shim.fifo", dir);
    if (mkfifo(path, 0600) != 0 && errno != EEXIST) {
        die("power-loss shim: mkfifo");
    }
    /* Read and write: opening never blocks, and the FIFO always has a reader for the test. */
    fifo = open(path, O_RDWR | O_CLOEXEC);
    if (fifo < 0) {
        die("power-loss shim: open fifo");
    }
}

/* The name of the tracked file open as `fd` (its path goes into `path`), or NULL. */
static const char *tracked(int fd, char *path, size_t size) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t len = readlink(link, path, size - 1);
    if (len < 0) {
        return NULL;
    }
    path[len] = '\0';
    size_t dir_len = strlen(dir);
    if (strncmp(path, dir, dir_len) != 0 || path[dir_len] != '/') {
        return NULL;
    }
    const char *name = path + dir_len + 1;
    if (strcmp(name, "rivet.db") == 0 || strcmp(name, "rivet.db-wal") == 0) {
        return name;
    }
    return NULL;
}

static void log_line(const char *line) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/shim.log", dir);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        die("power-loss shim: open log");
    }
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%s\n", line);
    if (write(fd, buf, (size_t)n) != n) {
        die("power-loss shim: write log");
    }
    close(fd);
}

static ssize_t read_full(int fd, char *buf, size_t len, off_t at) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, at + (off_t)done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            break;
        }
        done += (size_t)n;
    }
    return (ssize_t)done;
}

/* Makes <path>.synced hold exactly what `fd` holds now. */
static void shadow(int fd, const char *path) {
    char *live = malloc(CHUNK), *kept = malloc(CHUNK);
    if (live == NULL || kept == NULL) {
        die("power-loss shim: malloc");
    }
    char target[PATH_MAX + 16];
    snprintf(target, sizeof target, "%s.synced", path);
    int out = open(target, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (out < 0) {
        die("power-loss shim: open shadow");
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        die("power-loss shim: fstat");
    }
    for (off_t at = 0; at < st.st_size; at += CHUNK) {
        ssize_t n = read_full(fd, live, CHUNK, at);
        ssize_t m = read_full(out, kept, CHUNK, at);
        if (n < 0 || m < 0) {
            die("power-loss shim: read");
        }
        if (n == m && memcmp(live, kept, (size_t)n) == 0) {
            continue;
        }
        if (pwrite(out, live, (size_t)n, at) != n) {
            die("power-loss shim: write shadow");
        }
    }
    if (ftruncate(out, st.st_size) != 0) {
        die("power-loss shim: truncate shadow");
    }
    close(out);
    free(live);
    free(kept);
}

static void before_sync(int fd) {
    if (dir == NULL) {
        return;
    }
    char path[PATH_MAX];
    const char *name = tracked(fd, path, sizeof path);
    if (name == NULL) {
        return;
    }
    if (strcmp(name, "rivet.db-wal") == 0) {
        char hold[PATH_MAX];
        snprintf(hold, sizeof hold, "%s/shim.hold", dir);
        if (access(hold, F_OK) == 0) {
            log_line("held");
            char token;
            ssize_t n;
            do {
                n = read(fifo, &token, 1);
            } while (n < 0 && errno == EINTR);
            if (n != 1) {
                die("power-loss shim: read fifo");
            }
        }
    }
    shadow(fd, path);
    log_line(name);
}

int fsync(int fd) {
    static int (*real)(int);
    if (real == NULL) {
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    }
    before_sync(fd);
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (real == NULL) {
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    }
    before_sync(fd);
    return real(fd);
}
