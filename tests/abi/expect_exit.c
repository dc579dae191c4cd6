/*
 * Runs a host program and checks how it ended: exactly the expected exit
 * status (a signal or any other status fails), and its combined output
 * contains the expected text, so "exits 1" cannot pass by crashing, by
 * failing for a different reason, or by failing silently.
 *
 * usage: expect_exit STATUS TEXT PROGRAM [ARGS...]
 *        TEXT may be "" to skip the output check.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *why, const char *detail)
{
    fprintf(stdout, "FAIL: %s%s%s\n", why, detail ? ": " : "", detail ? detail : "");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return fail("usage: expect_exit STATUS TEXT PROGRAM [ARGS...]", NULL);
    char *end;
    long expected = strtol(argv[1], &end, 10);
    if (*end || expected < 0 || expected > 255)
        return fail("STATUS must be 0..255", argv[1]);
    const char *needle = argv[2];

    int pipe_fds[2];
    if (pipe(pipe_fds) != 0)
        return fail("pipe", strerror(errno));
    pid_t child = fork();
    if (child < 0)
        return fail("fork", strerror(errno));
    if (child == 0) {
        dup2(pipe_fds[1], STDOUT_FILENO);
        dup2(pipe_fds[1], STDERR_FILENO);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        execv(argv[3], &argv[3]);
        fprintf(stderr, "exec %s: %s\n", argv[3], strerror(errno));
        _exit(127);
    }
    close(pipe_fds[1]);

    size_t size = 0;
    size_t room = 1 << 16;
    char *output = malloc(room);
    if (!output)
        return fail("out of memory", NULL);
    for (;;) {
        if (size + 1 == room) {
            char *grown = realloc(output, room * 2);
            if (!grown)
                return fail("out of memory", NULL);
            output = grown;
            room *= 2;
        }
        ssize_t got = read(pipe_fds[0], output + size, room - size - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        size += (size_t)got;
    }
    output[size] = '\0';
    close(pipe_fds[0]);

    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
        if (errno != EINTR)
            return fail("waitpid", strerror(errno));
    }

    printf("$");
    for (int i = 3; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\n%s", output);
    if (size && output[size - 1] != '\n')
        printf("\n");

    int ok = 1;
    if (WIFSIGNALED(status)) {
        printf("FAIL: killed by signal %d (%s), expected exit status %ld\n", WTERMSIG(status),
               strsignal(WTERMSIG(status)), expected);
        ok = 0;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != expected) {
        printf("FAIL: exit status %d, expected %ld\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1, expected);
        ok = 0;
    } else {
        printf("exit status %ld as expected\n", expected);
    }
    if (needle[0] && !strstr(output, needle)) {
        printf("FAIL: output does not contain \"%s\"\n", needle);
        ok = 0;
    }
    free(output);
    return ok ? 0 : 1;
}
