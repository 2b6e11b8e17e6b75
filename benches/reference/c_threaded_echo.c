/* The reference soc_server is measured against by `cargo bench` (benches/echo.rs), kept in the
 * repository so that the comparison can be rerun from a clone with only Rust and a C compiler.
 *
 * c_threaded_echo: minimal blocking echo server, one detached pthread per
 * connection, 64 KiB read buffer, write-all loop, close on EOF.
 * Listens on 127.0.0.1:<port>.   Build: gcc -O2 -pthread -o c_threaded_echo c_threaded_echo.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE (64 * 1024)

static void *serve(void *arg) {
    int fd = (int)(long)arg;
    char *buf = malloc(BUF_SIZE);
    if (buf) {
        for (;;) {
            ssize_t n = read(fd, buf, BUF_SIZE);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;                     /* EOF or error */
            for (ssize_t off = 0; off < n;) {      /* write-all */
                ssize_t w = write(fd, buf + off, (size_t)(n - off));
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) goto done;
                off += w;
            }
        }
    }
done:
    free(buf);
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;                               /* allow many connections */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, SOMAXCONN) < 0) {
        perror("bind/listen");
        return 1;
    }

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);   /* buffer is on the heap */

    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            perror("accept");
            if (errno == EMFILE || errno == ENFILE) { usleep(10000); continue; }
            return 1;
        }
        pthread_t t;
        if (pthread_create(&t, &attr, serve, (void *)(long)fd) != 0) close(fd);
    }
}
