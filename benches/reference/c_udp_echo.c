/* The UDP reference soc_server -u is measured against by `cargo bench` (benches/echo.rs), kept in
 * the repository so that the comparison reruns from a clone with only Rust and a C compiler.
 *
 * c_udp_echo: the plainest UDP echo there is. One thread, one socket on 127.0.0.1:<port>,
 * blocking recvfrom() into a 64 KiB buffer (the largest datagram fits), sendto() back to the
 * sender. Prints nothing.   Build: cc -O2 -o c_udp_echo c_udp_echo.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PORT\n", argv[0]);
        return 2;
    }
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        perror("c_udp_echo");
        return 1;
    }
    static char datagram[65536];
    for (;;) {
        struct sockaddr_storage from;
        socklen_t from_len = sizeof from;
        ssize_t n = recvfrom(fd, datagram, sizeof datagram, 0, (struct sockaddr *)&from, &from_len);
        if (n < 0) {
            if (errno != EINTR)
                usleep(1000); /* a persistent error must not make it spin */
            continue;
        }
        /* A datagram that cannot go back is dropped, as UDP allows. */
        sendto(fd, datagram, (size_t)n, 0, (struct sockaddr *)&from, from_len);
    }
}
